#!/bin/sh
# The cost of the read-set shim on a real oracle: wall time of `e2fsck -fn`
# on a 64 MiB ext4 image holding 1,000 files (made by mkfs.ext4 -d), RUNS
# runs without and RUNS runs with the shim, alternating; prints the median
# and mean of each, their ratios and the size of the recorded read set.
#
#   bazel build //readset:libcrashenum_readset.so
#   sh readset/measure.sh [SHIM] [RUNS]
#
# SHIM defaults to bazel-bin/readset/libcrashenum_readset.so, RUNS to 20.
set -eu
shim=$(realpath "${1:-bazel-bin/readset/libcrashenum_readset.so}")
runs=${2:-20}
PATH=/usr/sbin:/sbin:$PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir "$work/tree"
i=0
while [ "$i" -lt 40 ]; do
  mkdir "$work/tree/d$i"
  j=0
  while [ "$j" -lt 25 ]; do
    head -c $(( (i * 25 + j) % 32 * 1024 + 512 )) /dev/urandom \
      > "$work/tree/d$i/f$j"
    j=$((j + 1))
  done
  i=$((i + 1))
done
image="$work/image"
truncate -s 64M "$image"
mkfs.ext4 -q -F -d "$work/tree" "$image"
mkdir "$work/out"

now() { date +%s%N; }
n=0
while [ "$n" -lt "$runs" ]; do
  rm -f "$work/out"/*.rs
  t0=$(now)
  e2fsck -fn "$image" > /dev/null 2>&1
  t1=$(now)
  LD_PRELOAD="$shim" CRASHENUM_READSET_FILES="$image" \
    CRASHENUM_READSET_OUT="$work/out" e2fsck -fn "$image" > /dev/null 2>&1
  t2=$(now)
  echo $((t1 - t0)) >> "$work/plain"
  echo $((t2 - t1)) >> "$work/shim"
  n=$((n + 1))
done
median() {
  sort -n "$1" | awk '{ v[NR] = $1 }
    END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
mean() { awk '{ s += $1 } END { print s / NR }' "$1"; }
read_bytes=$(awk '$1 == "r" { s += $4 - $3 } END { print s + 0 }' \
  "$work/out"/*.rs)
ranges=$(grep -c '^r ' "$work/out"/*.rs || true)
awk -v pm="$(median "$work/plain")" -v sm="$(median "$work/shim")" \
  -v pa="$(mean "$work/plain")" -v sa="$(mean "$work/shim")" -v r="$runs" \
  -v b="$read_bytes" -v k="$ranges" 'BEGIN {
    printf "e2fsck -fn, 64 MiB ext4, %d runs each (wall time, ms)\n", r
    printf "without shim: median %.2f, mean %.2f\n", pm / 1e6, pa / 1e6
    printf "with shim:    median %.2f, mean %.2f\n", sm / 1e6, sa / 1e6
    printf "ratio:        median %.3f, mean %.3f\n", sm / pm, sa / pa
    printf "read set:     %d bytes in %d ranges (of 67108864)\n", b, k
  }'
