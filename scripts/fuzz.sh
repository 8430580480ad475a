#!/usr/bin/env bash
# Runs the fuzz targets, each for FUZZ_SECONDS (default 60), with the nightly toolchain
# (libFuzzer + AddressSanitizer need nightly-only -Z flags):
#   framer_decoder  any bytes through a session: framing, parsing, envelope, responses
#   arguments       the file and exec commands' arguments (checked, read through the typed
#                   views, and through a session), base64 both ways, strings in pieces
#   and one per parser of src/formats/ (any bytes in; every record and slice walked;
#   answers borrow only from the input; round trips where a format can be printed back):
#   mountinfo, tzif, utmp, keyfile, netlink, passwd, proc_route, diskstats, proc_stat,
#   os_release, loadavg, nvme_smart, sysfs, cmdline, modules_dep, partitions
# `scripts/fuzz.sh TARGET...` runs only those (as does FUZZ_TARGETS="...").
#   * With cargo-fuzz (installed on demand with `cargo install cargo-fuzz --locked`):
#       cargo +nightly fuzz run TARGET ...
#   * If cargo-fuzz cannot be installed: the same build by hand (`cargo +nightly build`
#     under fuzz/ with the sanitizer-coverage and -Zsanitizer=address flags cargo-fuzz
#     passes), and the resulting libFuzzer binaries are run directly.
# New corpus entries go to fuzz/corpus/TARGET (ignored by git); hand-written seeds live in
# fuzz/seeds/TARGET. Crashes are saved in fuzz/artifacts/TARGET/, each run's log in
# fuzz/artifacts/TARGET.log. Every target runs even if an earlier one failed; the script
# fails if any did, and ends with one summary line per target.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_=${FUZZ_SECONDS:-60}
if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    read -r -a TARGETS <<<"${FUZZ_TARGETS:-framer_decoder arguments mountinfo tzif utmp keyfile netlink passwd proc_route diskstats proc_stat os_release loadavg nvme_smart sysfs cmdline modules_dep partitions}"
fi

if ! cargo +nightly -V >/dev/null 2>&1; then
    echo "fuzz: the nightly toolchain is not installed; fuzzing needs it" >&2
    exit 1
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked || echo "fuzz: cargo-fuzz could not be installed; building by hand"
fi

host=$(rustc +nightly -vV | sed -n 's/^host: //p')
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    # Fallback: what `cargo fuzz build` does (release, debug assertions, ASan, coverage).
    export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks \
-Zsanitizer=address"
    bins=()
    for target in "${TARGETS[@]}"; do bins+=(--bin "$target"); done
    (cd fuzz && cargo +nightly build --release --target "$host" "${bins[@]}")
fi

failed=()
summary=()
for target in "${TARGETS[@]}"; do
    corpus=fuzz/corpus/$target
    seeds=fuzz/seeds/$target
    artifacts=fuzz/artifacts/$target
    log=fuzz/artifacts/$target.log
    mkdir -p "$corpus" "$seeds" "$artifacts"
    echo "fuzz: $target for ${SECONDS_}s (log: $log)"
    flags=(-max_total_time="$SECONDS_" -artifact_prefix="$artifacts/" -print_final_stats=1)
    status=0
    if command -v cargo-fuzz >/dev/null 2>&1; then
        cargo +nightly fuzz run "$target" "$corpus" "$seeds" -- "${flags[@]}" 2>&1 | tee "$log" ||
            status=$?
    else
        "fuzz/target/$host/release/$target" "$corpus" "$seeds" "${flags[@]}" 2>&1 | tee "$log" ||
            status=$?
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    line="$target: ${runs:-?} runs in ${SECONDS_}s"
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        line="$line, FAILED (exit $status; crash input in $artifacts/)"
    else
        line="$line, no crash"
    fi
    summary+=("$line")
done

echo "fuzz: summary"
for line in "${summary[@]}"; do echo "    $line"; done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
