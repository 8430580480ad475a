//! utmp records: any bytes through `formats::utmp::logins`.
//!
//! Checks: only whole records are read (at most len / 384 logins); each user name lies
//! inside its own record's 32-byte name field, is not empty and has no NUL; the iterator
//! is the same when cloned (the command walks it several times).
#![no_main]

mod inside;

use inside::assert_inside;
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::utmp::{self, RECORD};

fuzz_target!(|data: &[u8]| {
    let logins = utmp::logins(data);
    let mut count = 0;
    for login in logins.clone() {
        count += 1;
        assert_inside(data, login.user);
        assert!(!login.user.is_empty() && login.user.len() <= 32);
        assert!(!login.user.contains(&0));
        let at = login.user.as_ptr() as usize - data.as_ptr() as usize;
        assert_eq!(at % RECORD, 44, "the name field of a record");
        assert!(at - 44 + RECORD <= data.len(), "a whole record");
        let _ = (login.seconds, login.micros);
    }
    assert!(count <= data.len() / RECORD);
    assert_eq!(logins.count(), count);
});
