#!/usr/bin/env bash
# Installs every Debian package crashenum needs to build, test and run.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

packages=(
  bazel-bootstrap g++ git
  libabsl-dev libboost-graph-dev libz3-dev
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  libfuse3-dev fuse3 nlohmann-json3-dev
  e2fsprogs xfsprogs btrfs-progs util-linux time
  mount
  graphviz
  chromium
  libxml2-utils
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
