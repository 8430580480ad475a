#!/usr/bin/env bash
# Runs the framer_decoder fuzz target for FUZZ_SECONDS (default 60) with the nightly
# toolchain (libFuzzer + AddressSanitizer need nightly-only -Z flags).
#   * With cargo-fuzz (installed on demand with `cargo install cargo-fuzz --locked`):
#       cargo +nightly fuzz run framer_decoder ...
#   * If cargo-fuzz cannot be installed: the same build by hand (`cargo +nightly build`
#     under fuzz/ with the sanitizer-coverage and -Zsanitizer=address flags cargo-fuzz
#     passes), and the resulting libFuzzer binary is run directly.
# New corpus entries go to fuzz/corpus/framer_decoder (ignored by git); hand-written seeds
# live in fuzz/seeds/framer_decoder. Crashes are saved in fuzz/artifacts/framer_decoder/.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=framer_decoder
SECONDS_=${FUZZ_SECONDS:-60}
CORPUS=fuzz/corpus/$TARGET
SEEDS=fuzz/seeds/$TARGET
ARTIFACTS=fuzz/artifacts/$TARGET
mkdir -p "$CORPUS" "$ARTIFACTS"

if ! cargo +nightly -V >/dev/null 2>&1; then
    echo "fuzz: the nightly toolchain is not installed; fuzzing needs it" >&2
    exit 1
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked || echo "fuzz: cargo-fuzz could not be installed; building by hand"
fi

if command -v cargo-fuzz >/dev/null 2>&1; then
    exec cargo +nightly fuzz run "$TARGET" "$CORPUS" "$SEEDS" -- \
        -max_total_time="$SECONDS_" -artifact_prefix="$ARTIFACTS/" -print_final_stats=1
fi

# Fallback: what `cargo fuzz build` does (release, debug assertions, ASan, coverage).
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks \
-Zsanitizer=address"
(cd fuzz && cargo +nightly build --release --target "$host" --bin "$TARGET")
exec "fuzz/target/$host/release/$TARGET" "$CORPUS" "$SEEDS" \
    -max_total_time="$SECONDS_" -artifact_prefix="$ARTIFACTS/" -print_final_stats=1
