#!/usr/bin/env bash
# Installs the real tools the tests use, when they are missing: Nix (nix-instantiate) and Caddy.
set -euo pipefail
need=()
command -v nix-instantiate >/dev/null 2>&1 || need+=(nix-bin)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "test/setup.sh: the tests need ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
  exit 1
fi
echo "test/setup.sh: installing ${need[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
