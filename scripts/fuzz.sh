#!/usr/bin/env bash
# Bounded fuzzing of every target in fuzz/ (cargo-fuzz: libFuzzer + AddressSanitizer), on the stable toolchain.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to $FUZZ_SECONDS or 20 (make test: 7 targets, about 2.5 minutes plus the first
# build). Targets default to all of them (cargo fuzz list). Prints executions per target and fails if any
# target finds a crash; the input that caused it is kept in fuzz/artifacts/<target>/ (replay it with
# `RUSTC_BOOTSTRAP=1 cargo fuzz run -O <target> <file>`). Corpora grow in fuzz/corpus/ across runs.
#
# A longer run, e.g. an hour per target on both cores:
#   FUZZ_SECONDS=3600 FUZZ_JOBS=2 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-${FUZZ_SECONDS:-20}}
shift || true
jobs=${FUZZ_JOBS:-1}

# Pinned: the version these targets were written and run with.
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, -Cpasses=sancov-module); only the stable
# toolchain is installed, and RUSTC_BOOTSTRAP lets it accept them. The sanitizer runtimes ship with stable.
export RUSTC_BOOTSTRAP=1

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# Seeds: the payloads MediaWiki itself built for the golden tests (every version's cases-*.json), and a few feed
# configs.
python3 - <<'EOF'
import base64, glob, json, os
payloads = [base64.b64decode(c["payload_b64"]) for path in sorted(glob.glob("tests/goldens/cases*.json"))
            for run in json.load(open(path))["runs"] for c in run["cases"]]
def seed(target, name, data):
    os.makedirs(f"fuzz/corpus/{target}", exist_ok=True)
    with open(f"fuzz/corpus/{target}/seed-{name}", "wb") as f:
        f.write(data)
for i, p in enumerate(payloads):
    seed("payload_decode", f"golden-{i}", p)
    # ffi_feed_emit reads a feed index (byte % 4) and a mode byte (odd: the rest is the payload) first.
    seed("ffi_feed_emit", f"golden-{i}", bytes([i % 4, 1]) + p)
configs = [
    {"uri": "udp://127.0.0.1:9390"},
    {"uri": "udp://[::1]:9390/#en.wikipedia\t", "format": "irc", "max_datagram": 1400,
     "irc_interwiki_prefix": "en", "special_namespace": "Spezial"},
    {"uri": "udp://relay.example:9390/", "format": "xmlrc", "xmlrc_properties": "user|title|sha1",
     "channel": None, "use_rc_patrol": True},
]
for i, c in enumerate(configs):
    seed("ffi_feed_open", f"config-{i}", b"\0" + json.dumps(c).encode())
EOF

parallel=()
if [ "$jobs" -gt 1 ]; then
    parallel=(-jobs="$jobs" -workers="$jobs")
fi
status=0
summary=()
for target in "${targets[@]}"; do
    log=fuzz/artifacts/$target.log
    mkdir -p fuzz/artifacts
    echo "== $target: ${seconds}s"
    if cargo fuzz run -O "$target" -- -max_total_time="$seconds" "${parallel[@]}" \
        -max_len=16384 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see $log and fuzz/artifacts/$target/)"
        status=1
        tail -40 "$log"
    fi
    # With FUZZ_JOBS > 1 each libFuzzer worker writes its own fuzz-N.log beside the fuzz project.
    execs=$(cat "$log" fuzz/fuzz-*.log 2>/dev/null | awk '/stat::number_of_executed_units/ {s += $2} END {print s + 0}' || true)
    rm -f fuzz/fuzz-*.log
    summary+=("$(printf '%-16s %12s executions  %s' "$target" "$execs" "$result")")
done
printf '%s\n' "${summary[@]}"
exit $status
