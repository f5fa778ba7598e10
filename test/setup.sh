#!/usr/bin/env bash
# Installs the real tools the tests and the local demo use, when they are missing: Nix, Caddy,
# PostgreSQL and Redis (the local driver's addons), Go and Rust (its builds of apps.example),
# OpenSSH's server (the nixos driver's ssh tests), ssh-keygen and gpg (signed commits) and Chromium (the status page's tests).
# Debian package names; run as root.
set -euo pipefail
need=()
command -v nix-instantiate >/dev/null 2>&1 || need+=(nix-bin)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
command -v git >/dev/null 2>&1 || need+=(git)
# The nixos driver drains through Caddy's admin API with curl over ssh (tested against this machine).
command -v curl >/dev/null 2>&1 || need+=(curl)
# npm test runs its shards in network namespaces of their own, whose loopback `ip` brings up.
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
# The local driver builds apps.example's go service and rust worker with the host's toolchains.
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v cargo >/dev/null 2>&1 || need+=(cargo rustc)
# Signed commits are checked with ssh-keygen (SSH signatures) and gpg (OpenPGP ones).
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v gpg >/dev/null 2>&1 || need+=(gnupg)
# Backups: pgBackRest (PostgreSQL base backups and WAL archiving), restic (Redis snapshots);
# openssl checks the notification signatures independently of skyrec.
command -v pgbackrest >/dev/null 2>&1 || need+=(pgbackrest)
command -v restic >/dev/null 2>&1 || need+=(restic)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The status page is tested in headless Chromium (driven by playwright-core, which downloads no browser).
[ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "test/setup.sh: skyrec's tests need ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
  exit 1
fi
echo "test/setup.sh: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
# Debian starts the packaged services; skyrec runs its own instances, so stop these.
for svc in postgresql redis-server ssh; do
  (command -v systemctl >/dev/null && systemctl stop "$svc") >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
done
