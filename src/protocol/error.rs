//! QMP errors: a class and a message, as qemu-ga sends them.

use core::fmt::Write as _;

/// The `class` member of an error response. qemu-ga sends only the first two today;
/// libvirt still recognises the others from older agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    GenericError,
    CommandNotFound,
}

impl ErrorClass {
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::GenericError => "GenericError",
            ErrorClass::CommandNotFound => "CommandNotFound",
        }
    }
}

/// Longest error message kept; longer ones are cut (at a character boundary).
pub const DESC_MAX: usize = 512;

/// An error response's content. Built with [`qmp_error!`](crate::qmp_error) like `format!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QmpError {
    pub class: ErrorClass,
    pub desc: heapless::String<DESC_MAX>,
}

impl QmpError {
    pub fn new(class: ErrorClass, args: core::fmt::Arguments<'_>) -> QmpError {
        let mut desc = Truncating(heapless::String::new());
        let _ = desc.write_fmt(args);
        QmpError {
            class,
            desc: desc.0,
        }
    }

    pub fn generic(args: core::fmt::Arguments<'_>) -> QmpError {
        QmpError::new(ErrorClass::GenericError, args)
    }
}

/// `qmp_error!("failed to open {}", path)`: a GenericError with a formatted message.
#[macro_export]
macro_rules! qmp_error {
    ($($arg:tt)*) => {
        $crate::protocol::QmpError::generic(format_args!($($arg)*))
    };
}

/// Keeps as much as fits, cutting at a character boundary.
struct Truncating(heapless::String<DESC_MAX>);

impl core::fmt::Write for Truncating {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.chars() {
            if self.0.push(c).is_err() {
                return Err(core::fmt::Error);
            }
        }
        Ok(())
    }
}
