#!/bin/bash
# Peak memory of crashenum check on large dm-log-writes logs
# (docs/BENCHMARKS.md). For each size in MiB (default: 64 256 1024) it writes
# a log with bench/gen_dm_log (4 KiB writes over a 2 GiB device) and runs
#
#   /usr/bin/time -v crashenum check LOG --oracle=exec:true \
#       --drop-at-most=0 --torn=none -j J      (J = 1 and 2)
#
# printing the crash points, wall time and peak RSS. A run is killed when its
# RSS passes MAX_RSS_MIB (default 6144) or it runs longer than MAX_SECONDS
# (default 3600), so a machine shared with others is not driven out of memory;
# the table then says so. Then bench/space_sizes shows where the memory goes.
#
#   bazel build -c opt //cli:crashenum //bench:gen_dm_log //bench:space_sizes
#   bench/memory.sh [MIB...]
#
# Logs go to $BENCH_DIR (default $TMPDIR or /tmp). CRASHENUM, GEN_DM_LOG and
# SPACE_SIZES override the binaries.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bazel-out/k8-opt/bin
crashenum=${CRASHENUM:-$bin/cli/crashenum}
gen=${GEN_DM_LOG:-$bin/bench/gen_dm_log}
space_sizes=${SPACE_SIZES:-$bin/bench/space_sizes}
max_rss=${MAX_RSS_MIB:-6144}
max_seconds=${MAX_SECONDS:-3600}
dir=${BENCH_DIR:-${TMPDIR:-/tmp}}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(64 256 1024)
for tool in "$crashenum" "$gen" "$space_sizes" /usr/bin/time; do
  [ -x "$tool" ] || { echo "$0: missing $tool" >&2; exit 2; }
done
work=$(mktemp -d "$dir/memory.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Runs crashenum check with `-j $1` on log $2 under /usr/bin/time -v, killing
# it past the limits; prints one table row.
measure() {
  local jobs=$1 log=$2 pid start peak=0 rss killed=""
  start=$(date +%s)
  /usr/bin/time -v -o "$work/time.txt" "$crashenum" check "$log" \
    --oracle=exec:true --drop-at-most=0 --torn=none -j "$jobs" -q \
    --work-dir="$work" >"$work/out.txt" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    local child
    child=$(pgrep -P "$pid" -x crashenum || true)
    [ -n "$child" ] || continue
    rss=$(awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$child/status" \
      2>/dev/null || echo 0)
    [ "${rss:-0}" -gt "$peak" ] && peak=$rss
    if [ "${rss:-0}" -gt "$max_rss" ]; then
      killed="killed at ${rss} MiB RSS"
    elif [ $(($(date +%s) - start)) -gt "$max_seconds" ]; then
      killed="killed after ${max_seconds} s"
    fi
    if [ -n "$killed" ]; then
      kill -KILL "$child" 2>/dev/null || true
      break
    fi
  done
  wait "$pid" || true
  local points wall max_kib
  points=$(awk '$2 == "crash" && $3 == "points," { print $1; exit }' "$work/out.txt")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$work/time.txt")
  max_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")
  echo "| $(($(stat -c %s "$log") >> 20)) MiB | -j $jobs | ${points:-?} | $wall |" \
    "$((max_kib / 1024)) MiB | ${killed:-finished} |"
}

echo "| log | jobs | crash points | wall time | peak RSS | |"
echo "| --- | --- | --- | --- | --- | --- |"
for mib in "${sizes[@]}"; do
  log=$work/gen-$mib.log
  "$gen" --out="$log" --log-bytes=$((mib << 20))
  measure 1 "$log"
  measure 2 "$log"
  "$space_sizes" "$log" --every=$((mib / 8 + 1)) >"$work/space-$mib.txt"
  rm -f "$log.img"* "$work"/*.img 2>/dev/null || true
  cp "$work/space-$mib.txt" "$dir/space_sizes-$mib.txt"
  [ "$mib" = "${sizes[-1]}" ] || rm -f "$log"
done
echo
echo "Per crash point (bench/space_sizes, every N-th point; copies in $dir):"
for mib in "${sizes[@]}"; do
  echo "== $mib MiB log"
  cat "$dir/space_sizes-$mib.txt"
done
