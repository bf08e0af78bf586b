#!/bin/sh
# Install crabbox-cs from a release, for machines without npm (POSIX sh).
#
#   curl -fsSL https://github.com/crabbox-cs/crabbox-cs/releases/latest/download/install.sh | sh
#   sh install.sh                                   # from a checkout
#
# It downloads crabbox-cs-<os>-<cpu> and SHA256SUMS from the release, checks the binary's SHA-256
# against SHA256SUMS (sha256sum, or shasum -a 256), and installs it as $PREFIX/bin/crabbox-cs.
# On a checksum mismatch, or when SHA256SUMS has no line for the binary, it refuses: exit 1 and
# nothing installed (an existing crabbox-cs is left as it was).
#
# Variables:
#   CRABBOX_RELEASE_URL  base URL of the release files
#                        (default https://github.com/crabbox-cs/crabbox-cs/releases/latest/download,
#                        or .../releases/download/v$CRABBOX_VERSION when CRABBOX_VERSION is set)
#   CRABBOX_VERSION      a release version, e.g. 0.1.0 (default: the latest release)
#   PREFIX               install into $PREFIX/bin (default ~/.local, so ~/.local/bin)
set -eu

REPO_RELEASES="https://github.com/crabbox-cs/crabbox-cs/releases"

say() { printf '%s\n' "$*" >&2; }
die() {
  say "error: $1"
  [ -z "${2:-}" ] || say "  why: $2"
  [ -z "${3:-}" ] || say "  fix: $3"
  exit 1
}

# ---- what to download
if [ -n "${CRABBOX_RELEASE_URL:-}" ]; then
  url=${CRABBOX_RELEASE_URL%/}
elif [ -n "${CRABBOX_VERSION:-}" ]; then
  url="$REPO_RELEASES/download/v${CRABBOX_VERSION#v}"
else
  url="$REPO_RELEASES/latest/download"
fi

os=$(uname -s)
cpu=$(uname -m)
case $os in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) die "no crabbox-cs binary for $os" "release binaries exist for Linux and macOS" "build from source: npm ci && npm run build" ;;
esac
case $cpu in
  x86_64 | amd64) cpu=x64 ;;
  aarch64 | arm64) cpu=arm64 ;;
  *) die "no crabbox-cs binary for $cpu" "release binaries exist for x64 and arm64" "build from source: npm ci && npm run build" ;;
esac
# An x64 shell under Rosetta 2 on Apple silicon: take the native binary.
if [ "$os" = darwin ] && [ "$cpu" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
  cpu=arm64
fi
asset="crabbox-cs-$os-$cpu"

prefix=${PREFIX:-${HOME:?HOME is not set; set PREFIX}/.local}
bindir="$prefix/bin"

# ---- tools
if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --retry 2 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die "neither curl nor wget is installed" "" "install one of them (apt-get install curl), or download $url/$asset by hand"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | awk '{ print $1 }'; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | awk '{ print $1 }'; }
else
  die "neither sha256sum nor shasum is installed" "the download cannot be verified without one" "install coreutils (sha256sum) or perl (shasum)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/crabbox-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'rm -rf "$tmp"; exit 130' INT
trap 'rm -rf "$tmp"; exit 143' TERM

# ---- download and verify
say "downloading $url/$asset"
fetch "$url/SHA256SUMS" "$tmp/SHA256SUMS" || die "could not download $url/SHA256SUMS" "" "check the URL (CRABBOX_RELEASE_URL, CRABBOX_VERSION) and your connection"
fetch "$url/$asset" "$tmp/$asset" || die "could not download $url/$asset" "" "check the URL (CRABBOX_RELEASE_URL, CRABBOX_VERSION) and your connection"

expected=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/SHA256SUMS")
case $expected in
  "") die "SHA256SUMS has no line for $asset" "without a checksum the download cannot be verified" "use a release that lists $asset in SHA256SUMS" ;;
  *[!0-9a-fA-F]*) die "SHA256SUMS has a malformed line for $asset" "" "use a complete release" ;;
esac
[ ${#expected} -eq 64 ] || die "SHA256SUMS has a malformed line for $asset" "" "use a complete release"
actual=$(sha256 "$tmp/$asset")
if [ "$actual" != "$(printf '%s' "$expected" | tr 'A-F' 'a-f')" ]; then
  die "checksum mismatch for $asset: nothing installed" "SHA256SUMS says $expected, the download is $actual" "download again; if it persists, do not use this release and report it"
fi

say "checksum ok (sha256 $actual)"

# ---- install: copy next to the target, then rename over it (never a half-written binary)
mkdir -p "$bindir" || die "cannot create $bindir" "" "set PREFIX to a directory you can write, e.g. PREFIX=\$HOME/.local"
part="$bindir/.crabbox-cs.part.$$"
cp "$tmp/$asset" "$part" || { rm -f "$part"; die "cannot write to $bindir" "" "set PREFIX to a directory you can write"; }
chmod 755 "$part"
mv -f "$part" "$bindir/crabbox-cs"

if version=$("$bindir/crabbox-cs" --version 2>/dev/null); then
  say "installed $version as $bindir/crabbox-cs"
else
  say "installed $bindir/crabbox-cs, but it did not run (crabbox-cs --version failed)"
fi
case ":${PATH:-}:" in
  *":$bindir:"*) ;;
  *)
    say ""
    say "$bindir is not on your PATH. Add it, then open a new shell:"
    say "  sh, bash:  echo 'export PATH=\"$bindir:\$PATH\"' >> ~/.profile     (bash: ~/.bashrc)"
    say "  zsh:       echo 'export PATH=\"$bindir:\$PATH\"' >> ~/.zshrc"
    say "  fish:      fish_add_path $bindir"
    ;;
esac
