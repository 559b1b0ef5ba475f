#!/usr/bin/env bash
# bench.sh — every rcemit benchmark with one command (`make bench`), a few minutes in all:
#   1. Rust: formatters (criterion, per format, edit and log), emit (caller cost, sender throughput per
#      format, event-to-datagram latency at 10,000 events/s), flood (1,000,000 emits at a dead receiver).
#      Criterion runs with short warm-up and measurement times.
#   2. PHP: scripts/benchmarkFeeds.php in a throwaway wiki (scripts/bench-php.sh): one notify() of
#      core's XML, JSON and IRC feeds against RcEmitFeed in each format, side by side in one process, each
#      sample after GAP_US of idle time as a wiki worker pays it (a fresh RecentChange every time); an edit
#      and log rows of each kind (protect, move, block, delete, upload, rights).
#   3. The plot: per-notify latency CDFs, core vs rcemit (gnuplot from Debian, installed here if missing).
#
# Usage: bash scripts/bench.sh        Environment: RUNS (PHP samples per row, default 2000), GAP_US (idle
#        time before each PHP sample, default 500; 0 = back to back), HOST_RUNS (core's hostname row, default
#        1000), ONLY=php|rust (one half; php-143: the PHP half on MediaWiki 1.43 in the trixie chroot, as
#        root, `make bench-143`), KEEP=1 (keep the wiki).
# Writes docs/bench/: rust.txt (Rust output), php-notify.txt (the table), php-notify.json (table, machine,
# date), php-notify-quantiles.tsv (the plot's data), php-notify-cdf.png (the plot); php-notify-1.43.* from
# ONLY=php-143. The raw PHP samples
# (row TAB ns) go to target/bench/php-notify-samples.tsv. Timings on a shared machine are noisy: compare the
# ratios of one run, not absolute figures across runs.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/docs/bench
RAW=$REPO/target/bench
RUNS=${RUNS:-2000}
GAP_US=${GAP_US:-500}
HOST_RUNS=${HOST_RUNS:-1000}
ONLY=${ONLY:-}
FAILED=0
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing what is missing (gnuplot-nox for the plot) and building the release library"
"$REPO/scripts/install-deps.sh"
if ! command -v gnuplot >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "bench: gnuplot missing (run as root, or apt-get install gnuplot-nox)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null
fi
mkdir -p "$OUT" "$RAW"
cd "$REPO"

if [ "$ONLY" != php ] && [ "$ONLY" != php-143 ]; then
  step "Rust benchmarks (output also in docs/bench/rust.txt)"
  : >"$OUT/rust.txt"
  for bench in "formatters -- --warm-up-time 1 --measurement-time 2" \
    "emit -- --warm-up-time 1 --measurement-time 3" "flood"; do
    # A failed benchmark (flood exits non-zero when a goal is missed) is reported, and the others still run.
    # shellcheck disable=SC2086
    if ! cargo bench --bench $bench 2>&1 | tee -a "$OUT/rust.txt"; then
      echo "bench: cargo bench --bench $bench failed or missed a goal" | tee -a "$OUT/rust.txt" >&2
      FAILED=1
    fi
  done
  sed -i -E '/^\s*(Compiling|Finished|Running|Benchmarking .*: (Warming|Collecting|Analyzing))/d' "$OUT/rust.txt"
fi
[ "$ONLY" = rust ] && exit "$FAILED"

step "PHP: core's feeds vs RcEmitFeed in a throwaway wiki ($RUNS samples per row, $GAP_US µs idle before each)"
cargo build --release --quiet
# A private copy, so that another build replacing target/release/librcemit.so cannot disturb the run (inside
# the checkout: the trixie chroot sees only the checkout).
mkdir -p "$RAW/lib"
cp target/release/librcemit.so include/rcemit.h "$RAW/lib/"
if [ "$ONLY" = php-143 ]; then
  # MediaWiki 1.43 (PHP 8.4) in the trixie chroot; no plot.
  bash "$REPO/scripts/trixie-chroot.sh" build
  bash "$REPO/scripts/trixie-chroot.sh" run env RUNS="$RUNS" GAP_US="$GAP_US" HOST_RUNS="$HOST_RUNS" \
    bash scripts/bench-php.sh "$RAW/lib"
  exit "$FAILED"
fi
RUNS=$RUNS GAP_US=$GAP_US HOST_RUNS=$HOST_RUNS bash "$REPO/scripts/bench-php.sh" "$RAW/lib"

step "Plot: docs/bench/php-notify-cdf.png"
gnuplot <<GP
set terminal pngcairo size 1500,520 font ",10"
set output "$OUT/php-notify-cdf.png"
set datafile separator "\t"
set logscale x
set xrange [5:2000]
set yrange [0:1]
set grid xtics ytics mxtics
set key bottom right
set xlabel "µs per notify (log scale)"
set ylabel "fraction of notifies at most x"
data = "$OUT/php-notify-quantiles.tsv"
set style line 1 lc rgb "#b2182b" lw 2
set style line 2 lc rgb "#ef8a62" lw 2
set style line 3 lc rgb "#f4a582" lw 2 dt 2
set style line 4 lc rgb "#2166ac" lw 2
set style line 5 lc rgb "#67a9cf" lw 2
set style line 6 lc rgb "#1b7837" lw 2 dt 2
set style line 7 lc rgb "#762a83" lw 2 dt 3
set multiplot layout 1,3 \\
  title "RCFeed::notify() per change, core MediaWiki feeds vs RcEmitFeed ($RUNS runs per row, interleaved)"
do for [kind in "edit log"] {
  set title "one feed, ".kind." event"
  plot data index "[core xml ".kind."]" using 1:2 with lines ls 1 title "core xml", \
       data index "[core json ".kind."]" using 1:2 with lines ls 2 title "core json", \
       data index "[core irc ".kind."]" using 1:2 with lines ls 3 title "core irc", \
       data index "[rcemit xmlrc ".kind."]" using 1:2 with lines ls 4 title "rcemit xmlrc", \
       data index "[rcemit json ".kind."]" using 1:2 with lines ls 5 title "rcemit json", \
       data index "[rcemit xml ".kind."]" using 1:2 with lines ls 6 title "rcemit xml", \
       data index "[rcemit irc ".kind."]" using 1:2 with lines ls 7 title "rcemit irc"
}
set title "edit event: three feeds; unresolvable host name"
set xrange [5:1000000]
plot data index "[core 3 feeds edit]" using 1:2 with lines ls 1 title "core xml+json+irc", \
     data index "[rcemit 3 feeds edit]" using 1:2 with lines ls 4 title "rcemit xmlrc+json+irc", \
     data index "[core xml edit, hostname]" using 1:2 with lines ls 2 title "core xml, host name", \
     data index "[rcemit xmlrc edit, hostname]" using 1:2 with lines ls 5 title "rcemit xmlrc, host name", \
     data index "[rcemit xmlrc edit]" using 1:2 with lines ls 6 title "rcemit xmlrc, IP"
unset multiplot
GP
echo "bench: results in docs/bench/ (raw PHP samples: target/bench/php-notify-samples.tsv)"
exit "$FAILED"
