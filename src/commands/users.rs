//! `guest-get-users`: who is logged in, from utmp.

use super::Call;
use crate::capacity::UTMP_RECORDS;
use crate::formats::utmp;
use crate::protocol::{JsonWriter, QmpError};
use crate::qmp_error;
use crate::sys::{Errno, fs};

static_assertions::const_assert!(crate::capacity::SCRATCH_BYTES >= UTMP_RECORDS * utmp::RECORD);

/// `guest-get-users` → `[{user, login-time}]`: each user with a session once, in the order
/// first seen, with their earliest login time (seconds since the epoch, fractional). No
/// utmp file means nobody is logged in.
pub fn guest_get_users(call: &mut Call, _: ()) -> Result<(), QmpError> {
    // The file keeps one record per terminal line ever used.
    let buf = call.scratch.take(UTMP_RECORDS * utmp::RECORD)?;
    let data = match fs::read_file(b"/var/run/utmp", buf) {
        Err(Errno::NOENT) => match fs::read_file(b"/run/utmp", buf) {
            Err(Errno::NOENT) => Ok(&[][..]),
            other => other,
        },
        other => other,
    };
    let data = data.map_err(|e| match e {
        Errno::FBIG => qmp_error!("utmp has more than {UTMP_RECORDS} records"),
        e => qmp_error!("failed to read utmp: {e}"),
    })?;
    call.reply.write(|w| {
        write_users(w, data);
        Ok(())
    })
}

fn write_users(w: &mut JsonWriter<'_>, data: &[u8]) {
    let logins = utmp::logins(data);
    w.begin_array();
    for (i, login) in logins.clone().enumerate() {
        if logins.clone().take(i).any(|l| l.user == login.user) {
            continue; // reported with the user's first session
        }
        let first = logins
            .clone()
            .filter(|l| l.user == login.user)
            .min_by_key(|l| (l.seconds, l.micros))
            .unwrap_or(login);
        w.begin_object();
        w.key("user");
        w.bytes_as_str(login.user);
        w.key("login-time");
        let mut text = crate::text::FmtBuf::<32>::new();
        let _ = write_seconds(&mut text, first.seconds, first.micros);
        w.decimal(core::str::from_utf8(text.as_bytes()).unwrap_or("0"));
        w.end_object();
    }
    w.end_array();
}

/// `seconds.micros` with trailing zeros dropped (1700000300.25, 1700000300).
fn write_seconds(out: &mut dyn core::fmt::Write, seconds: i32, micros: i32) -> core::fmt::Result {
    let micros = micros.clamp(0, 999_999);
    if micros == 0 {
        return write!(out, "{seconds}");
    }
    let mut digits = [0u8; 6];
    let mut m = micros;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (m % 10) as u8;
        m /= 10;
    }
    let keep = 6 - digits.iter().rev().take_while(|&&d| d == b'0').count();
    write!(
        out,
        "{seconds}.{}",
        core::str::from_utf8(&digits[..keep]).unwrap_or("0")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::utmp::tests::record;
    use crate::protocol::writer::tests::Collect;

    fn users(data: &[u8]) -> String {
        let mut out = Collect::default();
        write_users(&mut JsonWriter::new(&mut out), data);
        String::from_utf8(out.0).unwrap()
    }

    #[test]
    fn unique_users_with_their_earliest_login() {
        let data = std::fs::read("tests/fixtures/utmp/x86_64-glibc").unwrap();
        assert_eq!(
            users(&data),
            r#"[{"user": "alice", "login-time": 1700000200.999999}, {"user": "bob", "login-time": 1700000100.000005}]"#
        );
    }

    #[test]
    fn nobody_and_odd_values() {
        assert_eq!(users(&[]), "[]");
        let mut data = record(utmp::USER_PROCESS, "x", 5, 0);
        data.extend(record(utmp::USER_PROCESS, "y", 5, 250000));
        data.extend(record(utmp::USER_PROCESS, "z", 5, -3));
        assert_eq!(
            users(&data),
            r#"[{"user": "x", "login-time": 5}, {"user": "y", "login-time": 5.25}, {"user": "z", "login-time": 5}]"#
        );
    }
}
