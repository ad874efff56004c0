# Sourced by the scripts that find or install a tool for the tests (ensure-chromium.sh,
# ensure-prometheus.sh, check-compose.sh). The caller sets LOG (where package manager
# output goes) before calling anything here.

have() { command -v "$1" >/dev/null 2>&1; }

# Runs a command as root: directly, or through password-less sudo; fails otherwise.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif have sudo && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    return 1
  fi
}

# True when apt knows package $1. Package lists may be empty on a fresh image: they are
# refreshed once when the lookup fails.
apt_ready() {
  have apt-get || return 1
  apt-cache show "$1" >/dev/null 2>&1 || as_root apt-get update -qq >>"$LOG" 2>&1 || true
  apt-cache show "$1" >/dev/null 2>&1
}

# Installs Debian packages quietly (as root), without recommends.
apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$LOG" 2>&1
}

# extract_from_deb PACKAGE DEST BINARY...: copies /usr/bin/BINARY of a Debian package
# into DEST without installing the package (no root, no service). Fails when the
# download fails or a binary is missing from it.
extract_from_deb() {
  local package=$1 dest=$2 tmp status=0 binary
  shift 2
  tmp="$(mktemp -d)"
  if (cd "$tmp" && apt-get download "$package" >>"$LOG" 2>&1 && dpkg-deb -x "${package}"_*.deb x); then
    mkdir -p "$dest"
    for binary in "$@"; do
      if [ -x "$tmp/x/usr/bin/$binary" ]; then mv "$tmp/x/usr/bin/$binary" "$dest/$binary"; else status=1; fi
    done
  else
    status=1
  fi
  rm -rf "$tmp"
  return "$status"
}
