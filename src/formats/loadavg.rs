//! `/proc/loadavg` (proc(5)): `0.15 0.10 0.05 1/234 5678`, the 1, 5 and 15 minute load
//! averages, then runnable/total tasks and the last pid.

/// The first three fields, as the kernel's text (the kernel prints them with two decimals;
/// the caller decides what it accepts). Fewer than three fields, or not UTF-8: `None`.
pub fn averages(text: &[u8]) -> Option<[&str; 3]> {
    let mut fields = core::str::from_utf8(text).ok()?.split_ascii_whitespace();
    Some([fields.next()?, fields.next()?, fields.next()?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_averages() {
        let text = std::fs::read("tests/fixtures/proc/loadavg").unwrap();
        assert_eq!(averages(&text), Some(["0.52", "0.58", "0.59"]));
        assert_eq!(averages(b"0.00 0.01"), None);
        assert_eq!(averages(b"x y z"), Some(["x", "y", "z"]));
        assert_eq!(averages(b"\xff 1 2"), None);
        assert_eq!(averages(b""), None);
    }
}
