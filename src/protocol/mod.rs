//! The wire protocol, free of any I/O: framing, the JSON dialect, the request envelope,
//! argument checking, errors and the response writer. The agent feeds it bytes and gives it
//! an [`Output`] to write to; tests and the fuzzer do the same with buffers.

#![forbid(unsafe_code)]

pub mod base64;
pub mod error;
pub mod framer;
pub mod json;
pub mod request;
pub mod schema;
pub mod writer;

pub use error::{ErrorClass, QmpError};
pub use framer::{Event, FrameError, Framer};
pub use json::{Document, Kind, Node, ParseError, Value};
pub use request::Request;
pub use schema::{Arguments, FromValue, List, Member, Type};
pub use writer::{JsonWriter, Output};
