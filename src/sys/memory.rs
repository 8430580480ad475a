//! Giving memory back to the kernel.

use super::{Errno, syscall, uapi};

/// Pages are given back in aligned blocks of this size: a whole number of pages on every
/// page size the four architectures run with (4 KiB, and up to 64 KiB on aarch64).
const BLOCK: usize = 64 << 10;

/// `madvise(MADV_DONTNEED)` on the whole aligned blocks inside `buf`: their pages leave the
/// resident set, and read back as zeros when next touched. Parts of `buf` outside whole
/// blocks are left alone.
///
/// # Safety
/// All-zero bytes must be a valid `T`, and `buf` must lie in private anonymous memory
/// (`.bss`, the stack, or an anonymous mapping), whose dropped pages come back zeroed.
pub unsafe fn discard<T>(buf: &mut [T]) -> Result<(), Errno> {
    let start = buf.as_mut_ptr() as usize;
    let end = start + core::mem::size_of_val(buf);
    let first = start.next_multiple_of(BLOCK);
    let last = end - end % BLOCK;
    if last <= first {
        return Ok(());
    }
    // SAFETY: [first, last) lies inside `buf`, which we hold exclusively; dropping its
    // pages only replaces its contents with zeros, which the caller vouches is a valid T.
    unsafe { syscall!(__NR_madvise, first, last - first, uapi::MADV_DONTNEED) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discarded_blocks_read_back_as_zeros_and_the_edges_are_kept() {
        let mut buf = vec![7u8; 4 * BLOCK];
        let len = buf.len();
        let inner = &mut buf[1..len - 1];
        let (start, end) = (
            inner.as_ptr() as usize,
            inner.as_ptr() as usize + inner.len(),
        );
        // SAFETY: u8 takes any value; a Vec's memory is private and anonymous.
        unsafe { discard(inner) }.unwrap();
        let (first, last) = (start.next_multiple_of(BLOCK), end - end % BLOCK);
        assert!(last - first >= 2 * BLOCK);
        let base = buf.as_ptr() as usize;
        for (i, &b) in buf.iter().enumerate() {
            let inside = (first..last).contains(&(base + i));
            assert_eq!(b, if inside { 0 } else { 7 }, "byte {i}");
        }
    }
}
