#!/usr/bin/env bash
# Unpacks MariaDB 11.8 (Debian 13's packages, with the Debian 13 libraries it links against)
# into a private directory and puts small wrappers in front of its programs, so they run
# through that directory's own dynamic loader. Nothing is installed system-wide; the
# machine's own libc is never replaced. Idempotent: exits at once when unpacked.
#
# Usage: install-mariadb.sh DEST APT_DIR
# Afterwards: DEST/root/usr/sbin/mariadbd, DEST/root/usr/bin/{mariadb,mariadb-install-db}.
set -euo pipefail
dest="$1"
export P8FS_APT_DIR="$2"
here=$(cd "$(dirname "$0")" && pwd)
R="$dest/root"

if [ -f "$R/.complete" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
  echo "error: MariaDB >= 11.7 is needed; install it and put mariadbd on PATH" >&2
  exit 1
fi

source "$here/trixie-apt.sh"
trixie_apt_setup

debs="$P8FS_APT_DIR/mariadb-debs"
rm -rf "$debs" "$R" && mkdir -p "$debs" "$R"
pkgs=(mariadb-server-core mariadb-client-core libmariadb3
  libc6 libstdc++6 libgcc-s1 libssl3t64 liburing2 libaio1t64 libnuma1 libpcre2-8-0 libcrypt1
  libsystemd0 libcap2 zlib1g libzstd1 libedit2 libncurses6 libtinfo6 libbsd0 libmd0
  liblz4-1 liblzma5 libgcrypt20 libgpg-error0)
echo "+ apt-get download ${pkgs[*]} (Debian 13)"
(cd "$debs" && trixie_apt download -qq "${pkgs[@]}")
for deb in "$debs"/*.deb; do
  dpkg -x "$deb" "$R"
done

lib="$R/usr/lib/x86_64-linux-gnu"
# Wrap each ELF program that the server and its setup script call.
for prog in usr/sbin/mariadbd usr/bin/mariadb usr/bin/my_print_defaults usr/bin/resolveip; do
  mv "$R/$prog" "$R/$prog.real"
  up=$(dirname "$prog" | sed 's|[^/]*|..|g')
  cat > "$R/$prog" <<WRAP
#!/bin/sh
# Runs the unpacked program through the unpacked loader and libraries.
R=\$(cd "\$(dirname "\$0")/$up" && pwd)
exec "\$R/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "\$R/usr/lib/x86_64-linux-gnu" --argv0 "\$0" "\$R/$prog.real" "\$@"
WRAP
  chmod 755 "$R/$prog"
done
test -x "$lib/ld-linux-x86-64.so.2"
"$R/usr/sbin/mariadbd" --version
touch "$R/.complete"
