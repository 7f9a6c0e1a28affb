#!/bin/sh
# The workload of tests/testdata/ext4-append-rename*.log: three fsynced
# appends to a log file, then a snapshot written to a temporary file,
# fsynced, renamed into place and made durable by an fsync of the directory.
# Each durable step adds a mark. Run by tests/testdata/make-fixtures.sh under
# `crashenum record`.
set -eu
d=$CRASHENUM_MNT/logs
mkdir "$d"
for n in 1 2 3; do
  echo "record $n" >> "$d/journal.txt"
  sync "$d/journal.txt"                       # fsync(2) of the file
  echo "fsync logs/journal.txt $n" >> "$CRASHENUM_MARK"
done
head -c 12000 /dev/zero | tr '\0' 's' > "$d/snap.tmp"
sync "$d/snap.tmp"
mv "$d/snap.tmp" "$d/snap"
sync "$d"                                     # fsync(2) of the directory
echo "renamed logs/snap" >> "$CRASHENUM_MARK"
