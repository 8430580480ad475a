//! SHA-crypt, the `$6$` password hash of glibc's `crypt(3)` (Ulrich Drepper's "Unix crypt
//! using SHA-256 and SHA-512", <https://www.akkadia.org/drepper/SHA-crypt.txt>).
//!
//! It is here so that `guest-set-user-password` with `crypted: false` works in guests that
//! have no `chpasswd` (busybox, initramfs): qemu-ga hands the clear password to `chpasswd`,
//! which hashes it; the agent hashes it itself and writes the result into `/etc/shadow`
//! (see `formats::passwd`). The output is what glibc's, libxcrypt's and `openssl passwd -6`'s
//! produce for the same password, salt and rounds, so any system's login can check it.

pub mod sha512;

pub use sha512::Sha512;

use sha512::DIGEST_LEN;

use crate::text::format_u64;

/// Rounds when the caller asks for none; the result then has no `rounds=` part.
pub const ROUNDS_DEFAULT: u32 = 5000;
/// Fewer requested rounds are raised to this.
pub const ROUNDS_MIN: u32 = 1000;
/// More requested rounds are lowered to this.
pub const ROUNDS_MAX: u32 = 999_999_999;
/// Salt characters used; a longer salt is cut, as glibc cuts it.
pub const SALT_MAX: usize = 16;
/// Length of the longest result: `$6$rounds=999999999$`, 16 salt characters, `$`, and the
/// 86 characters of the encoded digest.
pub const SHA512_CRYPT_MAX: usize = "$6$rounds=999999999$".len() + SALT_MAX + 1 + 86;

/// crypt's base-64 alphabet. Unlike RFC 4648 it starts with `./` and the digits, and the
/// encoding takes the low six bits first.
const ALPHABET: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The order in which SHA-crypt encodes the final digest: each triple of byte positions
/// becomes four characters (the last, a single byte, two).
const DIGEST_ORDER: [(usize, usize, usize); 21] = [
    (0, 21, 42),
    (22, 43, 1),
    (44, 2, 23),
    (3, 24, 45),
    (25, 46, 4),
    (47, 5, 26),
    (6, 27, 48),
    (28, 49, 7),
    (50, 8, 29),
    (9, 30, 51),
    (31, 52, 10),
    (53, 11, 32),
    (12, 33, 54),
    (34, 55, 13),
    (56, 14, 35),
    (15, 36, 57),
    (37, 58, 16),
    (59, 17, 38),
    (18, 39, 60),
    (40, 61, 19),
    (62, 20, 41),
];

/// The salt has a character outside `./0-9A-Za-z`. glibc would take any byte but `$`; a
/// `:` or a newline in the result would break the shadow file it is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSalt;

/// Rounds actually used for a request, clamped to the range glibc allows.
pub fn effective_rounds(rounds: Option<u32>) -> u32 {
    rounds.map_or(ROUNDS_DEFAULT, |r| r.clamp(ROUNDS_MIN, ROUNDS_MAX))
}

/// `crypt(password, "$6$rounds=<rounds>$<salt>")`: the `$6$` hash of `password`, written
/// into `out`.
///
/// - `salt` ends at its first `$` and is cut to [`SALT_MAX`] characters, as glibc reads
///   it; the salt characters must be from crypt's alphabet ([`salt_from_random`] makes
///   such a salt).
/// - `rounds`: `None` is the default 5000 and the result has no `rounds=` part; `Some(n)`
///   is clamped to [`ROUNDS_MIN`]..=[`ROUNDS_MAX`] and always written, even when it is
///   5000, as glibc does for a salt that names its rounds.
/// - `password` is hashed whole. `crypt(3)` takes a C string, so a password with a NUL
///   byte could never be typed at a login prompt; the caller should refuse one.
///
/// The work grows with rounds × password length (and the password's square once): the
/// caller bounds both.
pub fn sha512_crypt<'o>(
    password: &[u8],
    salt: &[u8],
    rounds: Option<u32>,
    out: &'o mut [u8; SHA512_CRYPT_MAX],
) -> Result<&'o str, InvalidSalt> {
    let salt = salt.split(|&b| b == b'$').next().unwrap_or_default();
    let salt = salt.get(..SALT_MAX).unwrap_or(salt);
    if !salt.iter().all(|b| ALPHABET.contains(b)) {
        return Err(InvalidSalt);
    }
    let round_count = effective_rounds(rounds);
    let digest = hash(password, salt, round_count);

    let mut cursor = Cursor { buf: out, len: 0 };
    cursor.push(b"$6$");
    if rounds.is_some() {
        cursor.push(b"rounds=");
        cursor.push(format_u64(u64::from(round_count), &mut [0; 20]));
        cursor.push(b"$");
    }
    cursor.push(salt);
    cursor.push(b"$");
    for &(first, second, third) in &DIGEST_ORDER {
        let byte = |i: usize| digest.get(i).copied().unwrap_or(0);
        cursor.push(&encode_24_bits(byte(first), byte(second), byte(third)));
    }
    let last = encode_24_bits(0, 0, digest[DIGEST_LEN - 1]);
    cursor.push(&last[..2]);

    let len = cursor.len;
    // Every byte written is ASCII (the salt was checked), so this cannot fail.
    core::str::from_utf8(out.get(..len).unwrap_or_default()).map_err(|_| InvalidSalt)
}

/// Maps 12 random bytes (96 bits) to 16 salt characters, six bits each, so every salt of
/// [`SALT_MAX`] characters is equally likely.
pub fn salt_from_random(bytes: &[u8; 12]) -> [u8; SALT_MAX] {
    let mut salt = [0u8; SALT_MAX];
    for (chars, group) in salt
        .as_chunks_mut::<4>()
        .0
        .iter_mut()
        .zip(bytes.as_chunks::<3>().0)
    {
        *chars = encode_24_bits(group[0], group[1], group[2]);
    }
    salt
}

/// The digest computation of the specification, steps 1 to 21 (the numbers below are its).
fn hash(password: &[u8], salt: &[u8], rounds: u32) -> [u8; DIGEST_LEN] {
    // Steps 4-8: digest B = password, salt, password.
    let mut b = Sha512::new();
    b.update(password);
    b.update(salt);
    b.update(password);
    let b = b.finalize();

    // Steps 1-3 and 9-12: digest A.
    let mut a = Sha512::new();
    a.update(password);
    a.update(salt);
    update_repeated(&mut a, &b, password.len());
    let mut bits = password.len();
    while bits > 0 {
        if bits & 1 == 1 {
            a.update(&b);
        } else {
            a.update(password);
        }
        bits >>= 1;
    }
    let a = a.finalize();

    // Steps 13-16: P, the password's length of digest DP (the password as many times as
    // it has bytes). P is DP repeated, so it is fed from DP and never stored.
    let mut dp = Sha512::new();
    for _ in 0..password.len() {
        dp.update(password);
    }
    let dp = dp.finalize();

    // Steps 17-20: S, the salt's length of digest DS (the salt 16 + A[0] times).
    let mut ds = Sha512::new();
    for _ in 0..16 + usize::from(a[0]) {
        ds.update(salt);
    }
    let ds = ds.finalize();
    let s = ds.get(..salt.len()).unwrap_or(&ds);

    // Step 21: the rounds, each over the previous digest.
    let mut c = a;
    for round in 0..rounds {
        let mut h = Sha512::new();
        if round % 2 == 1 {
            update_repeated(&mut h, &dp, password.len());
        } else {
            h.update(&c);
        }
        if round % 3 != 0 {
            h.update(s);
        }
        if round % 7 != 0 {
            update_repeated(&mut h, &dp, password.len());
        }
        if round % 2 == 1 {
            h.update(&c);
        } else {
            update_repeated(&mut h, &dp, password.len());
        }
        c = h.finalize();
    }
    c
}

/// Feeds the first `len` bytes of `pattern` repeated without end.
fn update_repeated(hasher: &mut Sha512, pattern: &[u8; DIGEST_LEN], len: usize) {
    for _ in 0..len / DIGEST_LEN {
        hasher.update(pattern);
    }
    hasher.update(pattern.get(..len % DIGEST_LEN).unwrap_or_default());
}

/// Four characters for 24 bits, the low six bits first; `high` is the most significant
/// byte.
fn encode_24_bits(high: u8, middle: u8, low: u8) -> [u8; 4] {
    let mut word = u32::from(high) << 16 | u32::from(middle) << 8 | u32::from(low);
    let mut chars = [0u8; 4];
    for c in &mut chars {
        *c = ALPHABET[(word & 0x3f) as usize];
        word >>= 6;
    }
    chars
}

/// Appends to a buffer whose capacity was computed for the longest result.
struct Cursor<'o> {
    buf: &'o mut [u8],
    len: usize,
}

impl Cursor<'_> {
    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        debug_assert!(end <= self.buf.len(), "SHA512_CRYPT_MAX is too small");
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
            self.len = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs crypt the way glibc's `crypt(password, setting)` does, for a `$6$` setting.
    fn crypt(password: &str, setting: &str) -> String {
        let rest = setting.strip_prefix("$6$").expect("a $6$ setting");
        let (rounds, salt) = match rest.strip_prefix("rounds=") {
            Some(r) => {
                let (n, salt) = r.split_once('$').expect("rounds=N$");
                (Some(n.parse().expect("a number of rounds")), salt)
            }
            None => (None, rest),
        };
        let mut out = [0u8; SHA512_CRYPT_MAX];
        sha512_crypt(password.as_bytes(), salt.as_bytes(), rounds, &mut out)
            .expect("a valid salt")
            .to_string()
    }

    /// glibc's crypt/sha512c-test.c, the same seven cases as the `$6$` tests of Drepper's
    /// specification: (setting, password, result).
    const DREPPER: [(&str, &str, &str); 7] = [
        (
            "$6$saltstring",
            "Hello world!",
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJu\
             esI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        ),
        (
            "$6$rounds=10000$saltstringsaltstring",
            "Hello world!",
            "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sb\
             HbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
        ),
        (
            "$6$rounds=5000$toolongsaltstring",
            "This is just a test",
            "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQ\
             zQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0",
        ),
        (
            "$6$rounds=1400$anotherlongsaltstring",
            "a very much longer text to encrypt.  This one even stretches over more\
             than one line.",
            "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wP\
             vMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
        ),
        (
            "$6$rounds=77777$short",
            "we have a short salt string but not a short password",
            "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0g\
             ge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0",
        ),
        (
            "$6$rounds=123456$asaltof16chars..",
            "a short string",
            "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwc\
             elCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1",
        ),
        (
            "$6$rounds=10$roundstoolow",
            "the minimum number is still observed",
            "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1x\
             hLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.",
        ),
    ];

    #[test]
    fn drepper_specification_vectors() {
        for (setting, password, expected) in DREPPER {
            assert_eq!(crypt(password, setting), expected, "{setting}");
        }
    }

    #[test]
    fn empty_salt_ends_at_the_dollar() {
        // PHP's ext/standard/tests/strings/crypt_sha512.phpt, checked against glibc.
        assert_eq!(
            crypt("foo", "$6$$bar$"),
            "$6$$QMXjqd7rHQZPQ1yHsXkQqC1FBzDiVfTHXL.LaeDAeVV.IzMaV9VU4MQ8kPuZa2SOP1A0RPm772\
             EaFYjpEJtdu."
        );
    }

    #[test]
    fn rounds_are_clamped() {
        assert_eq!(effective_rounds(None), 5000);
        assert_eq!(effective_rounds(Some(0)), 1000);
        assert_eq!(effective_rounds(Some(999)), 1000);
        assert_eq!(effective_rounds(Some(1000)), 1000);
        assert_eq!(effective_rounds(Some(999_999_999)), 999_999_999);
        assert_eq!(effective_rounds(Some(1_000_000_000)), 999_999_999);
        assert_eq!(effective_rounds(Some(u32::MAX)), 999_999_999);
    }

    #[test]
    fn the_longest_result_fits() {
        // The rounds loop itself is not run a billion times: the layout is what matters.
        assert_eq!(SHA512_CRYPT_MAX, 123);
        let digits = format_u64(u64::from(ROUNDS_MAX), &mut [0; 20]).len();
        assert_eq!(3 + "rounds=".len() + digits + 1 + SALT_MAX + 1 + 86, 123);
        let mut out = [0u8; SHA512_CRYPT_MAX];
        let hash = sha512_crypt(b"pw", b"0123456789abcdefXYZ", Some(1000), &mut out).unwrap();
        assert_eq!(hash.len(), 3 + "rounds=1000$".len() + SALT_MAX + 1 + 86);
        assert!(hash.starts_with("$6$rounds=1000$0123456789abcdef$"));
    }

    #[test]
    fn salts_outside_the_alphabet_are_refused() {
        let mut out = [0u8; SHA512_CRYPT_MAX];
        for salt in [&b"a:b"[..], b"a\nb", b"a b", b"\xc3\xa9t\xc3\xa9", b"a\0b"] {
            assert_eq!(sha512_crypt(b"pw", salt, None, &mut out), Err(InvalidSalt));
        }
        // Past the 16th character nothing is read, as in glibc.
        assert!(sha512_crypt(b"pw", b"abcdefghijklmnop:", None, &mut out).is_ok());
        assert!(sha512_crypt(b"pw", b"abc$:", None, &mut out).is_ok());
    }

    #[test]
    fn salt_from_random_uses_six_bits_per_character() {
        assert_eq!(&salt_from_random(&[0; 12]), b"................");
        assert_eq!(&salt_from_random(&[0xff; 12]), b"zzzzzzzzzzzzzzzz");
        // 0x000001 is the low bits first: '/' then three '.'.
        let mut bytes = [0u8; 12];
        bytes[2] = 1;
        assert_eq!(&salt_from_random(&bytes)[..4], b"/...");
        let salt = salt_from_random(&[0x5a, 0xc3, 0x17, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(salt.iter().all(|b| ALPHABET.contains(b)));
        let mut out = [0u8; SHA512_CRYPT_MAX];
        let hash = sha512_crypt(b"pw", &salt, None, &mut out).unwrap();
        assert_eq!(hash.as_bytes().get(3..19), Some(&salt[..]));
    }

    /// `openssl passwd -6 -salt <salt> <password>`, or None if openssl cannot be run.
    fn openssl_passwd(password: &[u8], salt: &str) -> Option<String> {
        use std::os::unix::ffi::OsStrExt;
        let output = std::process::Command::new("openssl")
            .args(["passwd", "-6", "-salt", salt])
            .arg(std::ffi::OsStr::from_bytes(password))
            .output()
            .ok()?;
        assert!(
            output.status.success(),
            "openssl passwd failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(
            String::from_utf8(output.stdout)
                .unwrap()
                .trim_end()
                .to_string(),
        )
    }

    #[test]
    fn same_as_openssl_passwd() {
        let cases: [(&[u8], &str); 7] = [
            (b"root", "saltsalt"),
            (b"correct horse battery staple", "abcdefghijklmnop"),
            ("pässwörd ünïcödé €".as_bytes(), "Zz09./Zz"),
            (b"\xff\xfe\x80 not UTF-8", "x"),
            (b"a", "0123456789ABCDEF"),
            (&[b'L'; 200], "long.password"),
            (b"with rounds", "rounds=1234$rsalt"),
        ];
        if openssl_passwd(b"probe", "probe").is_none() {
            eprintln!("SKIPPED: openssl not installed (apt-get install openssl)");
            println!("SKIPPED: openssl not installed (apt-get install openssl)");
            return;
        }
        for (password, setting) in cases {
            let expected = openssl_passwd(password, setting).unwrap();
            let mut out = [0u8; SHA512_CRYPT_MAX];
            let (rounds, salt) = match setting.strip_prefix("rounds=") {
                Some(rest) => {
                    let (n, salt) = rest.split_once('$').unwrap();
                    (Some(n.parse().unwrap()), salt)
                }
                None => (None, setting),
            };
            let ours = sha512_crypt(password, salt.as_bytes(), rounds, &mut out).unwrap();
            assert_eq!(ours, expected, "password {password:?}, salt {setting}");
        }
    }
}
