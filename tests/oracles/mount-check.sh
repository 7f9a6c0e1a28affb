#!/bin/sh
# Checks a crash image of FS (xfs or btrfs) the way the kernel would see it
# after the crash: a loop mount replays the log, an unmount writes it back,
# then the file system's own checker judges the image (read-only).
# usage: mount-check.sh FS IMAGE    (needs root; exit 0 means consistent)
#
# Images of one trace share their file system's UUID, and the kernel and the
# checkers key file systems by it: xfs mounts with nouuid, and the whole check
# runs one image at a time (a lock), so parallel workers never overlap.
set -u
fs=$1
image=$2
mnt=$(mktemp -d) || exit 3
trap 'umount "$mnt" 2>/dev/null; rmdir "$mnt"' EXIT
opts=loop
[ "$fs" = xfs ] && opts=loop,nouuid
exec 9>"${TMPDIR:-/tmp}/crashenum-mount-check.lock"
flock 9
if ! mount -t "$fs" -o "$opts" "$image" "$mnt" 2>&1; then
  echo "mount failed: the log could not be replayed"
  exit 1
fi
umount "$mnt" || exit 3
case $fs in
  xfs) xfs_repair -n "$image" 2>&1 ;;
  btrfs) btrfs check --readonly "$image" 2>&1 ;;
  *) echo "unknown file system $fs"; exit 3 ;;
esac
