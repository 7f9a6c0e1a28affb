#!/bin/sh
# A small fsync/rename workload for `crashenum record`: the classic
# "replace a file atomically" sequence, with a mark after each step the
# application considers durable.
#   file      written and fsynced                       -> crashenum mark fsync-file
#   file.tmp  written and fsynced, renamed over file,
#             then the directory synced                  -> echo rename >> "$CRASHENUM_MARK"
# The first mark is added with `crashenum mark` (record puts its own
# directory first on the workload's PATH), the second by writing to
# $CRASHENUM_MARK directly.
set -eu
m=$CRASHENUM_MNT
printf 'first version\n' > "$m/file"
sync "$m/file"
crashenum mark fsync-file
printf 'second version, longer than the first one\n' > "$m/file.tmp"
sync "$m/file.tmp"
mv "$m/file.tmp" "$m/file"
sync -f "$m/file"
echo rename >> "$CRASHENUM_MARK"
