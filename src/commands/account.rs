//! The guest's user accounts, read from `/etc/passwd` by the agent itself (no NSS, so the
//! same answer in a busybox initramfs as on a full distribution).

use super::scratch::Scratch;
use crate::formats::passwd::find_user;
use crate::sys::{Errno, PATH_MAX, fs};

/// What the commands need of a user's passwd entry.
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub home: heapless::Vec<u8, PATH_MAX>,
}

/// Why a user could not be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupError {
    /// No such user: glibc's `getpwnam` leaves errno 0, so qemu-ga says `Success`.
    NotFound,
    /// /etc/passwd could not be read.
    Unreadable(Errno),
}

impl core::fmt::Display for LookupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LookupError::NotFound => f.write_str("Success"),
            LookupError::Unreadable(e) => write!(f, "{e}"),
        }
    }
}

/// Looks `name` up in `/etc/passwd`, read into scratch.
pub fn lookup(name: &str, scratch: &mut Scratch<'_>) -> Result<User, LookupError> {
    let passwd = scratch
        .take_filled(|room| fs::read_file(b"/etc/passwd", room).map(|t| t.len()))
        .map_err(LookupError::Unreadable)?;
    let entry = find_user(passwd, name.as_bytes()).ok_or(LookupError::NotFound)?;
    let home = heapless::Vec::from_slice(entry.home)
        .map_err(|_| LookupError::Unreadable(Errno::NAMETOOLONG))?;
    Ok(User {
        uid: entry.uid,
        gid: entry.gid,
        home,
    })
}
