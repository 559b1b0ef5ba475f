#!/usr/bin/env bash
# trixie-chroot.sh — a Debian 13 (trixie) chroot with MediaWiki 1.43 LTS and PHP 8.4, for rcemit's 1.43 test layer.
#
# Usage:
#   scripts/trixie-chroot.sh build          builds the chroot if it is missing or incomplete (reuses a complete one)
#   scripts/trixie-chroot.sh run CMD [ARG…]  builds it if needed, then runs CMD as root inside it, with the
#                                            checkout at its own absolute path; exits with CMD's status
#   scripts/trixie-chroot.sh shell          an interactive bash inside (same mounts as run)
#   scripts/trixie-chroot.sh path           prints the chroot's directory
#
# Environment:
#   RCEMIT_TRIXIE_ROOT  the chroot's directory (default /var/cache/rcemit/trixie; outside the checkout, so that
#                       every clone and worktree of the machine shares one; about 1 GiB)
#   RCEMIT_MIRROR       Debian mirror (default: the first http(s) mirror the host's apt uses for Debian itself,
#                       from /etc/apt/sources.list(.d); else http://deb.debian.org/debian)
#
# Build: `debootstrap --variant=minbase trixie` from that mirror (about 1 minute), then apt-get install
# --no-install-recommends of MediaWiki 1.43, PHP 8.4 (cli, opcache, sqlite3, xml, mbstring, intl, curl), PHPUnit
# 11, python3 and a C compiler (gcc, libc6-dev: LoadFailureTest builds a fake library) from trixie,
# trixie-updates and trixie-security. First build: about 2.5 minutes on 2 cores (measured 156 s); reuse:
# instant. A file .rcemit-complete in the chroot records the package list when everything succeeded; a chroot
# without it (an interrupted build) is removed and built again; a complete one whose list differs from the
# current one gets the missing packages.
# Services are never started inside (policy-rc.d answers 101).
#
# Run: the mounts live in a private mount namespace and the command in its own PID namespace (unshare), so the
# host never sees them and no process outlives the run: /proc (a fresh procfs of that PID namespace), /dev,
# /dev/pts and /sys (bind, read-only where possible), a fresh per-run temporary directory as the chroot's /tmp,
# and the checkout this script belongs to, bind-mounted at the same absolute path. A trap unmounts
# everything in reverse order on exit, failure or Ctrl-C (and the namespace's end would drop any left). The
# parent directories of the checkout are created inside the chroot with mode 755, so a checkout kept in a
# private (0700) directory on the host works; the checkout directory itself keeps its mode.
# The host's /usr/share/mediawiki and /etc/mediawiki are never touched: MediaWiki inside is trixie's own.
# Needs root (debootstrap, mount, chroot).
set -euo pipefail

die() { echo "trixie-chroot: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, mount and chroot need it)"

ROOT=${RCEMIT_TRIXIE_ROOT:-/var/cache/rcemit/trixie}
REPO=$(cd "$(dirname "$0")/.." && pwd -P)
MARKER=.rcemit-complete
PACKAGES=(mediawiki php8.4-cli php8.4-opcache php8.4-sqlite3 php8.4-xml php8.4-mbstring php8.4-intl php8.4-curl
  phpunit python3 ca-certificates gcc libc6-dev)

[[ "$ROOT" = /* ]] || die "RCEMIT_TRIXIE_ROOT must be an absolute path: $ROOT"
case "$ROOT" in / | /usr | /usr/* | /etc | /etc/* | /proc* | /sys* | /dev*) die "refusing RCEMIT_TRIXIE_ROOT=$ROOT" ;; esac
case "$ROOT/" in "$REPO"/*) die "RCEMIT_TRIXIE_ROOT must lie outside the checkout ($REPO)" ;; esac

mirror() {
  if [ -n "${RCEMIT_MIRROR:-}" ]; then echo "$RCEMIT_MIRROR"; return; fi
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -v '^[[:space:]]*#' | grep -Eo 'https?://[^ ]+/debian/?( |$)' | grep -v -- '-security' | head -n1 |
    tr -d ' ') || true
  echo "${m:-http://deb.debian.org/debian}"
}

# Mounts below ROOT in the host's namespace (there should never be any: run mounts in a private namespace).
mounts_below() { awk -v r="$ROOT/" 'index($5 "/", r) == 1 { print $5 }' /proc/self/mountinfo; }

complete() { [ -f "$ROOT/$MARKER" ]; }

in_root() { # runs a command in the chroot without the checkout (build steps)
  unshare --mount --propagation private -- bash -c '
    set -e; r=$1; shift
    mount -t proc proc "$r/proc"; mount --bind /dev "$r/dev"; mount -t devpts -o newinstance devpts "$r/dev/pts" 2>/dev/null || true
    chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
  ' in_root "$ROOT" "$@"
}

build() {
  mkdir -p "$(dirname "$ROOT")"
  exec 9>"$(dirname "$ROOT")/.$(basename "$ROOT").lock" || die "cannot create the lock next to $ROOT"
  flock 9
  if complete; then
    local want have
    want=$(printf '%s\n' "${PACKAGES[@]}")
    have=$(cat "$ROOT/$MARKER")
    if [ "$want" != "$have" ]; then
      echo "trixie-chroot: package list changed; installing into $ROOT" >&2
      in_root apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >&2
      in_root apt-get clean
      printf '%s\n' "${PACKAGES[@]}" >"$ROOT/$MARKER"
    fi
    flock -u 9
    return
  fi
  [ -z "$(mounts_below)" ] || die "$ROOT is incomplete and has mounts below it: $(mounts_below | tr '\n' ' ')"
  if [ -e "$ROOT" ]; then
    echo "trixie-chroot: $ROOT is incomplete (no $MARKER); removing it" >&2
    rm -rf --one-file-system "$ROOT"
  fi
  command -v debootstrap >/dev/null || {
    echo "trixie-chroot: installing debootstrap on the host" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >&2; }
  }
  local m t0=$SECONDS
  m=$(mirror)
  mkdir -p "$ROOT"
  echo "trixie-chroot: debootstrap --variant=minbase trixie $ROOT $m" >&2
  debootstrap --variant=minbase trixie "$ROOT" "$m" >"$ROOT.debootstrap.log" 2>&1 ||
    { tail -n 30 "$ROOT.debootstrap.log" >&2; die "debootstrap failed (log: $ROOT.debootstrap.log)"; }
  local sec=${m%/debian*}/debian-security
  case "$m" in *deb.debian.org*) sec=http://deb.debian.org/debian-security ;; esac
  cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $m trixie main
deb $m trixie-updates main
deb $sec trixie-security main
EOF
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  echo "trixie-chroot: apt-get install ${PACKAGES[*]}" >&2
  in_root apt-get update -q >>"$ROOT.debootstrap.log" 2>&1 || { tail -n 30 "$ROOT.debootstrap.log" >&2; die "apt-get update failed"; }
  in_root apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >>"$ROOT.debootstrap.log" 2>&1 ||
    { tail -n 30 "$ROOT.debootstrap.log" >&2; die "apt-get install failed (log: $ROOT.debootstrap.log)"; }
  in_root apt-get clean
  printf '%s\n' "${PACKAGES[@]}" >"$ROOT/$MARKER"
  echo "trixie-chroot: built $ROOT in $((SECONDS - t0)) s ($(in_root dpkg-query -W -f='mediawiki ${Version}' mediawiki), $(in_root php -r 'echo "PHP ", PHP_VERSION;'))" >&2
  flock -u 9
}

# The body of `run`: executes in a private mount namespace and a new PID namespace (pid 1 is this bash).
inner() {
  local root=$1 repo=$2 tmp=$3; shift 3
  local mounted=()
  umount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
      umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
    done
    mounted=()
  }
  trap umount_all EXIT
  trap 'exit 130' INT TERM
  mnt() { # mnt TARGET MOUNT-ARGS…
    local target=$1; shift
    mount "$@" "$target"
    mounted+=("$target")
  }
  mnt "$root/proc" -t proc proc
  mnt "$root/sys" --bind /sys
  mount -o remount,bind,ro "$root/sys" 2>/dev/null || true
  mnt "$root/dev" --bind /dev
  mnt "$root/dev/pts" --bind /dev/pts
  mnt "$root/tmp" --bind "$tmp"
  mkdir -p -m 755 "$root$repo"
  mnt "$root$repo" --bind "$repo"
  local status=0
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 TERM="${TERM:-dumb}" TMPDIR=/tmp RCEMIT_IN_CHROOT=trixie \
    bash -c 'cd "$1" && shift && exec "$@"' run "$repo" "$@" || status=$?
  exit $status
}

run() {
  [ $# -ge 1 ] || die "usage: trixie-chroot.sh run CMD [ARG…]"
  build
  local status=0
  RUN_TMP=$(mktemp -d /var/tmp/rcemit-trixie-tmp.XXXXXX)
  chmod 1777 "$RUN_TMP"
  # The temporary directory is removed after the namespace (and with it every mount) is gone.
  trap 'rm -rf --one-file-system "$RUN_TMP"' EXIT
  trap 'exit 130' INT TERM
  unshare --mount --propagation private --pid --fork --kill-child -- \
    bash -c "$(declare -f inner); inner \"\$@\"" inner "$ROOT" "$REPO" "$RUN_TMP" "$@" || status=$?
  [ -z "$(mounts_below)" ] || echo "trixie-chroot: WARNING: mounts left below $ROOT: $(mounts_below | tr '\n' ' ')" >&2
  return $status
}

case "${1:-}" in
  build) build ;;
  run) shift; run "$@" ;;
  shell) run bash -i ;;
  path) echo "$ROOT" ;;
  *) die "usage: trixie-chroot.sh build | run CMD [ARG…] | shell | path" ;;
esac
