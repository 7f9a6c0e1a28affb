#!/bin/sh
# A longer ext4 workload for the replay-from-scratch comparison
# (docs/BENCHMARKS.md): 60 fsynced 4 KiB appends to a log file, and after
# every tenth a 256 KiB snapshot written to a temporary file, fsynced,
# renamed into place and made durable by an fsync of the directory. Each
# durable step adds a mark. Run under `crashenum record`:
#
#   crashenum record --fs=ext4 --size=64M --format=dm-log-writes \
#       -o fsync-loop.log -- sh bench/fsync_workload.sh
set -eu
d=$CRASHENUM_MNT/logs
mkdir "$d"
n=1
while [ "$n" -le 60 ]; do
  head -c 4096 /dev/zero | tr '\0' 'a' >> "$d/journal.txt"
  sync "$d/journal.txt"
  echo "fsync logs/journal.txt $n" >> "$CRASHENUM_MARK"
  if [ $((n % 10)) -eq 0 ]; then
    head -c 262144 /dev/zero | tr '\0' 's' > "$d/snap.tmp"
    sync "$d/snap.tmp"
    mv "$d/snap.tmp" "$d/snap"
    sync "$d"
    echo "renamed logs/snap $n" >> "$CRASHENUM_MARK"
  fi
  n=$((n + 1))
done
