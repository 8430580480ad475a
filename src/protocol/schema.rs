//! Command arguments checked against the command's QAPI schema, with the QAPI input
//! visitor's error texts (`Parameter 'x' is missing`, `Invalid parameter type for 'x',
//! expected: integer`, ...). A handler only ever sees arguments that passed this check.

use core::fmt::Write as _;

use super::error::QmpError;
use super::json::{Kind, Value};
use crate::qmp_error;
use crate::text::Lossy;

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
    /// (`GuestFileWhence`, `GuestExecCaptureOutput`). As in QAPI's generated visitors, the
    /// JSON kind picks the branch, whose own check then applies (a number that is not an
    /// int64 is "expected: integer"); a kind no branch takes names the alternate.
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
        if !members.iter().any(|m| m.name.as_bytes() == name) {
            let name = Lossy(name);
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
            (Kind::Number, Scalar::Int) => check_value(value, &Type::Int, path),
            (Kind::Bool, Scalar::Bool) => Ok(()),
            _ => Err(type_error(path, name)),
        },
    }
}

/// A command's arguments as its handler reads them: a struct declared once with
/// [`arguments!`](crate::arguments), which gives both the schema that
/// [`check_arguments`] enforces and the typed fields the handler uses. A member the
/// handler misspells does not compile; a member the host misspells is refused by the check.
pub trait Arguments<'d>: Sized {
    /// The `arguments` members, in schema order.
    const MEMBERS: &'static [Member];
    /// Reads arguments that passed [`check_arguments`] against [`Arguments::MEMBERS`].
    fn read(arguments: Option<Value<'d>>) -> Self;
}

/// Commands without arguments.
impl Arguments<'_> for () {
    const MEMBERS: &'static [Member] = &[];
    fn read(_: Option<Value<'_>>) -> Self {}
}

/// A Rust type that stands for a QAPI type in an [`arguments!`](crate::arguments) struct.
pub trait FromValue<'d>: Sized {
    /// The QAPI type checked before the value is read.
    const TYPE: Type;
    /// `Option<T>` members are optional.
    const OPTIONAL: bool = false;
    /// Reads a value that passed the check for [`FromValue::TYPE`] (`None`: the member is
    /// absent, which only an optional member may be).
    fn from_value(value: Option<Value<'d>>) -> Self;
}

impl<'d> FromValue<'d> for i64 {
    const TYPE: Type = Type::Int;
    fn from_value(value: Option<Value<'d>>) -> Self {
        value.and_then(|v| v.as_i64()).unwrap_or_default()
    }
}

impl<'d> FromValue<'d> for u64 {
    const TYPE: Type = Type::Uint64;
    fn from_value(value: Option<Value<'d>>) -> Self {
        value.and_then(|v| v.as_u64()).unwrap_or_default()
    }
}

impl<'d> FromValue<'d> for bool {
    const TYPE: Type = Type::Bool;
    fn from_value(value: Option<Value<'d>>) -> Self {
        value.and_then(|v| v.as_bool()).unwrap_or_default()
    }
}

impl<'d> FromValue<'d> for &'d str {
    const TYPE: Type = Type::Str;
    fn from_value(value: Option<Value<'d>>) -> Self {
        value.and_then(|v| v.as_str()).unwrap_or_default()
    }
}

impl<'d, T: FromValue<'d>> FromValue<'d> for Option<T> {
    const TYPE: Type = T::TYPE;
    const OPTIONAL: bool = true;
    fn from_value(value: Option<Value<'d>>) -> Self {
        value.map(|v| T::from_value(Some(v)))
    }
}

/// A QAPI list (`['str']`, `['GuestLogicalProcessor']`): read element by element, straight
/// from the request, without copying.
#[derive(Clone, Copy)]
pub struct List<'d, T> {
    array: Option<Value<'d>>,
    element: core::marker::PhantomData<T>,
}

impl<'d, T: FromValue<'d>> List<'d, T> {
    pub fn len(&self) -> usize {
        self.array.map_or(0, |a| a.len())
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn iter(&self) -> impl Iterator<Item = T> + 'd {
        self.array
            .into_iter()
            .flat_map(|a| a.elements())
            .map(|v| T::from_value(Some(v)))
    }
}

impl<'d, T: FromValue<'d>> FromValue<'d> for List<'d, T> {
    const TYPE: Type = Type::List(&T::TYPE);
    fn from_value(value: Option<Value<'d>>) -> Self {
        List {
            array: value,
            element: core::marker::PhantomData,
        }
    }
}

/// The schema member for field type `T` named `name` (used by [`arguments!`](crate::arguments)).
pub const fn member<'d, T: FromValue<'d>>(name: &'static str) -> Member {
    Member {
        name,
        ty: T::TYPE,
        optional: T::OPTIONAL,
    }
}

/// Declares a command's arguments (or a struct inside them) once: the Rust struct the
/// handler reads, and the QAPI members that are checked before it runs.
///
/// ```ignore
/// arguments! {
///     /// `guest-file-read`
///     pub struct FileRead {
///         "handle" => handle: i64,
///         "count" => count: Option<i64>,
///     }
/// }
/// ```
///
/// Members are listed in schema order (the first missing or mistyped one is reported);
/// `Option<T>` makes a member optional. A struct that borrows strings from the request
/// takes the lifetime `'d`.
#[macro_export]
macro_rules! arguments {
    ($(#[$doc:meta])* $vis:vis struct $name:ident<$d:lifetime> {
        $($wire:literal => $field:ident : $ty:ty),* $(,)?
    }) => {
        $(#[$doc])*
        $vis struct $name<$d> { $(pub $field: $ty),* }
        impl<$d> $crate::protocol::Arguments<$d> for $name<$d> {
            const MEMBERS: &'static [$crate::protocol::Member] =
                &[$($crate::protocol::schema::member::<$ty>($wire)),*];
            fn read(arguments: Option<$crate::protocol::Value<$d>>) -> Self {
                $name { $($field: <$ty as $crate::protocol::FromValue<$d>>::from_value(
                    arguments.and_then(|a| a.get($wire)))),* }
            }
        }
        impl<$d> $crate::protocol::FromValue<$d> for $name<$d> {
            const TYPE: $crate::protocol::Type = $crate::protocol::Type::Struct(
                <Self as $crate::protocol::Arguments<$d>>::MEMBERS);
            fn from_value(value: Option<$crate::protocol::Value<$d>>) -> Self {
                <Self as $crate::protocol::Arguments<$d>>::read(value)
            }
        }
    };
    ($(#[$doc:meta])* $vis:vis struct $name:ident {
        $($wire:literal => $field:ident : $ty:ty),* $(,)?
    }) => {
        $(#[$doc])*
        $vis struct $name { $(pub $field: $ty),* }
        impl<'d> $crate::protocol::Arguments<'d> for $name {
            const MEMBERS: &'static [$crate::protocol::Member] =
                &[$($crate::protocol::schema::member::<$ty>($wire)),*];
            fn read(arguments: Option<$crate::protocol::Value<'d>>) -> Self {
                $name { $($field: <$ty as $crate::protocol::FromValue<'d>>::from_value(
                    arguments.and_then(|a| a.get($wire)))),* }
            }
        }
        impl<'d> $crate::protocol::FromValue<'d> for $name {
            const TYPE: $crate::protocol::Type = $crate::protocol::Type::Struct(
                <Self as $crate::protocol::Arguments<'d>>::MEMBERS);
            fn from_value(value: Option<$crate::protocol::Value<'d>>) -> Self {
                <Self as $crate::protocol::Arguments<'d>>::read(value)
            }
        }
    };
}

/// Declares a QAPI enum once: the Rust enum and the strings the check accepts.
///
/// ```ignore
/// qapi_enum! {
///     pub enum ShutdownMode { Halt = "halt", Powerdown = "powerdown", Reboot = "reboot" }
/// }
/// ```
#[macro_export]
macro_rules! qapi_enum {
    ($(#[$doc:meta])* $vis:vis enum $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name { $($variant),+ }
        impl $name {
            /// The values, in schema order.
            pub const VALUES: &'static [&'static str] = &[$($wire),+];
            const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The enum value named `text`.
            pub fn parse(text: &str) -> Option<$name> {
                Self::VALUES.iter().position(|v| *v == text).and_then(|i| Self::ALL.get(i).copied())
            }
            /// The wire name.
            pub fn name(self) -> &'static str {
                Self::ALL.iter().position(|v| *v == self).and_then(|i| Self::VALUES.get(i)).copied().unwrap_or_default()
            }
        }
        impl<'d> $crate::protocol::FromValue<'d> for $name {
            const TYPE: $crate::protocol::Type = $crate::protocol::Type::Enum(Self::VALUES);
            fn from_value(value: Option<$crate::protocol::Value<'d>>) -> Self {
                value.and_then(|v| v.as_str()).and_then(Self::parse).unwrap_or(Self::ALL[0])
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::json::{Node, parse};

    crate::qapi_enum! {
        enum Colour { Red = "red", Green = "green" }
    }

    crate::arguments! {
        struct Pair<'d> {
            "left-name" => left: &'d str,
            "n" => n: Option<i64>,
        }
    }

    crate::arguments! {
        struct Example<'d> {
            "id" => id: i64,
            "flag" => flag: Option<bool>,
            "colour" => colour: Colour,
            "names" => names: List<'d, &'d str>,
            "pairs" => pairs: Option<List<'d, Pair<'d>>>,
        }
    }

    fn check_and_read<T>(text: &str, f: impl FnOnce(Result<Example<'_>, QmpError>) -> T) -> T {
        let mut buf = text.as_bytes().to_vec();
        let mut arena = vec![Node::EMPTY; 128];
        let document = parse(&mut buf, &mut arena, 16, None).unwrap();
        let args = Some(document.root());
        let result = check_arguments(args, Example::MEMBERS).map(|()| Example::read(args));
        f(result)
    }

    #[test]
    fn one_declaration_gives_schema_and_fields() {
        check_and_read(
            r#"{"id": 7, "colour": "green", "names": ["a", "b"], "pairs": [{"left-name": "x"}, {"left-name": "y", "n": -1}]}"#,
            |args| {
                let args = args.unwrap();
                assert_eq!(args.id, 7);
                assert_eq!(args.flag, None);
                assert_eq!(args.colour, Colour::Green);
                assert_eq!(args.colour.name(), "green");
                assert_eq!(args.names.iter().collect::<Vec<_>>(), ["a", "b"]);
                let pairs: Vec<_> = args.pairs.unwrap().iter().map(|p| (p.left, p.n)).collect();
                assert_eq!(pairs, [("x", None), ("y", Some(-1))]);
            },
        );
    }

    #[test]
    fn the_declaration_is_what_is_checked() {
        let cases = [
            (
                r#"{"colour": "red", "names": []}"#,
                "Parameter 'id' is missing",
            ),
            (
                r#"{"id": 1, "colour": "blue", "names": []}"#,
                "Parameter 'colour' does not accept value 'blue'",
            ),
            (
                r#"{"id": 1, "colour": "red", "names": [1]}"#,
                "Invalid parameter type for 'names[0]', expected: string",
            ),
            (
                r#"{"id": 1, "colour": "red", "names": [], "pairs": [{"n": 1}]}"#,
                "Parameter 'pairs[0].left-name' is missing",
            ),
            (
                r#"{"id": 1, "colour": "red", "names": [], "flag": 1}"#,
                "Invalid parameter type for 'flag', expected: boolean",
            ),
            (
                r#"{"id": 1, "colour": "red", "names": [], "extra": 1}"#,
                "Parameter 'extra' is unexpected",
            ),
        ];
        for (text, desc) in cases {
            check_and_read(text, |result| {
                assert_eq!(
                    result.err().map(|e| e.desc.to_string()).as_deref(),
                    Some(desc),
                    "{text}"
                );
            });
        }
    }
}
