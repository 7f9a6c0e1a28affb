#!/bin/bash
# Replay-from-scratch baseline (docs/BENCHMARKS.md): the way xfstests uses
# replay-log, every prefix state is rebuilt by replaying the dm-log-writes log
# from its start (bench/replay_prefix, as `replay-log --limit N`) and then
# judged with the two e2fsck runs of the ext4-fsck oracle. Compared with
#
#   crashenum check TRACE --oracle=ext4-fsck --from-mark=mkfs \
#       --drop-at-most=0 --torn=none -j 1
#
# on the same states: the crash points crashenum lists, each with the one
# state in which every write submitted before it persisted.
#
#   bazel build -c opt //cli:crashenum //bench:replay_prefix
#   bench/replay_baseline.sh tests/testdata/ext4-append-rename.log
#
# Before timing, checks that the replayed image of every point is byte
# identical to `crashenum materialize` of its state, that both sides judge the
# same number of states, and afterwards that they find the same number of
# failing states. Prints the median wall time of RUNS (default 3) runs of
# each. CRASHENUM and REPLAY_PREFIX override the binaries.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
crashenum=${CRASHENUM:-$root/bazel-out/k8-opt/bin/cli/crashenum}
replay_prefix=${REPLAY_PREFIX:-$root/bazel-out/k8-opt/bin/bench/replay_prefix}
runs=${RUNS:-3}
[ $# -eq 1 ] || { echo "usage: $0 TRACE" >&2; exit 2; }
trace=$(realpath "$1")
for tool in "$crashenum" "$replay_prefix" jq e2fsck cmp; do
  command -v "$tool" >/dev/null || { echo "$0: missing $tool" >&2; exit 2; }
done
model=(--from-mark=mkfs --drop-at-most=0 --torn=none)
# Both sides keep their images in the same place: by default /dev/shm, where
# crashenum check puts its work directory on a machine like this one, else
# $TMPDIR; BENCH_DIR overrides.
dir=${BENCH_DIR:-}
if [ -z "$dir" ]; then
  dir=${TMPDIR:-/tmp}
  [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ] &&
    dir=/dev/shm
fi
work=$(mktemp -d "$dir/replay-baseline.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "$0: $*" >&2; exit 1; }

# The states crashenum checks. With exec:false every state fails, so the JSON
# report names each one.
rc=0
"$crashenum" check "$trace" --oracle=exec:false "${model[@]}" --prune=none \
  -j 1 -q --json="$work/states.json" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "listing the states: crashenum check exited $rc"
mapfile -t states < <(jq -r 'select(.state) | .state' "$work/states.json")
points=$(jq -r 'select(.summary) | .summary.crash_points' "$work/states.json")
[ "${#states[@]}" -eq "$points" ] ||
  fail "${#states[@]} states at $points crash points: not one prefix state each"

# Device size, and the log entry of every event.
"$crashenum" info "$trace" "${model[@]}" --events >"$work/info.txt"
size=$(awk '/^device 0 /{gsub(/-byte/, "", $4); print $4 * $6; exit}' \
  "$work/info.txt")
[ -n "$size" ] || fail "no device size in crashenum info"

# Replay limit of each state: the prefix state of crash point e<k> is the log
# up to and including the entry of event k-1.
limits=()
for id in "${states[@]}"; do
  k=${id%%-*}
  k=${k#e}
  if [ "$k" -eq 0 ]; then
    limits+=(0)
    continue
  fi
  entry=$(awk -v e="e$((k - 1))" '$1 == e && $2 == "entry" {
      sub(/:$/, "", $3); print $3; exit }' "$work/info.txt")
  [ -n "$entry" ] || fail "no entry for event $((k - 1))"
  limits+=($((entry + 1)))
done

# Byte identity of every replayed prefix with crashenum's image.
for i in "${!states[@]}"; do
  "$replay_prefix" --log="$trace" --replay="$work/replayed.img" --size="$size" \
    --limit="${limits[$i]}"
  "$crashenum" materialize "$trace" --state="${states[$i]}" \
    -o "$work/crashenum.img" >/dev/null 2>&1
  cmp -s "$work/replayed.img" "$work/crashenum.img" ||
    fail "state ${states[$i]}: replay --limit=${limits[$i]} differs from crashenum materialize"
done

# The ext4-fsck oracle's two runs (oracles/internal/ext4_fsck_oracle.cc),
# with its environment.
printf '[options]\n\tbroken_system_clock = 1\n' >"$work/e2fsck.conf"
fsck_env=(env -i "PATH=/usr/sbin:/usr/bin:/sbin:/bin" LANG=C LC_ALL=C TZ=UTC
  "E2FSCK_CONFIG=$work/e2fsck.conf" E2FSCK_TIME=2000000000)

# One baseline run; sets baseline_failures.
baseline() {
  baseline_failures=0
  local limit rc
  for limit in "${limits[@]}"; do
    "$replay_prefix" --log="$trace" --replay="$work/image" --size="$size" \
      --limit="$limit"
    rc=0
    "${fsck_env[@]}" e2fsck -E journal_only -y -- "$work/image" \
      >/dev/null 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then
      "${fsck_env[@]}" e2fsck -f -n -- "$work/image" >/dev/null 2>&1 || rc=$?
    fi
    [ "$rc" -eq 0 ] || baseline_failures=$((baseline_failures + 1))
  done
}

# One crashenum run with extra options "$@" (after -j 1, so a -j there
# wins); sets check_rc.
check() {
  check_rc=0
  "$crashenum" check "$trace" --oracle=ext4-fsck "${model[@]}" -j 1 -q \
    --work-dir="$work" --json="$work/check.json" "$@" >/dev/null 2>&1 ||
    check_rc=$?
}

# Reads the report of the last check; sets check_states, check_failures and
# check_runs.
report() {
  [ "$check_rc" -le 1 ] || fail "crashenum check $* exited $check_rc"
  check_states=$(jq -r 'select(.summary) | .summary.states' "$work/check.json")
  check_failures=$(jq -r 'select(.summary) | .summary.failures' "$work/check.json")
  check_runs=$(jq -r 'select(.summary) | .summary.oracle_runs' "$work/check.json")
}

now() { date +%s%N; }
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
seconds() { awk -v ns="$1" 'BEGIN { printf "%.2f", ns / 1e9 }'; }

t_base=() t_check=() t_none=() t_two=()
for ((r = 0; r < runs; ++r)); do
  s=$(now); baseline; t_base+=($(($(now) - s)))
  s=$(now); check; t_check+=($(($(now) - s)))
  report
  runs_default=$check_runs
  s=$(now); check --prune=none; t_none+=($(($(now) - s)))
  report --prune=none
  s=$(now); check -j 2; t_two+=($(($(now) - s)))
  report -j 2
  runs_two=$check_runs
done

[ "$check_states" -eq "${#limits[@]}" ] ||
  fail "crashenum checked $check_states states, the baseline ${#limits[@]}"
[ "$check_failures" -eq "$baseline_failures" ] ||
  fail "failing states: crashenum $check_failures, baseline $baseline_failures"

base=$(median "${t_base[@]}")
chk=$(median "${t_check[@]}")
none=$(median "${t_none[@]}")
two=$(median "${t_two[@]}")
echo "trace: $trace"
echo "prefix states: ${#limits[@]} (all byte-identical to crashenum's); failing: $baseline_failures"
echo "| run | oracle runs | wall time (median of $runs) | baseline / run |"
echo "| --- | --- | --- | --- |"
echo "| replay from scratch + e2fsck | ${#limits[@]} | $(seconds "$base") s | 1.00 |"
echo "| crashenum check -j 1 | $runs_default | $(seconds "$chk") s | $(awk -v a="$base" -v b="$chk" 'BEGIN { printf "%.2f", a / b }') |"
echo "| crashenum check -j 1 --prune=none | $check_runs | $(seconds "$none") s | $(awk -v a="$base" -v b="$none" 'BEGIN { printf "%.2f", a / b }') |"
echo "| crashenum check -j 2 | $runs_two | $(seconds "$two") s | $(awk -v a="$base" -v b="$two" 'BEGIN { printf "%.2f", a / b }') |"
