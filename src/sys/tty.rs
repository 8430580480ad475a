//! Terminal settings for the `isa-serial` channel.

use super::fd::BorrowedFd;
use super::{Errno, syscall, uapi};
use linux_raw_sys::ioctl;

/// Puts a serial line in raw mode as qemu-ga does: no input or output processing, no echo,
/// 8 data bits, 38400 baud, reads return as soon as one byte is there; pending input is
/// flushed. (`ioctl(TCGETS)`, `ioctl(TCSETS)`, `ioctl(TCFLSH)`)
pub fn make_raw(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: termios is plain old data; all-zero is a valid value.
    let mut t: uapi::termios = unsafe { core::mem::zeroed() };
    // SAFETY: TCGETS writes one struct termios (uapi's layout, what the kernel's TCGETS
    // copies) at &mut t, a local that outlives the call.
    unsafe {
        syscall!(
            __NR_ioctl,
            fd.as_raw_fd(),
            ioctl::TCGETS,
            &mut t as *mut uapi::termios
        )
    }?;
    t.c_iflag &= !(uapi::IGNBRK
        | uapi::BRKINT
        | uapi::PARMRK
        | uapi::ISTRIP
        | uapi::INLCR
        | uapi::IGNCR
        | uapi::ICRNL
        | uapi::IXON
        | uapi::IXOFF
        | uapi::IXANY
        | uapi::IMAXBEL);
    t.c_oflag = 0;
    t.c_lflag = 0;
    t.c_cflag = (t.c_cflag & !(uapi::CBAUD | uapi::CSIZE | uapi::PARENB))
        | uapi::B38400
        | uapi::CS8
        | uapi::CREAD
        | uapi::CLOCAL;
    t.c_cc[uapi::VMIN as usize] = 1;
    t.c_cc[uapi::VTIME as usize] = 0;
    // SAFETY: TCSETS reads one struct termios at &t, a local that outlives the call.
    unsafe {
        syscall!(
            __NR_ioctl,
            fd.as_raw_fd(),
            ioctl::TCSETS,
            &t as *const uapi::termios
        )
    }?;
    // SAFETY: TCFLSH takes an integer argument, no pointer.
    unsafe { syscall!(__NR_ioctl, fd.as_raw_fd(), ioctl::TCFLSH, uapi::TCIFLUSH) }.map(drop)
}
