#!/bin/bash
# Whole-command timings of docs/BENCHMARKS.md on the recorded ext4 traces.
# Each configuration runs RUNS times (default 3); a row gives the report's
# counts, the median wall time and the peak RSS of that median run.
#
#   bazel build -c opt //cli:crashenum
#   bench/whole_command.sh            # every table
#   bench/whole_command.sh scaling    # only -j 1 against -j 2
#
# CRASHENUM overrides the binary. Measure on a quiet machine (see uptime).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
crashenum=${CRASHENUM:-$root/bazel-out/k8-opt/bin/cli/crashenum}
runs=${RUNS:-3}
only=${1:-all}
barrier=$root/tests/testdata/ext4-append-rename.log
nobarrier=$root/tests/testdata/ext4-append-rename-nobarrier.log
command -v jq >/dev/null || { echo "$0: needs jq" >&2; exit 2; }
[ -x "$crashenum" ] || { echo "$0: missing $crashenum" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/whole-command.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Prints one row: label $1, then `crashenum VERB ARGS...` ($2...) run RUNS
# times. For check, the counts come from its --json summary.
row() {
  local label=$1
  shift
  local verb=$1 samples=() r rc t m
  local extra=()
  [ "$verb" = check ] && extra=(-q "--json=$work/report.json")
  for ((r = 0; r < runs; ++r)); do
    rc=0
    /usr/bin/time -f '%e %M' -o "$work/time" "$crashenum" "$@" "${extra[@]}" \
      >/dev/null 2>"$work/err" || rc=$?
    if [ "$rc" -gt 1 ]; then
      echo "$0: crashenum $* exited $rc" >&2
      cat "$work/err" >&2
      exit 1
    fi
    # The last line: time writes "Command exited with non-zero status 1"
    # first when there are findings.
    read -r t m < <(tail -n 1 "$work/time")
    samples+=("$t $m")
  done
  local median counts="| - | - | -"
  median=$(printf '%s\n' "${samples[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
  if [ "$verb" = check ]; then
    counts=$(jq -r 'select(.summary) | .summary |
      "| \(.states) | \(.distinct_images) | \(.oracle_runs)"' "$work/report.json")
  fi
  awk -v l="$label" -v c="$counts" -v m="$median" 'BEGIN {
    split(m, a, " "); printf "| %s %s | %.2f s | %.1f MiB |\n", l, c, a[1], a[2] / 1024 }'
}

header() {
  echo
  echo "$1"
  echo "| run | states | distinct images | oracle runs | wall (median of $runs) | peak RSS |"
  echo "| --- | --- | --- | --- | --- | --- |"
}

model=(--from-mark=mkfs --torn=none)
if [ "$only" = all ]; then
  header "Whole command, barrier and nobarrier traces"
  row "barrier, info (planning only)" info "$barrier" "${model[@]}"
  row "barrier, ext4-fsck, exhaustive, -j 1" check "$barrier" --oracle=ext4-fsck "${model[@]}" -j 1
  row "barrier, ext4-fsck, exhaustive, --prune=none, -j 1" check "$barrier" --oracle=ext4-fsck "${model[@]}" --prune=none -j 1
  row "barrier, ext4-fsck, exhaustive, --prune=readset, -j 1" check "$barrier" --oracle=ext4-fsck "${model[@]}" --prune=readset -j 1
  row "barrier, exec:true, exhaustive, --prune=none, -j 1" check "$barrier" --oracle=exec:true "${model[@]}" --prune=none -j 1
  row "nobarrier, ext4-fsck, --drop-at-most=1, -j 1" check "$nobarrier" --oracle=ext4-fsck "${model[@]}" --drop-at-most=1 -j 1
  row "nobarrier, ext4-fsck, --drop-at-most=2, --prune=none, -j 1" check "$nobarrier" --oracle=ext4-fsck "${model[@]}" --drop-at-most=2 --prune=none -j 1
  row "nobarrier, ext4-fsck, --drop-at-most=2, --prune=readset, -j 1" check "$nobarrier" --oracle=ext4-fsck "${model[@]}" --drop-at-most=2 --prune=readset -j 1
  row "nobarrier, ext4-fsck, --drop-at-most=2, -j 1" check "$nobarrier" --oracle=ext4-fsck "${model[@]}" --drop-at-most=2 -j 1
fi
header "Scaling: -j 1 against -j 2, barrier trace, exhaustive"
for prune in z3 none; do
  for j in 1 2; do
    row "ext4-fsck, --prune=$prune, -j $j" check "$barrier" --oracle=ext4-fsck "${model[@]}" --prune=$prune -j $j
  done
done
for j in 1 2; do
  row "exec:'sleep 0.02', --prune=none, -j $j" check "$barrier" "--oracle=exec:sleep 0.02" "${model[@]}" --prune=none -j $j
done
