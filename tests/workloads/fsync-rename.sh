#!/bin/sh
# A small fsync/rename workload for `crashenum record`: the classic
# "replace a file atomically" sequence, with a mark after each step the
# application considers durable.
#   file      written and fsynced                       -> mark fsync-file
#   file.tmp  written and fsynced, renamed over file,
#             then the directory synced                  -> mark rename
# Marks are added with `crashenum mark` when CRASHENUM_BIN names the binary,
# else by writing to $CRASHENUM_MARK directly.
set -eu
m=$CRASHENUM_MNT
mark() {
  if [ -n "${CRASHENUM_BIN:-}" ]; then
    "$CRASHENUM_BIN" mark "$1"
  else
    echo "$1" >> "$CRASHENUM_MARK"
  fi
}
printf 'first version\n' > "$m/file"
sync "$m/file"
mark fsync-file
printf 'second version, longer than the first one\n' > "$m/file.tmp"
sync "$m/file.tmp"
mv "$m/file.tmp" "$m/file"
sync -f "$m/file"
mark rename
