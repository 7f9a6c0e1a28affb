#!/bin/sh
# A workload for the durability oracle: each step that the application
# considers durable is made durable with fsync(2) (coreutils `sync FILE` or
# `sync DIR`), then stated with a durability mark (`crashenum mark --durable`).
#   data/              made and its parent synced          -> mkdir data
#   data/config        written, fsynced, directory synced  -> fsync data/config
#   data/config.tmp    written and fsynced                 -> fsync data/config.tmp
#                      renamed over data/config, directory
#                      synced                              -> rename data/config.tmp data/config
#   data/stale         written and fsynced, then removed
#                      and the directory synced            -> fsync data/stale, unlink data/stale
#   data/log           appended and fsynced                -> fsync data/log
#                      appended again without an fsync     -> dirty data/log (first)
# With the argument "skip-fsync", data/config is not fsynced before its mark:
# the mark then claims a durability the workload never asked for, which the
# durability oracle finds (ext4 keeps the content in its delayed allocation,
# so the file is empty on disk until the next step replaces it). With
# "no-dirty", the dirty mark is left out: the oracle then still expects the
# first content of data/log after the second append, which is wrong.
set -eu
m=$CRASHENUM_MNT
mode=${1:-}
mkdir "$m/data"
sync "$m"
crashenum mark --durable mkdir "$m/data"

printf 'version 1\n' > "$m/data/config"
[ "$mode" = skip-fsync ] || sync "$m/data/config"
sync "$m/data"
crashenum mark --durable fsync "$m/data/config"

printf 'version 2, longer than the first one\n' > "$m/data/config.tmp"
sync "$m/data/config.tmp"
crashenum mark --durable fsync "$m/data/config.tmp"
mv "$m/data/config.tmp" "$m/data/config"
sync "$m/data"
crashenum mark --durable rename "$m/data/config.tmp" "$m/data/config"

printf 'stale\n' > "$m/data/stale"
sync "$m/data/stale"
sync "$m/data"
crashenum mark --durable fsync "$m/data/stale"
rm "$m/data/stale"
sync "$m/data"
crashenum mark --durable unlink "$m/data/stale"

printf 'entry 1\n' > "$m/data/log"
sync "$m/data/log"
sync "$m/data"
crashenum mark --durable fsync "$m/data/log"
[ "$mode" = no-dirty ] || crashenum mark --durable dirty "$m/data/log"
printf 'entry 2\n' >> "$m/data/log"
