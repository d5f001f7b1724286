#!/usr/bin/env bash
# Installs the Debian packages Steward builds, tests and runs with.
# Installs only what is missing, so a second run is quick.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libgnutls28-dev nettle-dev libgmp-dev gnutls-bin
      libcoap3-dev libcoap3-bin libcbor-dev libsqlite3-dev sqlite3
      libcmocka-dev libmicrohttpd-dev libjansson-dev valgrind procps python3 curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "installing: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
