//! System identity.

use super::{Errno, syscall};

/// `struct new_utsname`: six NUL-padded fields of 65 bytes.
#[repr(C)]
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
