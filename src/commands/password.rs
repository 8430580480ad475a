//! `guest-set-user-password`: what qemu-ga asks `chpasswd` to do, done by the agent, so it
//! works in guests without `chpasswd` (busybox, an initramfs).
//!
//! - `crypted: false`: the password is hashed as SHA-512 crypt (`$6$`, 16 salt characters
//!   from getrandom, 5000 rounds), which every libc's `crypt` and PAM verify.
//! - `crypted: true`: the given hash is stored as it is.
//!
//! As `chpasswd` does: under the lock of `/etc/.pwd.lock` (shadow-utils' `lckpwdf`), the
//! user's `/etc/shadow` line gets the hash and today's date as its last change; a user
//! without a shadow line (or a guest without `/etc/shadow`) gets the hash in `/etc/passwd`.
//! The file is replaced atomically with its owner and mode kept, so a half-written
//! password file is never left behind.

use super::Call;
use super::scratch::Scratch;
use crate::arguments;
use crate::crypt;
use crate::formats::passwd::{find_user, rewrite_password};
use crate::protocol::{QmpError, base64};
use crate::qmp_error;
use crate::sys::{AsFd, Errno, fs, system, time, uapi};

/// Longest password accepted, decoded (hashing time grows with it).
const PASSWORD_MAX: usize = 4096;
/// How long to wait for another program's lock on the password files (`lckpwdf`'s 15 s).
const LOCK_WAIT_MS: u64 = 15_000;

arguments! {
    /// `guest-set-user-password`
    pub struct SetUserPassword<'d> {
        "username" => username: &'d str,
        "password" => password: &'d str,
        "crypted" => crypted: bool,
    }
}

/// `guest-set-user-password {username, password (base64), crypted}`.
pub fn guest_set_user_password(call: &mut Call, args: SetUserPassword<'_>) -> Result<(), QmpError> {
    let mut raw = [0u8; PASSWORD_MAX];
    let password = decode_password(args.password.as_bytes(), &mut raw)?;
    if password.contains(&b'\n') {
        return Err(qmp_error!("forbidden characters in raw password"));
    }
    let username = args.username;
    if username.contains(['\n', ':']) {
        return Err(qmp_error!("forbidden characters in username"));
    }
    let failed = |why: core::fmt::Arguments<'_>| {
        qmp_error!("child process has failed to set user password: {why}")
    };
    let mut hashed = [0u8; crypt::SHA512_CRYPT_MAX];
    let hash: &[u8] = if args.crypted {
        if password.contains(&b':') {
            return Err(failed(format_args!("invalid password field")));
        }
        password
    } else {
        if password.is_empty() {
            return Err(failed(format_args!("empty password")));
        }
        let mut random = [0u8; 12];
        system::getrandom(&mut random, 0)
            .map_err(|e| failed(format_args!("no random salt: {e}")))?;
        let salt = crypt::salt_from_random(&random);
        crypt::sha512_crypt(password, &salt, None, &mut hashed)
            .map_err(|_| failed(format_args!("invalid salt")))?
            .as_bytes()
    };

    let scratch = &mut call.scratch;
    let _lock = lock_password_files()
        .map_err(|e| failed(format_args!("cannot lock /etc/.pwd.lock: {e}")))?;
    let passwd = scratch
        .take_filled(|room| fs::read_file(b"/etc/passwd", room).map(|t| t.len()))
        .map_err(|e| failed(format_args!("cannot read /etc/passwd: {e}")))?;
    if find_user(passwd, username.as_bytes()).is_none() {
        return Err(failed(format_args!("user '{username}' does not exist")));
    }
    let today = time::realtime().map_or(0, |(secs, _)| secs.max(0) as u64 / 86_400);
    // The shadow file when it has the user, else the passwd file.
    let updated = match set_in(b"/etc/shadow", username, hash, Some(today), scratch) {
        Ok(true) => Ok(()),
        Ok(false) | Err(Errno::NOENT) => {
            match set_in(b"/etc/passwd", username, hash, None, scratch) {
                Ok(true) => Ok(()),
                Ok(false) => Err(Errno::NOENT),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    updated.map_err(|e| failed(format_args!("cannot update the password file: {e}")))
}

/// The password, base64-decoded, cut at a NUL as the C string qemu-ga passes on.
fn decode_password<'r>(text: &[u8], raw: &'r mut [u8]) -> Result<&'r [u8], QmpError> {
    let len = base64::decoded_len(text).map_err(|e| qmp_error!("{e}"))?;
    if len > PASSWORD_MAX {
        return Err(qmp_error!(
            "password too long (more than {PASSWORD_MAX} bytes)"
        ));
    }
    let mut filled = 0;
    let mut step = [0u8; 3 << 10];
    let _ = base64::decode_each(text, &mut step, |bytes| {
        // The length was checked: the bytes fit.
        if let Some(dst) = raw.get_mut(filled..filled + bytes.len()) {
            dst.copy_from_slice(bytes);
            filled += bytes.len();
        }
        Ok::<(), ()>(())
    });
    let password = raw.get(..filled).unwrap_or_default();
    let end = password
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(password.len());
    Ok(password.get(..end).unwrap_or_default())
}

/// Sets `user`'s password field in the file at `path` (and the day of the last change,
/// for the shadow file). False: the file has no line for the user.
fn set_in(
    path: &[u8],
    user: &str,
    hash: &[u8],
    last_change: Option<u64>,
    scratch: &mut Scratch<'_>,
) -> Result<bool, Errno> {
    let st = fs::stat(path)?;
    let text = scratch.take_filled(|room| fs::read_file(path, room).map(|t| t.len()))?;
    let mut found = false;
    let mode = st.stx_mode as u32 & 0o7777;
    fs::replace_file(path, mode, Some((st.stx_uid, st.stx_gid)), |fd| {
        found = rewrite_password(text, user.as_bytes(), hash, last_change, &mut |bytes| {
            fd.write_all(bytes)
        })?;
        // Leave the file as it was when the user is not in it.
        if found { Ok(()) } else { Err(Errno::NOENT) }
    })
    .map(|()| true)
    .or_else(|e| if found { Err(e) } else { Ok(false) })
}

/// Takes the lock shadow-utils and busybox take before editing the password files,
/// waiting for it at most [`LOCK_WAIT_MS`]. The lock lasts as long as the descriptor.
fn lock_password_files() -> Result<crate::sys::OwnedFd, Errno> {
    let fd = fs::open(b"/etc/.pwd.lock", uapi::O_WRONLY | uapi::O_CREAT, 0o600)?;
    let deadline = time::monotonic_ms() + LOCK_WAIT_MS;
    loop {
        match fd.as_fd().try_lock() {
            Ok(()) => return Ok(fd),
            Err(Errno::AGAIN | Errno::ACCES) if time::monotonic_ms() < deadline => {
                time::sleep_ms(50)
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_decode_as_c_strings() {
        let mut raw = [0u8; 16];
        assert_eq!(decode_password(b"c2VjcmV0", &mut raw).unwrap(), b"secret");
        assert_eq!(decode_password(b"YQBi", &mut raw).unwrap(), b"a");
        assert_eq!(
            decode_password(b"@@", &mut raw).unwrap_err().desc.as_str(),
            "Base64 data contains invalid characters"
        );
        let long = "YWFh".repeat(PASSWORD_MAX / 3 + 1);
        assert!(decode_password(long.as_bytes(), &mut [0u8; PASSWORD_MAX + 3]).is_err());
        // Exactly the limit, whose last group is incomplete: nothing is lost.
        let text = "QUFB".repeat(PASSWORD_MAX / 3) + "QQ==";
        let mut room = [0u8; PASSWORD_MAX + 3];
        assert_eq!(
            decode_password(text.as_bytes(), &mut room).unwrap().len(),
            PASSWORD_MAX
        );
    }
}
