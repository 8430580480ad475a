//! The kernel command line (`/proc/cmdline`), split into parameters as the kernel itself
//! splits it (`next_arg` in the kernel's `lib/cmdline.c`):
//!
//! - parameters are separated by whitespace outside double quotes;
//! - a parameter is `name` or `name=value`, split at its first `=` (one at the very start
//!   does not count: the kernel treats `=x` as a name);
//! - a `"` anywhere toggles quoting, so `a="b c"` is one parameter; the quotes stay in the
//!   text except these, which are dropped: a value's leading quote and the parameter's
//!   last character when it is a quote, and a parameter's own leading quote with its last
//!   quote (`"a=b c"` is `a`, `b c`);
//! - `--` ends the kernel's parameters (what follows is for init); [`params`] stops there.
//!
//! The kernel also treats `-` and `_` in parameter names as the same character:
//! [`same_name`] compares that way.

/// One parameter: its name and, after the first `=`, its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'t> {
    pub name: &'t [u8],
    pub value: Option<&'t [u8]>,
}

/// The kernel's `isspace` on the command line (ASCII whitespace, and vertical tab).
fn space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The parameters of `text`, in order, up to a `--` parameter.
pub fn params(text: &[u8]) -> impl Iterator<Item = Param<'_>> {
    let mut rest = trim_start(text);
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (param, after) = next(rest);
        rest = trim_start(after);
        (param.name != b"--" || param.value.is_some()).then_some(param)
    })
    .fuse()
}

fn trim_start(text: &[u8]) -> &[u8] {
    let skip = text.iter().take_while(|&&b| space(b)).count();
    &text[skip..]
}

/// The first parameter of `args` (which starts with no whitespace) and what follows it.
fn next(mut args: &[u8]) -> (Param<'_>, &[u8]) {
    let quoted = args.first() == Some(&b'"');
    if quoted {
        args = &args[1..];
    }
    let mut in_quote = quoted;
    let mut equals = 0;
    let mut end = args.len();
    for (i, &b) in args.iter().enumerate() {
        if space(b) && !in_quote {
            end = i;
            break;
        }
        if equals == 0 && b == b'=' {
            equals = i;
        }
        if b == b'"' {
            in_quote = !in_quote;
        }
    }
    let rest = args.get(end + 1..).unwrap_or_default();
    let mut arg = &args[..end];
    // A parameter's last quote goes when the parameter began with one or its value does.
    let value_quoted = equals != 0 && arg.get(equals + 1) == Some(&b'"');
    if (quoted || value_quoted)
        && arg.len() > equals + usize::from(value_quoted)
        && let Some(stripped) = arg.strip_suffix(b"\"")
    {
        arg = stripped;
    }
    let param = if equals == 0 {
        Param {
            name: arg,
            value: None,
        }
    } else {
        let value = &arg[equals + 1..];
        Param {
            name: &arg[..equals],
            value: Some(value.strip_prefix(b"\"").unwrap_or(value)),
        }
    };
    (param, rest)
}

/// Parameter names as the kernel compares them: `-` and `_` are the same.
pub fn same_name(a: &[u8], b: &[u8]) -> bool {
    let norm = |c: u8| if c == b'-' { b'_' } else { c };
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| norm(x) == norm(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<(String, Option<String>)> {
        params(text.as_bytes())
            .map(|p| {
                (
                    String::from_utf8_lossy(p.name).into_owned(),
                    p.value.map(|v| String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect()
    }

    fn p(name: &str, value: Option<&str>) -> (String, Option<String>) {
        (name.to_owned(), value.map(str::to_owned))
    }

    #[test]
    fn words_and_values() {
        assert_eq!(
            all("console=ttyS0 panic=-1  quiet\n"),
            [
                p("console", Some("ttyS0")),
                p("panic", Some("-1")),
                p("quiet", None)
            ]
        );
        assert_eq!(all(""), []);
        assert_eq!(all(" \n"), []);
    }

    #[test]
    fn first_equals_splits() {
        assert_eq!(all("a=b=c"), [p("a", Some("b=c"))]);
        assert_eq!(all("a="), [p("a", Some(""))]);
        // An `=` at the very start is not a split (the kernel's `equals` stays 0).
        assert_eq!(all("=x"), [p("=x", None)]);
        assert_eq!(all("==x"), [p("=", Some("x"))]);
    }

    #[test]
    fn quotes_as_the_kernel_reads_them() {
        assert_eq!(
            all(r#"tinyqga.modules="virtio_pci virtio_blk" x"#),
            [
                p("tinyqga.modules", Some("virtio_pci virtio_blk")),
                p("x", None)
            ]
        );
        assert_eq!(all(r#""a=b c" d"#), [p("a", Some("b c")), p("d", None)]);
        assert_eq!(all(r#""quoted word""#), [p("quoted word", None)]);
        // Quotes inside stay; the value's leading one goes.
        assert_eq!(all(r#"a=x"y z"w"#), [p("a", Some(r#"x"y z"w"#))]);
        assert_eq!(all(r#"a="x"y"#), [p("a", Some(r#"x"y"#))]);
        // An unterminated quote runs to the end.
        assert_eq!(all(r#"a="b c"#), [p("a", Some("b c"))]);
        assert_eq!(all(r#"a=""#), [p("a", Some(""))]);
        assert_eq!(all(r#"""#), [p("", None)]);
    }

    #[test]
    fn double_dash_ends_the_kernel_part() {
        assert_eq!(all("a -- b=c"), [p("a", None)]);
        assert_eq!(all("--=x y"), [p("--", Some("x")), p("y", None)]);
    }

    #[test]
    fn dashes_and_underscores_match() {
        assert!(same_name(b"tinyqga.retry-path", b"tinyqga.retry_path"));
        assert!(!same_name(b"a-b", b"a.b"));
        assert!(!same_name(b"ab", b"abc"));
    }
}
