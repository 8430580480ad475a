//! The agent's big buffers live in static memory, not on the stack and not on a heap (there
//! is none): a `TakeOnce` hands out the one `&'static mut` to its contents, once. Pages of
//! `.bss` cost nothing until touched, so a large request capacity only costs memory when a
//! large request actually arrives.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

pub struct TakeOnce<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the contents are reachable only through the single `&mut` that `take` hands out.
unsafe impl<T: Send> Sync for TakeOnce<T> {}

impl<T> TakeOnce<T> {
    pub const fn new(value: T) -> TakeOnce<T> {
        TakeOnce {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The contents, the first time; `None` afterwards.
    #[allow(clippy::mut_from_ref)] // handing out the one `&mut` is the point
    pub fn take(&'static self) -> Option<&'static mut T> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: `taken` was false, so no other reference to the contents exists, and
        // none will be made again.
        Some(unsafe { &mut *self.value.get() })
    }
}
