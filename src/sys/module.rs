//! Loading kernel modules.

use super::fd::OwnedFd;
use super::{Errno, syscall};

/// `MODULE_INIT_COMPRESSED_FILE` (linux/module.h): the file is compressed, and the kernel
/// is to decompress it (only in the formats it was built to decompress).
pub const COMPRESSED_FILE: u32 = 4;

/// `finit_module(fd, "", flags)`: loads the module in the open file `file`, with no
/// parameters. EEXIST if a module of that name is loaded already.
pub fn finit_module(file: &OwnedFd, flags: u32) -> Result<(), Errno> {
    let params: &[u8; 1] = b"\0";
    // SAFETY: the descriptor is open (borrowed for the call); params is an empty
    // NUL-terminated string, a constant that outlives the call. The kernel reads the
    // module's bytes from the file, none of our memory.
    unsafe { syscall!(__NR_finit_module, file.as_raw_fd(), params.as_ptr(), flags) }.map(drop)
}
