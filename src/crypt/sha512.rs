//! SHA-512 (FIPS 180-4), streaming and allocation-free.
//!
//! It is here because SHA-crypt (`$6$`, [`super::sha512_crypt`]) is built on it: the agent
//! hashes passwords itself for `guest-set-user-password` with `crypted: false`, so guests
//! without `chpasswd` (busybox, initramfs) still get a password. It is not meant to be fast
//! or constant-time beyond what the password hash needs, and nothing else uses it.

/// Bytes in one input block.
const BLOCK: usize = 128;

/// Bytes in a digest.
pub const DIGEST_LEN: usize = 64;

/// The first 64 bits of the fractional parts of the square roots of the first 8 primes.
const INITIAL_STATE: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// The first 64 bits of the fractional parts of the cube roots of the first 80 primes.
const ROUND_CONSTANTS: [u64; 80] = [
    0x428a2f98d728ae22,
    0x7137449123ef65cd,
    0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc,
    0x3956c25bf348b538,
    0x59f111f1b605d019,
    0x923f82a4af194f9b,
    0xab1c5ed5da6d8118,
    0xd807aa98a3030242,
    0x12835b0145706fbe,
    0x243185be4ee4b28c,
    0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f,
    0x80deb1fe3b1696b1,
    0x9bdc06a725c71235,
    0xc19bf174cf692694,
    0xe49b69c19ef14ad2,
    0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5,
    0x240ca1cc77ac9c65,
    0x2de92c6f592b0275,
    0x4a7484aa6ea6e483,
    0x5cb0a9dcbd41fbd4,
    0x76f988da831153b5,
    0x983e5152ee66dfab,
    0xa831c66d2db43210,
    0xb00327c898fb213f,
    0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2,
    0xd5a79147930aa725,
    0x06ca6351e003826f,
    0x142929670a0e6e70,
    0x27b70a8546d22ffc,
    0x2e1b21385c26c926,
    0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df,
    0x650a73548baf63de,
    0x766a0abb3c77b2a8,
    0x81c2c92e47edaee6,
    0x92722c851482353b,
    0xa2bfe8a14cf10364,
    0xa81a664bbc423001,
    0xc24b8b70d0f89791,
    0xc76c51a30654be30,
    0xd192e819d6ef5218,
    0xd69906245565a910,
    0xf40e35855771202a,
    0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8,
    0x1e376c085141ab53,
    0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63,
    0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc,
    0x78a5636f43172f60,
    0x84c87814a1f0ab72,
    0x8cc702081a6439ec,
    0x90befffa23631e28,
    0xa4506cebde82bde9,
    0xbef9a3f7b2c67915,
    0xc67178f2e372532b,
    0xca273eceea26619c,
    0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e,
    0xf57d4f7fee6ed178,
    0x06f067aa72176fba,
    0x0a637dc5a2c898a6,
    0x113f9804bef90dae,
    0x1b710b35131c471b,
    0x28db77f523047d84,
    0x32caab7b40c72493,
    0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6,
    0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec,
    0x6c44198c4a475817,
];

/// A SHA-512 computation in progress: feed it with [`update`](Self::update), then take the
/// digest with [`finalize`](Self::finalize).
#[derive(Clone)]
pub struct Sha512 {
    state: [u64; 8],
    /// The start of a block that `update` has not yet had enough bytes to complete.
    pending: [u8; BLOCK],
    /// How many bytes of `pending` are filled; always less than a block.
    pending_len: usize,
    /// Message length in bytes so far. The standard counts bits in 128 bits; bytes in a
    /// `u128` can hold every message the bit count can.
    total_len: u128,
}

impl Default for Sha512 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha512 {
    pub const fn new() -> Self {
        Sha512 {
            state: INITIAL_STATE,
            pending: [0; BLOCK],
            pending_len: 0,
            total_len: 0,
        }
    }

    /// The digest of `data` in one call.
    pub fn digest(data: &[u8]) -> [u8; DIGEST_LEN] {
        let mut hasher = Self::new();
        hasher.update(data);
        hasher.finalize()
    }

    /// Appends `data` to the message.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total_len = self.total_len.wrapping_add(data.len() as u128);
        if self.pending_len > 0 {
            let (_, free) = self.pending.split_at_mut(self.pending_len.min(BLOCK));
            let take = free.len().min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = free.get_mut(..take) {
                dst.copy_from_slice(head);
            }
            self.pending_len += take;
            data = rest;
            if self.pending_len < BLOCK {
                return;
            }
            compress(&mut self.state, &self.pending);
            self.pending_len = 0;
        }
        let (blocks, tail) = data.as_chunks::<BLOCK>();
        for block in blocks {
            compress(&mut self.state, block);
        }
        if let Some(dst) = self.pending.get_mut(..tail.len()) {
            dst.copy_from_slice(tail);
            self.pending_len = tail.len();
        }
    }

    /// Pads the message (a 1 bit, zeros, the 128-bit big-endian bit length) and returns
    /// the digest.
    pub fn finalize(mut self) -> [u8; DIGEST_LEN] {
        let bit_len = self.total_len.wrapping_mul(8);
        // One 0x80 byte, then zeros up to 16 bytes before a block boundary: the length goes
        // there. If fewer than 17 bytes are free in this block, the padding spills into the
        // next one.
        let free = BLOCK - self.pending_len;
        let zeros = if free >= 17 {
            free - 17
        } else {
            free + BLOCK - 17
        };
        self.update_padding(&[0x80]);
        let mut remaining = zeros;
        while remaining > 0 {
            let n = remaining.min(BLOCK);
            self.update_padding(&[0; BLOCK][..n]);
            remaining -= n;
        }
        self.update_padding(&bit_len.to_be_bytes());
        debug_assert_eq!(self.pending_len, 0);

        let mut digest = [0u8; DIGEST_LEN];
        for (out, word) in digest.as_chunks_mut::<8>().0.iter_mut().zip(self.state) {
            *out = word.to_be_bytes();
        }
        digest
    }

    /// `update` without counting the bytes as message: the padding is not part of it.
    fn update_padding(&mut self, data: &[u8]) {
        let total_len = self.total_len;
        self.update(data);
        self.total_len = total_len;
    }
}

/// The compression function: mixes one 128-byte block into the state.
fn compress(state: &mut [u64; 8], block: &[u8; BLOCK]) {
    let mut schedule = [0u64; 80];
    for (word, bytes) in schedule.iter_mut().zip(block.as_chunks::<8>().0) {
        *word = u64::from_be_bytes(*bytes);
    }
    for t in 16..80 {
        let w15 = schedule[t - 15];
        let w2 = schedule[t - 2];
        let sigma0 = w15.rotate_right(1) ^ w15.rotate_right(8) ^ (w15 >> 7);
        let sigma1 = w2.rotate_right(19) ^ w2.rotate_right(61) ^ (w2 >> 6);
        schedule[t] = schedule[t - 16]
            .wrapping_add(sigma0)
            .wrapping_add(schedule[t - 7])
            .wrapping_add(sigma1);
    }

    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for (k, w) in ROUND_CONSTANTS.iter().zip(schedule) {
        let big_sigma1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
        let choose = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(big_sigma1)
            .wrapping_add(choose)
            .wrapping_add(*k)
            .wrapping_add(w);
        let big_sigma0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
        let majority = (a & b) ^ (a & c) ^ (b & c);
        let t2 = big_sigma0.wrapping_add(majority);
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (word, add) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *word = word.wrapping_add(add);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(digest: &[u8]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    // FIPS 180-2, appendix C, and the empty message from NIST's examples.
    const ABC: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                       2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
    const EMPTY: &str = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
                         47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
    const MESSAGE_896: &str = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn\
                               hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    const DIGEST_896: &str = "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018\
                              501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909";
    const MILLION_A: &str = "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb\
                             de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b";

    #[test]
    fn fips_180_2_vectors() {
        assert_eq!(hex(&Sha512::digest(b"abc")), ABC);
        assert_eq!(hex(&Sha512::digest(b"")), EMPTY);
        assert_eq!(MESSAGE_896.len() * 8, 896);
        assert_eq!(hex(&Sha512::digest(MESSAGE_896.as_bytes())), DIGEST_896);
    }

    #[test]
    fn one_million_a() {
        let mut hasher = Sha512::new();
        // Pieces of 1000 bytes are not a multiple of the block: the pending path runs too.
        for _ in 0..1000 {
            hasher.update(&[b'a'; 1000]);
        }
        assert_eq!(hex(&hasher.finalize()), MILLION_A);
    }

    #[test]
    fn any_split_gives_the_same_digest() {
        let message: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        let whole = Sha512::digest(&message);
        for split in 0..message.len() {
            let (a, b) = message.split_at(split);
            let mut hasher = Sha512::new();
            hasher.update(a);
            hasher.update(&[]);
            hasher.update(b);
            assert_eq!(hasher.finalize(), whole, "split at {split}");
        }
    }

    #[test]
    fn lengths_around_the_padding_boundary() {
        // 111 bytes leave room for the length in the last block; 112 do not. The digests
        // are coreutils' `sha512sum` of that many 'x'.
        let known = [
            (
                111,
                "9a2a120825c2319867758ec277924f6faa254968bf752046dacdd948d8ad299b\
                   10359fd04bfd7d3810b5fa1b16a294236138baff981cbb85248478053ac4d3dd",
            ),
            (
                112,
                "a3722b515ef40c910f2419f6e0da8ca51d410114ce6272faae64045f9e9f630e\
                   7fa8dd5a3243c9860b899d148c3da4bc0f9e07454542604d030bb55531fe0d5b",
            ),
            (
                128,
                "e2e22f8422b54b06e35c3ea30a383d1de7a8fbc27992923074103117020d8dd7\
                   024c3ecf7d6d1a15a6de5a75ff32fb486b9e8ced4c02ffe05822bf2cb734d0e0",
            ),
            (
                239,
                "805c40517b44cef414a06c632b4ee9c21d34c85a84c3f9530274db86e2a3e38c\
                   b0e54025666b925426bd6860f81538abbfab13011e85767d814a245d232a6044",
            ),
        ];
        for (len, digest) in known {
            let message = vec![b'x'; len];
            assert_eq!(hex(&Sha512::digest(&message)), digest, "length {len}");
            let mut bytewise = Sha512::new();
            for byte in &message {
                bytewise.update(core::slice::from_ref(byte));
            }
            assert_eq!(hex(&bytewise.finalize()), digest, "length {len}, bytewise");
        }
    }
}
