//! System identity, and the kernel's random numbers.

use super::{Errno, syscall};

/// `struct new_utsname`: six NUL-padded fields of 65 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Utsname {
    sysname: [u8; 65],
    nodename: [u8; 65],
    release: [u8; 65],
    version: [u8; 65],
    machine: [u8; 65],
    domainname: [u8; 65],
}

fn field(f: &[u8; 65]) -> &[u8] {
    &f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())]
}

impl Utsname {
    pub fn nodename(&self) -> &[u8] {
        field(&self.nodename)
    }
    pub fn release(&self) -> &[u8] {
        field(&self.release)
    }
    pub fn version(&self) -> &[u8] {
        field(&self.version)
    }
    pub fn machine(&self) -> &[u8] {
        field(&self.machine)
    }
}

/// `uname(2)`
pub fn uname() -> Result<Utsname, Errno> {
    let mut u = Utsname {
        sysname: [0; 65],
        nodename: [0; 65],
        release: [0; 65],
        version: [0; 65],
        machine: [0; 65],
        domainname: [0; 65],
    };
    // SAFETY: the kernel writes one struct new_utsname (Utsname is its repr(C) layout, six
    // 65-byte fields) at &mut u, a local that outlives the call.
    unsafe { syscall!(__NR_uname, &mut u as *mut Utsname) }?;
    Ok(u)
}

/// `getrandom(2)`: fills (at most) `buf` with random bytes; returns how many. `flags`:
/// 0 (waits until the pool is ready) or `GRND_NONBLOCK` (EAGAIN instead of waiting),
/// `GRND_INSECURE`, `GRND_RANDOM`. Requests of up to 256 bytes are filled whole.
pub fn getrandom(buf: &mut [u8], flags: u32) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most buf.len() bytes at buf, which is valid and
    // exclusively ours (a `&mut`) for the duration of the call.
    unsafe { syscall!(__NR_getrandom, buf.as_mut_ptr(), buf.len(), flags) }
}

/// Fills `buf` with random bytes without ever waiting for the kernel's entropy pool:
/// `GRND_INSECURE` (Linux 5.6+), else `GRND_NONBLOCK`; `Err` if neither fills it (a pool not
/// yet initialized before 5.6, or no getrandom before 3.17). For what must only be hard to
/// guess, such as the name of a temporary file, not key material. A blocking `getrandom`
/// early in boot, on a guest without RDRAND or virtio-rng (QEMU's default `qemu64` CPU
/// under TCG), makes the kernel run its jitter-entropy loop in the caller: about a second of
/// CPU before the agent could answer anything (seen under libvirt: board/libvirt-test.sh).
pub fn random_unblocked(buf: &mut [u8]) -> Result<(), Errno> {
    let filled = match getrandom(buf, crate::sys::uapi::GRND_INSECURE) {
        Err(Errno::INVAL) => getrandom(buf, crate::sys::uapi::GRND_NONBLOCK)?,
        other => other?,
    };
    if filled == buf.len() {
        Ok(())
    } else {
        Err(Errno::AGAIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrandom_fills_the_buffer() {
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        assert_eq!(getrandom(&mut a, 0), Ok(64));
        assert_eq!(getrandom(&mut b, crate::sys::uapi::GRND_NONBLOCK), Ok(64));
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 64]);
    }

    #[test]
    fn random_unblocked_fills_the_buffer() {
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        assert_eq!(random_unblocked(&mut a), Ok(()));
        assert_eq!(random_unblocked(&mut b), Ok(()));
        assert_ne!(a, b);
    }
}
