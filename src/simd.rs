//! Vector instructions for the one loop where they pay: base64 encoding, which took 46 % of
//! the agent's CPU time (kernel included) in `guest-file-read`s before it had them, and
//! 18-24 % since (perf, task-clock, over the bench's reads). The rest is the kernel's.
//!
//! [`base64_encode_blocks`] encodes a prefix of its input with the vector unit and says how
//! much it took; `protocol::base64` encodes the rest, and everything on CPUs without one.
//! So the portable encoder stays the definition of the output, and this module only has
//! to agree with it (tests below check that on every byte value and alignment).
//!
//! - x86_64: SSSE3 (`pshufb`), detected at run time with `cpuid`: the baseline x86_64
//!   has only SSE2, and QEMU's default `qemu64` CPU model lacks SSSE3. 12 bytes a step.
//! - aarch64: NEON, which every aarch64 CPU has: 48 bytes a step through a 64-byte table.
//! - elsewhere (s390x, riscv64, bare metal): nothing taken.
//!
//! The two kernels are W. Muła's and D. Lemire's well-known methods ("Faster Base64
//! Encoding and Decoding using AVX2 Instructions", 2018), at 128 bits.

/// The standard base64 alphabet (RFC 4648 section 4), which qemu-ga and GLib use.
pub const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes the longest prefix of `input` that the vector unit handles into `out`, and
/// returns the bytes taken: a multiple of 3, whose `taken / 3 * 4` characters are
/// `out`'s start. It reads no further than `input`'s end and writes no further than
/// `out`'s; 0 where there is no vector unit, or too little input for one step.
pub fn base64_encode_blocks(input: &[u8], out: &mut [u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if x86_64::has_ssse3() {
            return x86_64::encode(input, out);
        }
        0
    }
    #[cfg(target_arch = "aarch64")]
    {
        aarch64::encode(input, out)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = (input, out);
        0
    }
}

#[cfg(target_arch = "x86_64")]
mod x86_64 {
    use core::arch::x86_64::*;
    use core::sync::atomic::{AtomicU8, Ordering};

    /// 0: not asked yet; 1: no SSSE3; 2: SSSE3.
    static SSSE3: AtomicU8 = AtomicU8::new(0);

    pub fn has_ssse3() -> bool {
        match SSSE3.load(Ordering::Relaxed) {
            0 => {
                // CPUID leaf 1, ECX bit 9. (Every x86_64 CPU has leaf 1.)
                let ssse3 = __cpuid(1).ecx & (1 << 9) != 0;
                SSSE3.store(1 + ssse3 as u8, Ordering::Relaxed);
                ssse3
            }
            known => known == 2,
        }
    }

    pub fn encode(input: &[u8], out: &mut [u8]) -> usize {
        // SAFETY: `has_ssse3` said this CPU runs SSSE3 instructions.
        unsafe { encode_ssse3(input, out) }
    }

    /// Each step loads 16 bytes and encodes the first 12 of them into 16 characters, so it
    /// runs while 16 bytes are left to read and 16 characters to write.
    #[target_feature(enable = "ssse3")]
    fn encode_ssse3(input: &[u8], out: &mut [u8]) -> usize {
        let (slots, _) = out.as_chunks_mut::<16>();
        let mut steps = 0;
        for (window, slot) in input.windows(16).step_by(12).zip(slots) {
            // SAFETY: `window` is 16 readable bytes; the load has no alignment requirement.
            let v = unsafe { _mm_loadu_si128(window.as_ptr().cast()) };
            let text = characters(indices(v));
            // SAFETY: `slot` is 16 writable bytes; the store has no alignment requirement.
            unsafe { _mm_storeu_si128(slot.as_mut_ptr().cast(), text) };
            steps += 1;
        }
        steps * 12
    }

    /// Bytes 0..12 of `v` as sixteen 6-bit values, one a byte, in output order: each
    /// group of three bytes is copied into a 32-bit lane as (b1, b0, b2, b1), and two
    /// multiplies shift each 6-bit field into place.
    #[target_feature(enable = "ssse3")]
    fn indices(v: __m128i) -> __m128i {
        let lanes = _mm_shuffle_epi8(
            v,
            _mm_set_epi8(10, 11, 9, 10, 7, 8, 6, 7, 4, 5, 3, 4, 1, 2, 0, 1),
        );
        // Fields 0 and 2 of each group: shifted right by 10 and 6 within 16-bit halves.
        let high = _mm_mulhi_epu16(
            _mm_and_si128(lanes, _mm_set1_epi32(0x0fc0_fc00)),
            _mm_set1_epi32(0x0400_0040),
        );
        // Fields 1 and 3: shifted left by 4 and 8.
        let low = _mm_mullo_epi16(
            _mm_and_si128(lanes, _mm_set1_epi32(0x003f_03f0)),
            _mm_set1_epi32(0x0100_0010),
        );
        _mm_or_si128(high, low)
    }

    /// Sixteen 6-bit values as alphabet characters: each value's range (A-Z, a-z, 0-9,
    /// `+`, `/`) picks the offset added to it, from a 16-entry table.
    #[target_feature(enable = "ssse3")]
    fn characters(indices: __m128i) -> __m128i {
        // 0 for 26..=51, 1..=12 for 52..=63 (one entry per value from 52), 13 for 0..=25.
        let above_51 = _mm_subs_epu8(indices, _mm_set1_epi8(51));
        let below_26 = _mm_cmpgt_epi8(_mm_set1_epi8(26), indices);
        let range = _mm_or_si128(above_51, _mm_and_si128(below_26, _mm_set1_epi8(13)));
        let digit = (b'0' as i8).wrapping_sub(52);
        let offsets = _mm_setr_epi8(
            (b'a' as i8).wrapping_sub(26),
            digit,
            digit,
            digit,
            digit,
            digit,
            digit,
            digit,
            digit,
            digit,
            digit,
            (b'+' as i8).wrapping_sub(62),
            (b'/' as i8).wrapping_sub(63),
            b'A' as i8,
            0,
            0,
        );
        _mm_add_epi8(_mm_shuffle_epi8(offsets, range), indices)
    }
}

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use core::arch::aarch64::*;

    pub fn encode(input: &[u8], out: &mut [u8]) -> usize {
        // SAFETY: NEON is part of the aarch64 baseline (the target enables it): every
        // aarch64 CPU runs these instructions.
        unsafe { encode_neon(input, out) }
    }

    /// Each step loads 48 bytes as three registers of every third byte, splits them into
    /// four registers of 6-bit values, looks those up in the alphabet (a 64-byte table is
    /// one `tbl` of four registers) and stores the four interleaved: 64 characters.
    #[target_feature(enable = "neon")]
    fn encode_neon(input: &[u8], out: &mut [u8]) -> usize {
        // SAFETY: ALPHABET is 64 readable bytes.
        let alphabet = unsafe { vld1q_u8_x4(super::ALPHABET.as_ptr()) };
        let (blocks, _) = input.as_chunks::<48>();
        let (slots, _) = out.as_chunks_mut::<64>();
        let six = vdupq_n_u8(0x3f);
        let mut steps = 0;
        for (block, slot) in blocks.iter().zip(slots) {
            // SAFETY: `block` is 48 readable bytes; the load has no alignment requirement.
            let uint8x16x3_t(a, b, c) = unsafe { vld3q_u8(block.as_ptr()) };
            let text = uint8x16x4_t(
                vqtbl4q_u8(alphabet, vshrq_n_u8::<2>(a)),
                vqtbl4q_u8(
                    alphabet,
                    vandq_u8(vorrq_u8(vshlq_n_u8::<4>(a), vshrq_n_u8::<4>(b)), six),
                ),
                vqtbl4q_u8(
                    alphabet,
                    vandq_u8(vorrq_u8(vshlq_n_u8::<2>(b), vshrq_n_u8::<6>(c)), six),
                ),
                vqtbl4q_u8(alphabet, vandq_u8(c, six)),
            );
            // SAFETY: `slot` is 64 writable bytes; the store has no alignment requirement.
            unsafe { vst4q_u8(slot.as_mut_ptr(), text) };
            steps += 1;
        }
        steps * 48
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: three bytes, four characters.
    fn reference(input: &[u8]) -> Vec<u8> {
        let mut text = Vec::new();
        for g in input.chunks_exact(3) {
            let v = (g[0] as usize) << 16 | (g[1] as usize) << 8 | g[2] as usize;
            for shift in [18, 12, 6, 0] {
                text.push(ALPHABET[v >> shift & 63]);
            }
        }
        text
    }

    #[test]
    fn agrees_with_the_definition_on_every_byte_value_length_and_room() {
        // Pseudo-random bytes, so every 6-bit value meets every position.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let data: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .chain(0..=255)
            .collect();
        for start in 0..16 {
            for len in (0..200).chain([1000, 4000]) {
                let input = &data[start..start + len];
                for room in [0, 15, 16, 63, 64, 65, 100, 6000] {
                    let mut out = vec![0xAAu8; room + 16];
                    let taken = base64_encode_blocks(input, &mut out[..room]);
                    assert_eq!(taken % 3, 0);
                    assert!(taken <= len);
                    let written = taken / 3 * 4;
                    assert!(written <= room);
                    assert_eq!(out[..written], reference(&input[..taken]));
                    assert!(
                        out[written..].iter().all(|&b| b == 0xAA),
                        "nothing past the text"
                    );
                }
            }
        }
    }

    #[test]
    fn takes_nearly_all_of_a_large_input_where_there_is_a_vector_unit() {
        let mut out = [0u8; 1024];
        let taken = base64_encode_blocks(&[7u8; 768], &mut out);
        #[cfg(target_arch = "x86_64")]
        if !x86_64::has_ssse3() {
            eprintln!("SKIPPED: this x86_64 CPU has no SSSE3: its vector path is not tested");
            return;
        }
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            assert!(taken >= 768 - 48, "taken {taken}");
        } else {
            assert_eq!(taken, 0);
        }
    }
}
