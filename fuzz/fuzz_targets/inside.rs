//! Shared by the targets of `tinyqga::formats`: the check that a parser's answer borrows
//! from the bytes it was given (a slice from anywhere else would be a bug that bounds
//! checks cannot see).

/// Asserts `part` lies within `whole` (an empty `part` anywhere in or at the end of it).
#[allow(dead_code)]
pub fn assert_inside(whole: &[u8], part: &[u8]) {
    let (start, end) = (
        whole.as_ptr() as usize,
        whole.as_ptr() as usize + whole.len(),
    );
    let (p, q) = (part.as_ptr() as usize, part.as_ptr() as usize + part.len());
    assert!(
        start <= p && q <= end,
        "slice {p:#x}..{q:#x} is outside the input {start:#x}..{end:#x}"
    );
}

/// The address range of `whole`, for checking slices after the buffer's borrow has ended
/// (parsers that work in place hold it mutably until then).
#[allow(dead_code)]
pub fn range(whole: &[u8]) -> core::ops::Range<usize> {
    whole.as_ptr() as usize..whole.as_ptr() as usize + whole.len()
}

/// Asserts `part` lay within the range [`range`] gave.
#[allow(dead_code)]
pub fn assert_in_range(range: &core::ops::Range<usize>, part: &[u8]) {
    let (p, q) = (part.as_ptr() as usize, part.as_ptr() as usize + part.len());
    assert!(
        range.start <= p && q <= range.end,
        "slice {p:#x}..{q:#x} is outside the input {range:?}"
    );
}
