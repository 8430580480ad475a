//! Listening sockets for the `unix-listen` and `vsock-listen` channels.

use super::fd::{BorrowedFd, OwnedFd};
use super::{Errno, syscall, uapi};
use linux_raw_sys::net;

const STREAM: u32 = net::SOCK_STREAM | uapi::O_CLOEXEC | uapi::O_NONBLOCK;

/// `struct sockaddr_vm` (linux/vm_sockets.h), 16 bytes.
#[repr(C)]
struct SockaddrVm {
    family: u16,
    reserved: u16,
    port: u32,
    cid: u32,
    flags: u8,
    zero: [u8; 3],
}

/// `socket(AF_UNIX)` + `bind(path)` + `listen(backlog)`. A stale socket file left by an
/// earlier run is removed first (a live listener there would still answer; that is the
/// operator's mistake and bind then fails with EADDRINUSE if the file cannot be removed).
pub fn listen_unix(path: &[u8], backlog: u32) -> Result<OwnedFd, Errno> {
    let mut addr = net::sockaddr_un {
        sun_family: net::AF_UNIX as u16,
        sun_path: [0; 108],
    };
    if path.is_empty() || path.len() >= addr.sun_path.len() {
        return Err(Errno::NAMETOOLONG);
    }
    for (dst, &src) in addr.sun_path.iter_mut().zip(path) {
        *dst = src as _;
    }
    // SAFETY: socket takes no pointer.
    let fd = unsafe { syscall!(__NR_socket, net::AF_UNIX, STREAM, 0) }?;
    // SAFETY: socket(2) just returned this new descriptor; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    if is_socket_file(path) {
        let _ = super::fs::unlink(path);
    }
    let len = core::mem::size_of::<u16>() + path.len() + 1;
    // SAFETY: the kernel reads len bytes at &addr, a local sockaddr_un that outlives the
    // call; len (family, path, its NUL) is within its 110 bytes as path.len() < 108.
    unsafe {
        syscall!(
            __NR_bind,
            fd.as_raw_fd(),
            &addr as *const net::sockaddr_un,
            len
        )
    }?;
    // SAFETY: listen takes no pointer.
    unsafe { syscall!(__NR_listen, fd.as_raw_fd(), backlog) }?;
    Ok(fd)
}

/// `socket(AF_VSOCK)` + `bind(cid, port)` + `listen(backlog)`.
pub fn listen_vsock(cid: u32, port: u32, backlog: u32) -> Result<OwnedFd, Errno> {
    let addr = SockaddrVm {
        family: net::AF_VSOCK as u16,
        reserved: 0,
        port,
        cid,
        flags: 0,
        zero: [0; 3],
    };
    // SAFETY: socket takes no pointer.
    let fd = unsafe { syscall!(__NR_socket, net::AF_VSOCK, STREAM, 0) }?;
    // SAFETY: socket(2) just returned this new descriptor; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: the kernel reads size_of::<SockaddrVm>() bytes at &addr, a local that
    // outlives the call.
    unsafe {
        syscall!(
            __NR_bind,
            fd.as_raw_fd(),
            &addr as *const SockaddrVm,
            core::mem::size_of::<SockaddrVm>()
        )
    }?;
    // SAFETY: listen takes no pointer.
    unsafe { syscall!(__NR_listen, fd.as_raw_fd(), backlog) }?;
    Ok(fd)
}

/// `accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)`
pub fn accept(listener: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    // SAFETY: the address and its length pointer are null (the peer's address is not
    // wanted), so the kernel writes nothing of ours.
    let fd = unsafe {
        syscall!(
            __NR_accept4,
            listener.as_raw_fd(),
            0usize,
            0usize,
            uapi::O_CLOEXEC | uapi::O_NONBLOCK
        )
    }?;
    // SAFETY: accept4(2) just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `getsockopt(SOL_SOCKET, opt)` for an int-valued option.
fn sockopt_int(fd: BorrowedFd<'_>, opt: u32) -> Result<i32, Errno> {
    let mut value: i32 = 0;
    let mut len: u32 = 4;
    // SAFETY: the kernel writes at most len (4) bytes at &mut value and the length at
    // &mut len; both are locals that outlive the call.
    unsafe {
        syscall!(
            __NR_getsockopt,
            fd.as_raw_fd(),
            net::SOL_SOCKET,
            opt,
            &mut value as *mut i32,
            &mut len as *mut u32
        )
    }?;
    Ok(value)
}

/// `recvfrom(fd, buf, len, 0, NULL, NULL)`: `read(2)` for a socket, without the layers
/// every file's read passes (position lock, access checks, fsnotify).
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most buf.len() bytes at buf, which is valid and
    // exclusively ours (a `&mut`) for the duration of the call; no address is asked for.
    unsafe {
        syscall!(
            __NR_recvfrom,
            fd.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
            0,
            0usize,
            0usize
        )
    }
}

/// `sendto(fd, buf, len, MSG_NOSIGNAL, NULL, 0)`: `write(2)` for a connected socket,
/// without the file layers, and EPIPE without a SIGPIPE when the peer is gone.
pub fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel reads at most buf.len() bytes at buf, which is valid for the
    // duration of the call; no address is given.
    unsafe {
        syscall!(
            __NR_sendto,
            fd.as_raw_fd(),
            buf.as_ptr(),
            buf.len(),
            net::MSG_NOSIGNAL,
            0usize,
            0usize
        )
    }
}

/// The address family of a socket (`SO_DOMAIN`), e.g. for a descriptor passed by systemd.
pub fn domain(fd: BorrowedFd<'_>) -> Result<u32, Errno> {
    sockopt_int(fd, net::SO_DOMAIN).map(|v| v as u32)
}

pub const AF_UNIX: u32 = net::AF_UNIX;
pub const AF_VSOCK: u32 = net::AF_VSOCK;

fn is_socket_file(path: &[u8]) -> bool {
    super::fs::file_type(path) == Ok(uapi::S_IFSOCK)
}
