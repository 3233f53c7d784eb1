# Sourced by the install scripts: a private apt configuration that reads Debian 13
# ("trixie") package lists next to the machine's own, without touching the system's
# sources. Nothing is installed system-wide through it; it only downloads.
#
# Needs: P8FS_APT_DIR (where lists and downloads live).
set -euo pipefail

: "${P8FS_APT_DIR:?P8FS_APT_DIR must be set}"

# The Debian mirror this machine already uses (deb822 or one-line format).
debian_mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
      /etc/apt/sources.list)
  fi
  if [ -z "$m" ]; then
    echo "error: no Debian mirror found in the machine's apt sources" >&2
    return 1
  fi
  echo "${m%/}"
}

trixie_apt_setup() {
  mkdir -p "$P8FS_APT_DIR/lists/partial" "$P8FS_APT_DIR/archives/partial"
  local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  mirror=$(debian_mirror)
  cat > "$P8FS_APT_DIR/sources.list" <<SRC
deb [signed-by=$keyring] $mirror trixie main
deb-src [signed-by=$keyring] $mirror trixie main
SRC
  # Refresh the private lists at most once a day.
  if [ -z "$(find "$P8FS_APT_DIR/lists" -maxdepth 1 -name '*trixie*InRelease' -mtime -1 2>/dev/null)" ]; then
    trixie_apt update -qq
  fi
}

trixie_apt() {
  apt-get \
    -o Dir::Etc::sourcelist="$P8FS_APT_DIR/sources.list" \
    -o Dir::Etc::sourceparts=- \
    -o Dir::State::Lists="$P8FS_APT_DIR/lists" \
    -o Dir::Cache::Archives="$P8FS_APT_DIR/archives" \
    -o APT::Get::List-Cleanup=0 \
    -o APT::Sandbox::User=root \
    "$@"
}

# apt-get update for the system's own sources, once, when its lists are missing.
system_apt_update_once() {
  if [ ! -e "$P8FS_APT_DIR/.system-updated" ]; then
    apt-get update -qq
    mkdir -p "$P8FS_APT_DIR" && touch "$P8FS_APT_DIR/.system-updated"
  fi
}
