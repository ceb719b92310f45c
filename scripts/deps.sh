#!/usr/bin/env bash
# Installs the Debian packages Nightjar needs to build and test, if any are
# missing. Safe to run repeatedly. Uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libuv1-dev libsodium-dev libboost-program-options-dev librocksdb-dev libspdlog-dev catch2 nlohmann-json3-dev
  libncurses-dev
)
# clang and libFuzzer are needed only for the fuzz targets.
if [[ "${NIGHTJAR_FUZZ_DEPS:-0}" == 1 ]]; then
  packages+=(clang libclang-rt-dev)
fi
# dpkg-dev (dpkg-shlibdeps, dpkg-gencontrol) and help2man only for
# scripts/package.sh, which sets this.
if [[ "${NIGHTJAR_PACKAGE_DEPS:-0}" == 1 ]]; then
  packages+=(dpkg-dev help2man)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "Installing missing packages: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "error: these packages are missing and this user cannot install them (not root, no sudo):" >&2
  echo "  ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
