//! The request envelope: `{"execute": NAME, "arguments": {...}, "id": ANY}`, checked as
//! QEMU's QMP dispatcher checks it, with its messages.

use super::error::QmpError;
use super::json::{Kind, Value};
use crate::qmp_error;
use crate::text::Lossy;

/// A request that passed the envelope checks.
#[derive(Clone, Copy)]
pub struct Request<'d> {
    pub command: &'d str,
    /// The `arguments` object, if present.
    pub arguments: Option<Value<'d>>,
}

/// The top-level member whose value the parser keeps as text (see [`super::json::parse`]).
pub const ID: &str = "id";

/// The request's `id` as sent (JSON text), echoed into whatever response it gets (errors
/// included).
pub fn id_of<'d>(root: Value<'d>) -> Option<&'d [u8]> {
    match root.kind() {
        Kind::Object => root.get(ID)?.verbatim(),
        _ => None,
    }
}

/// Checks the envelope. Members are checked in the order they were sent.
pub fn envelope<'d>(root: Value<'d>) -> Result<Request<'d>, QmpError> {
    if root.kind() != Kind::Object {
        return Err(qmp_error!("QMP input must be a JSON object"));
    }
    let mut command = None;
    let mut arguments = None;
    for (name, value) in root.members() {
        match name {
            b"execute" => match value.as_str() {
                Some(s) => command = Some(s),
                None => return Err(qmp_error!("QMP input member 'execute' must be a string")),
            },
            b"arguments" => match value.kind() {
                Kind::Object => arguments = Some(value),
                _ => return Err(qmp_error!("QMP input member 'arguments' must be an object")),
            },
            b"id" => {}
            // Includes "exec-oob": the agent has no out-of-band execution.
            other => {
                let other = Lossy(other);
                return Err(qmp_error!("QMP input member '{other}' is unexpected"));
            }
        }
    }
    match command {
        Some(command) => Ok(Request { command, arguments }),
        None => Err(qmp_error!("QMP input lacks member 'execute'")),
    }
}
