//! utmp records (`struct utmp` of glibc and musl on 64-bit Linux: 384 bytes, native byte
//! order, 32-bit time fields), as login programs write them to /var/run/utmp.

/// Size of one record.
pub const RECORD: usize = 384;
/// `ut_type` of a logged-in user's session.
pub const USER_PROCESS: i16 = 7;

const TYPE: usize = 0;
const USER: usize = 44;
const USER_LEN: usize = 32;
const TV_SEC: usize = 340;
const TV_USEC: usize = 344;

/// One record's fields that `guest-get-users` needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Login<'r> {
    pub user: &'r [u8],
    pub seconds: i32,
    pub micros: i32,
}

fn i32_at(r: &[u8], at: usize) -> i32 {
    r.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, i32::from_ne_bytes)
}

/// The user sessions (`USER_PROCESS` with a user name) among whole records of `data`.
pub fn logins(data: &[u8]) -> impl Iterator<Item = Login<'_>> + Clone {
    data.chunks_exact(RECORD).filter_map(|r| {
        let kind = r
            .get(TYPE..TYPE + 2)
            .and_then(|b| b.try_into().ok())
            .map_or(0, i16::from_ne_bytes);
        let user = r.get(USER..USER + USER_LEN)?;
        let user = &user[..user.iter().position(|&b| b == 0).unwrap_or(USER_LEN)];
        (kind == USER_PROCESS && !user.is_empty()).then(|| Login {
            user,
            seconds: i32_at(r, TV_SEC),
            micros: i32_at(r, TV_USEC),
        })
    })
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Builds one record (for tests here and in the commands).
    pub fn record(kind: i16, user: &str, seconds: i32, micros: i32) -> Vec<u8> {
        let mut r = vec![0u8; RECORD];
        r[TYPE..TYPE + 2].copy_from_slice(&kind.to_ne_bytes());
        r[USER..USER + user.len()].copy_from_slice(user.as_bytes());
        r[TV_SEC..TV_SEC + 4].copy_from_slice(&seconds.to_ne_bytes());
        r[TV_USEC..TV_USEC + 4].copy_from_slice(&micros.to_ne_bytes());
        r
    }

    #[test]
    fn layout_matches_glibc() {
        // The fixture was written with glibc's pututline (see tests/fixtures/utmp/README).
        let data = std::fs::read("tests/fixtures/utmp/x86_64-glibc").unwrap();
        assert_eq!(data.len() % RECORD, 0);
        let got: Vec<_> = logins(&data)
            .map(|l| {
                (
                    String::from_utf8_lossy(l.user).into_owned(),
                    l.seconds,
                    l.micros,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("alice".to_string(), 1700000300, 250000),
                ("bob".into(), 1700000100, 5),
                ("alice".into(), 1700000200, 999999)
            ]
        );
    }

    #[test]
    fn other_kinds_and_partial_records_are_skipped() {
        let mut data = record(8, "dead", 1, 0); // DEAD_PROCESS
        data.extend(record(USER_PROCESS, "", 1, 0));
        data.extend(record(2, "reboot", 1, 0)); // BOOT_TIME
        data.extend(record(USER_PROCESS, "carol", 42, 7));
        data.extend(&[1, 2, 3]); // a torn write at the end
        let got: Vec<_> = logins(&data).collect();
        assert_eq!(
            got,
            [Login {
                user: b"carol",
                seconds: 42,
                micros: 7
            }]
        );
    }
}
