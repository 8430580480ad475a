//! Command arguments checked against the command's QAPI schema, with the QAPI input
//! visitor's error texts (`Parameter 'x' is missing`, `Invalid parameter type for 'x',
//! expected: integer`, ...). A handler only ever sees arguments that passed this check.

use core::fmt::Write as _;

use super::error::QmpError;
use super::json::{Kind, Value};
use crate::qmp_error;

/// A QAPI type as it appears in command arguments.
#[derive(Debug)]
pub enum Type {
    /// `int`: a JSON integer within i64.
    Int,
    /// `uint64`: a JSON integer within u64.
    Uint64,
    Str,
    Bool,
    /// An enum: one of these strings.
    Enum(&'static [&'static str]),
    List(&'static Type),
    Struct(&'static [Member]),
    /// An alternate of an integer or boolean branch and an enum branch
    /// (`GuestFileWhence`, `GuestExecCaptureOutput`): named in type errors.
    Alternate {
        name: &'static str,
        scalar: Scalar,
        values: &'static [&'static str],
    },
}

/// The non-enum branch of an [`Type::Alternate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    Int,
    Bool,
}

/// One member of a struct or of a command's arguments.
#[derive(Debug)]
pub struct Member {
    pub name: &'static str,
    pub ty: Type,
    pub optional: bool,
}

/// `required("id", Type::Int)`
pub const fn required(name: &'static str, ty: Type) -> Member {
    Member {
        name,
        ty,
        optional: false,
    }
}

/// `optional("mode", Type::Str)`
pub const fn optional(name: &'static str, ty: Type) -> Member {
    Member {
        name,
        ty,
        optional: true,
    }
}

/// The dotted path of the member being checked (`vcpus[0].online`).
type Path = heapless::String<256>;

/// Checks a command's `arguments` object (absent means `{}`).
pub fn check_arguments(args: Option<Value<'_>>, members: &[Member]) -> Result<(), QmpError> {
    let mut path = Path::new();
    match args {
        Some(object) => check_struct(object, members, &mut path),
        None => match members.iter().find(|m| !m.optional) {
            Some(m) => Err(qmp_error!("Parameter '{}' is missing", m.name)),
            None => Ok(()),
        },
    }
}

/// Runs `f` with `segment` appended to the path, then restores it.
fn nested<T>(
    path: &mut Path,
    segment: core::fmt::Arguments<'_>,
    f: impl FnOnce(&mut Path) -> T,
) -> T {
    let len = path.len();
    let _ = path.write_fmt(segment);
    let result = f(path);
    path.truncate(len);
    result
}

fn check_struct(object: Value<'_>, members: &[Member], path: &mut Path) -> Result<(), QmpError> {
    if object.kind() != Kind::Object {
        return Err(type_error(path, "object"));
    }
    let dot = if path.is_empty() { "" } else { "." };
    // Members in schema order, as the QAPI visitor walks them: the first missing or
    // mistyped member is the one reported.
    for member in members {
        match object.get(member.name) {
            Some(value) => nested(path, format_args!("{dot}{}", member.name), |path| {
                check_value(value, &member.ty, path)
            })?,
            None if member.optional => {}
            None => {
                return nested(path, format_args!("{dot}{}", member.name), |path| {
                    Err(qmp_error!("Parameter '{path}' is missing"))
                });
            }
        }
    }
    for (name, _) in object.members() {
        if !members.iter().any(|m| m.name == name) {
            return nested(path, format_args!("{dot}{name}"), |path| {
                Err(qmp_error!("Parameter '{path}' is unexpected"))
            });
        }
    }
    Ok(())
}

fn type_error(path: &Path, expected: &str) -> QmpError {
    qmp_error!("Invalid parameter type for '{path}', expected: {expected}")
}

fn check_value(value: Value<'_>, ty: &Type, path: &mut Path) -> Result<(), QmpError> {
    match ty {
        Type::Int => match value.as_i64() {
            Some(_) => Ok(()),
            None => Err(type_error(path, "integer")),
        },
        Type::Uint64 => match value.as_u64() {
            Some(_) => Ok(()),
            None => Err(qmp_error!("Parameter '{path}' expects uint64")),
        },
        Type::Str => match value.kind() {
            Kind::String => Ok(()),
            _ => Err(type_error(path, "string")),
        },
        Type::Bool => match value.kind() {
            Kind::Bool => Ok(()),
            _ => Err(type_error(path, "boolean")),
        },
        Type::Enum(values) => match value.as_str() {
            Some(s) if values.contains(&s) => Ok(()),
            Some(s) => Err(qmp_error!("Parameter '{path}' does not accept value '{s}'")),
            None => Err(type_error(path, "string")),
        },
        Type::List(element) => {
            if value.kind() != Kind::Array {
                return Err(type_error(path, "array"));
            }
            for (i, item) in value.elements().enumerate() {
                nested(path, format_args!("[{i}]"), |path| {
                    check_value(item, element, path)
                })?;
            }
            Ok(())
        }
        Type::Struct(members) => check_struct(value, members, path),
        Type::Alternate {
            name,
            scalar,
            values,
        } => match (value.kind(), scalar) {
            (Kind::String, _) => check_value(value, &Type::Enum(values), path),
            (Kind::Number, Scalar::Int) if value.as_i64().is_some() => Ok(()),
            (Kind::Bool, Scalar::Bool) => Ok(()),
            _ => Err(type_error(path, name)),
        },
    }
}

/// Typed access to arguments that passed [`check_arguments`]; a member of the wrong type
/// cannot occur, so accessors return plain values (absent optionals as `None`).
#[derive(Clone, Copy)]
pub struct Args<'d>(pub Option<Value<'d>>);

impl<'d> Args<'d> {
    pub fn get(&self, name: &str) -> Option<Value<'d>> {
        self.0.and_then(|object| object.get(name))
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| v.as_i64())
    }
    pub fn uint(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|v| v.as_u64())
    }
    pub fn str(&self, name: &str) -> Option<&'d str> {
        self.get(name).and_then(|v| v.as_str())
    }
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(|v| v.as_bool())
    }
}
