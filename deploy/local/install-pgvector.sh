#!/usr/bin/env bash
# Installs pgvector into the machine's PostgreSQL 15, built from Debian 13's own source
# package (Debian 12 does not package it). Idempotent: exits at once when installed.
#
# Usage: install-pgvector.sh APT_DIR
set -euo pipefail
export P8FS_APT_DIR="$1"
here=$(cd "$(dirname "$0")" && pwd)
PG_BIN=${P8FS_PG_BIN:-/usr/lib/postgresql/15/bin}

if [ "$(id -u)" != 0 ]; then
  cat >&2 <<MSG
error: PostgreSQL 15 with pgvector is needed and this is not root, so nothing can be installed.
Install as root: apt-get install postgresql-15 postgresql-server-dev-15 build-essential,
then build pgvector (>= 0.7) from source with: make OPTFLAGS="" && make install
MSG
  exit 1
fi

source "$here/trixie-apt.sh"

if [ ! -x "$PG_BIN/postgres" ]; then
  system_apt_update_once
  echo "+ apt-get install -y postgresql-15"
  # The package's own cluster is not used; p8fs runs its own throwaway server.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 >/dev/null
fi

sharedir=$("$PG_BIN/pg_config" --sharedir 2>/dev/null || true)
if [ -n "$sharedir" ] && [ -f "$sharedir/extension/vector.control" ]; then
  exit 0
fi

# Headers of exactly the installed server version: an unpinned install would upgrade the server.
server_version=$(dpkg-query -W -f='${Version}' postgresql-15)
if ! dpkg-query -W -f='${Status}' postgresql-server-dev-15 2>/dev/null | grep -q 'install ok installed'; then
  system_apt_update_once
  echo "+ apt-get install -y postgresql-server-dev-15=$server_version"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "postgresql-server-dev-15=$server_version" make gcc libc6-dev >/dev/null
fi
sharedir=$("$PG_BIN/pg_config" --sharedir)

trixie_apt_setup
build="$P8FS_APT_DIR/pgvector-build"
rm -rf "$build" && mkdir -p "$build"
echo "+ apt-get source --download-only pgvector (Debian 13)"
(cd "$build" && trixie_apt source -qq --download-only pgvector >/dev/null)
orig=$(ls "$build"/pgvector_*.orig.tar.* | head -n 1)
tar -xf "$orig" -C "$build"
src=$(find "$build" -mindepth 1 -maxdepth 1 -type d -name 'pgvector*' | head -n 1)
echo "+ make OPTFLAGS= && make install (pgvector from $(basename "$orig"))"
# OPTFLAGS="" avoids -march=native, so the library runs on any machine of this kind.
make -C "$src" -s OPTFLAGS="" PG_CONFIG="$PG_BIN/pg_config" >/dev/null
make -C "$src" -s OPTFLAGS="" PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
test -f "$sharedir/extension/vector.control"
echo "pgvector installed"
