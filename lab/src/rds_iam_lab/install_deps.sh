#!/usr/bin/env bash
# Install the Debian packages the dbauth.rds_iam lab needs, only when missing.
# Needs root (apt-get). Runs `apt-get update` only when something is missing.
# The lab runs its own server instances; the packages' default services are not used.
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }

if ! have_cmd pg_config && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
if ! have_cmd mariadb-install-db || ! { have_cmd mariadbd || [ -x /usr/sbin/mariadbd ]; }; then
  need+=(mariadb-server)
fi
have_cmd gcc || need+=(gcc libc6-dev)
have_cmd dpkg-deb || need+=(dpkg)
# setpriv runs PostgreSQL as its service account, needed only when the lab runs as root
if [ "$(id -u)" -eq 0 ]; then have_cmd setpriv || need+=(util-linux); fi
if [ "$(id -u)" -eq 0 ] && [ "${LAB_HOSTS:-}" != local ] && [ ! -x /usr/sbin/sshd ]; then
  need+=(openssh-server)  # the lab runs its own sshd for its target hosts (never the system one)
fi

if [ "${#need[@]}" -eq 0 ]; then
  echo "lab dependencies: all present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "lab dependencies missing: ${need[*]}" >&2
  echo "run as root: apt-get update && apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi

echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
