//! A user's SSH keys: `guest-ssh-get-authorized-keys`, `guest-ssh-add-authorized-keys` and
//! `guest-ssh-remove-authorized-keys`, on `~/.ssh/authorized_keys`, as qemu-ga's
//! commands-posix-ssh.c handles them.
//!
//! The file is split into lines at `\n` (an empty file has no line at all) and written
//! back joined with `\n`, so what was not touched keeps its exact bytes, a trailing newline
//! included. A new file, or a new `~/.ssh`, belongs to the user with modes 0600 and 0700;
//! the file is replaced atomically (see [`fs::replace_file`]).

use super::Call;
use super::account::{self, User};
use super::scratch::Scratch;
use crate::arguments;
use crate::protocol::{List, QmpError};
use crate::qmp_error;
use crate::sys::fd::BorrowedFd;
use crate::sys::{Errno, PATH_MAX, fs, uapi};
use crate::text::Lossy;

arguments! {
    /// `guest-ssh-get-authorized-keys`
    pub struct SshGet<'d> {
        "username" => username: &'d str,
    }
}

arguments! {
    /// `guest-ssh-add-authorized-keys`
    pub struct SshAdd<'d> {
        "username" => username: &'d str,
        "keys" => keys: List<'d, &'d str>,
        "reset" => reset: Option<bool>,
    }
}

arguments! {
    /// `guest-ssh-remove-authorized-keys`
    pub struct SshRemove<'d> {
        "username" => username: &'d str,
        "keys" => keys: List<'d, &'d str>,
    }
}

/// `guest-ssh-get-authorized-keys {username}` → `{keys}`: the file's lines, trimmed,
/// without blank lines and `#` comments, last line first (qemu-ga prepends each to its
/// list).
pub fn guest_ssh_get_authorized_keys(call: &mut Call, args: SshGet<'_>) -> Result<(), QmpError> {
    let scratch = &mut call.scratch;
    let user = lookup(args.username, scratch)?;
    let path = keys_path(&user)?;
    let text = read_keys(&path, scratch)?;
    call.reply.write(|w| {
        w.begin_object();
        w.key("keys");
        w.begin_array();
        for line in text.rsplit(|&b| b == b'\n') {
            // g_strstrip: GLib's ASCII white space is trim_ascii's (no vertical tab).
            let key = line.trim_ascii();
            if !key.is_empty() && key[0] != b'#' {
                w.bytes_as_str(key);
            }
        }
        w.end_array();
        w.end_object();
        Ok(())
    })
}

/// `guest-ssh-add-authorized-keys {username, keys, reset?}`: appends the keys the file
/// does not have yet (all of them, to an empty file, with `reset`).
pub fn guest_ssh_add_authorized_keys(call: &mut Call, args: SshAdd<'_>) -> Result<(), QmpError> {
    check_keys(&args.keys)?;
    let buffer = call.scratch.take(LINE_BUFFER)?;
    let scratch = &mut call.scratch;
    let user = lookup(args.username, scratch)?;
    let path = keys_path(&user)?;
    let existing: Option<&[u8]> = match args.reset {
        Some(true) => None,
        _ => read_keys(&path, scratch).ok(),
    };
    if existing.is_none() {
        ensure_ssh_dir(&user)?;
    }
    let existing = existing.unwrap_or_default();
    write_keys(&path, &user, buffer, |out| {
        for line in Lines::of(existing) {
            out.line(line)?;
        }
        for (i, key) in args.keys.iter().enumerate() {
            let key = key.as_bytes();
            let seen = Lines::of(existing).any(|l| l == key)
                || args.keys.iter().take(i).any(|k| k.as_bytes() == key);
            if !seen {
                out.line(key)?;
            }
        }
        Ok(())
    })
}

/// `guest-ssh-remove-authorized-keys {username, keys}`: drops every line equal to one of
/// the keys; a user without the file has nothing to remove.
pub fn guest_ssh_remove_authorized_keys(
    call: &mut Call,
    args: SshRemove<'_>,
) -> Result<(), QmpError> {
    check_keys(&args.keys)?;
    let buffer = call.scratch.take(LINE_BUFFER)?;
    let scratch = &mut call.scratch;
    let user = lookup(args.username, scratch)?;
    let path = keys_path(&user)?;
    if fs::stat(&path).is_err() {
        return Ok(());
    }
    let existing = read_keys(&path, scratch)?;
    write_keys(&path, &user, buffer, |out| {
        for line in Lines::of(existing) {
            if !args.keys.iter().any(|k| k.as_bytes() == line) {
                out.line(line)?;
            }
        }
        Ok(())
    })
}

/// qemu-ga's only checks: a key may not start with `#` nor hold a newline.
fn check_keys(keys: &List<'_, &str>) -> Result<(), QmpError> {
    match keys.iter().find(|k| k.starts_with('#') || k.contains('\n')) {
        Some(bad) => Err(qmp_error!("invalid OpenSSH public key: '{bad}'")),
        None => Ok(()),
    }
}

fn lookup(username: &str, scratch: &mut Scratch<'_>) -> Result<User, QmpError> {
    account::lookup(username, scratch)
        .map_err(|e| qmp_error!("failed to lookup user '{username}': {e}"))
}

type Path = heapless::Vec<u8, PATH_MAX>;

fn path_of(parts: &[&[u8]]) -> Result<Path, QmpError> {
    let mut buf = [0u8; PATH_MAX];
    fs::join(&mut buf, parts)
        .and_then(|p| heapless::Vec::from_slice(p).ok())
        .ok_or_else(|| qmp_error!("home directory path too long"))
}

fn keys_path(user: &User) -> Result<Path, QmpError> {
    path_of(&[&user.home, b"/.ssh/authorized_keys"])
}

/// Reads the whole file, with GLib's `g_file_get_contents` texts in qemu-ga's message.
fn read_keys<'r>(path: &[u8], scratch: &mut Scratch<'r>) -> Result<&'r [u8], QmpError> {
    let shown = Lossy(path);
    let text = scratch.take_filled(|room| fs::read_file(path, room).map(|t| t.len()));
    text.map(|t| &*t).map_err(|e| match e {
        Errno::FBIG => qmp_error!("failed to read '{shown}': File too large"),
        e => qmp_error!("failed to read '{shown}': Failed to open file “{shown}”: {e}"),
    })
}

/// Creates `~/.ssh` (0700, owned by the user) unless it is a directory already.
fn ensure_ssh_dir(user: &User) -> Result<(), QmpError> {
    let dir = path_of(&[&user.home, b"/.ssh"])?;
    let shown = Lossy(&dir);
    let is_dir = fs::stat(&dir).is_ok_and(|st| st.stx_mode as u32 & uapi::S_IFMT == uapi::S_IFDIR);
    if is_dir {
        return Ok(());
    }
    fs::mkdir(&dir, 0o700).map_err(|e| qmp_error!("failed to create directory '{shown}': {e}"))?;
    fs::chown(&dir, Some(user.uid), Some(user.gid))
        .map_err(|e| qmp_error!("failed to set ownership of directory '{shown}': {e}"))?;
    fs::chmod(&dir, 0o700)
        .map_err(|e| qmp_error!("failed to set permissions of directory '{shown}': {e}"))
}

/// Bytes of scratch a rewrite of the keys file writes through.
const LINE_BUFFER: usize = 4096;

/// Writes the file anew (0600, owned by the user) from the lines `fill` gives, through
/// `buffer`.
fn write_keys(
    path: &[u8],
    user: &User,
    buffer: &mut [u8],
    fill: impl FnOnce(&mut LineWriter<'_>) -> Result<(), Errno>,
) -> Result<(), QmpError> {
    fs::replace_file(path, 0o600, Some((user.uid, user.gid)), |fd| {
        let mut out = LineWriter {
            fd,
            buf: buffer,
            len: 0,
            first: true,
        };
        fill(&mut out)?;
        out.flush()
    })
    .map_err(|e| qmp_error!("failed to write to '{}': {e}", Lossy(path)))
}

/// Lines joined with `\n`, written through a small buffer.
struct LineWriter<'f> {
    fd: BorrowedFd<'f>,
    buf: &'f mut [u8],
    len: usize,
    first: bool,
}

impl LineWriter<'_> {
    fn line(&mut self, line: &[u8]) -> Result<(), Errno> {
        if !core::mem::take(&mut self.first) {
            self.put(b"\n")?;
        }
        self.put(line)
    }

    fn put(&mut self, mut bytes: &[u8]) -> Result<(), Errno> {
        while !bytes.is_empty() {
            if self.len == self.buf.len() {
                self.flush()?;
            }
            let take = bytes.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Errno> {
        let pending = self.buf.get(..self.len).unwrap_or_default();
        self.fd.write_all(pending)?;
        self.len = 0;
        Ok(())
    }
}

/// The lines of a file as GLib's `g_strsplit(text, "\n", -1)` gives them: none for an
/// empty file, else every piece between newlines (a final newline gives a last, empty
/// line, so that joining them again restores it).
#[derive(Clone)]
struct Lines<'t> {
    rest: Option<&'t [u8]>,
}

impl<'t> Lines<'t> {
    fn of(text: &'t [u8]) -> Lines<'t> {
        Lines {
            rest: (!text.is_empty()).then_some(text),
        }
    }
}

impl<'t> Iterator for Lines<'t> {
    type Item = &'t [u8];
    fn next(&mut self) -> Option<&'t [u8]> {
        let rest = self.rest?;
        match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => {
                self.rest = rest.get(nl + 1..);
                rest.get(..nl)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_as_g_strsplit() {
        fn all(t: &[u8]) -> Vec<&[u8]> {
            Lines::of(t).collect()
        }
        assert!(all(b"").is_empty());
        assert_eq!(all(b"a"), [&b"a"[..]]);
        assert_eq!(all(b"a\n"), [&b"a"[..], b""]);
        assert_eq!(all(b"a\n\nb"), [&b"a"[..], b"", b"b"]);
        assert_eq!(all(b"\n"), [&b""[..], b""]);
    }
}
