#!/bin/sh
# Regenerates the recorded traces in tests/testdata with `crashenum record`
# (needs root, /dev/fuse, loop devices, e2fsprogs). Run from the repository
# root:
#
#     sudo sh tests/testdata/make-fixtures.sh [OUTDIR]
#
# Each fixture: a 16 MiB disk, mkfs.ext4 with its defaults, a `mkfs` mark,
# tests/workloads/append-rename.sh on the mounted file system, an `umount`
# mark, written as a dm-log-writes log (so replay-log reads it too):
#
#   ext4-append-rename.log            mounted with the default options
#   ext4-append-rename-nobarrier.log  mounted with barrier=0: ext4 never asks
#                                     the disk to flush
#
# The committed files are the reference recordings described in
# tests/testdata/README.md (made the same way, without the META flags this
# recorder adds). A fresh recording differs byte for byte (mkfs picks new
# UUIDs and timestamps; writes are larger, up to 1 MiB, and write-zeroes
# requests arrive as writes of zeroes), but gives the same answers: 33
# distinct images, none failing (at most one write dropped), 92 exhaustively,
# and 21 with 6 failing without barriers. tests/record_e2e_test.cc checks
# exactly that on a fresh pair.
set -eu
out=${1:-tests/testdata}
bin=${CRASHENUM:-bazel-bin/cli/crashenum}
[ -x "$bin" ] || bazel build //cli:crashenum
record() {
  name=$1
  shift
  "$bin" record --fs=ext4 --size=16M --format=dm-log-writes "$@" \
    -o "$out/$name" -- sh tests/workloads/append-rename.sh
}
record ext4-append-rename.log
record ext4-append-rename-nobarrier.log --mount-opts=barrier=0
