#!/usr/bin/env bash
# install.sh — installs (or removes) rcemit outside the checkout, where Debian admins look for it.
#
# Usage (through make, as root):   make install   [PREFIX=/usr] [DESTDIR=] [PHP_VERSION=8.2]
#                                  make uninstall [same variables]
#   scripts/install.sh install|uninstall   (reads the same variables from the environment)
#
# What goes where (PREFIX=/usr, the default):
#   /usr/lib/rcemit/<version>-<hash>/librcemit.so   the library of this build; a new directory per distinct build
#   /usr/lib/rcemit/<version>-<hash>/rcemit.h       its C header (comments stripped: PHP parses it per request)
#   /usr/lib/rcemit/current -> <version>-<hash>     switched atomically (rename) after the files are complete
#   /usr/share/mediawiki-extensions/RcEmit/         the extension (extension.json, src/, i18n/, maintenance/,
#                                                   preload.php), as Debian's mediawiki-extensions packages
#   /etc/php/<ver>/mods-available/rcemit.ini        README's php.ini lines (opcache.preload = the installed
#                                                   preload.php), enabled with phpenmod for apache2 and fpm only
#                                                   (never cli) when those SAPIs exist and DESTDIR is empty
#
# LocalSettings.php then names the stable paths:
#   wfLoadExtension( 'RcEmit', '/usr/share/mediawiki-extensions/RcEmit/extension.json' );
#   $wgRcEmitLibraryPath = '/usr/lib/rcemit/current/librcemit.so';
#   $wgRcEmitHeaderPath = '/usr/lib/rcemit/current/rcemit.h';
#
# Upgrades: build, `make install` again, then reload the web server (apachectl -k graceful, or
# systemctl reload php8.2-fpm). Nothing of rcemit is loaded by PHP's master process in README's recipe, so the
# new workers load the new build; the old build's directory stays for a rollback (ln -sfn, then reload) and is
# never overwritten while old workers may still map it. Old build directories are removed by hand.
#
# Variables: PREFIX (/usr), DESTDIR (empty), LIBDIR ($PREFIX/lib/rcemit),
# EXTDIR ($PREFIX/share/mediawiki-extensions/RcEmit), PHP_VERSION (of `php`), PHPCONFDIR (/etc/php/$PHP_VERSION;
# set it to install the snippet elsewhere), PHPENMOD (phpenmod; empty = do not enable), PRELOAD_USER (www-data),
# LIBRARY (target/release/librcemit.so), HEADER (include/rcemit-ffi.h: the declarations without comments).
set -euo pipefail

die() { echo "install: $*" >&2; exit 1; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
ACTION=${1:-install}
PREFIX=${PREFIX:-/usr}
DESTDIR=${DESTDIR:-}
LIBDIR=${LIBDIR:-$PREFIX/lib/rcemit}
EXTDIR=${EXTDIR:-$PREFIX/share/mediawiki-extensions/RcEmit}
PHP_VERSION=${PHP_VERSION:-$(php -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;' 2>/dev/null || echo 8.2)}
PHPCONFDIR=${PHPCONFDIR:-/etc/php/$PHP_VERSION}
PHPENMOD=${PHPENMOD-phpenmod}
PHPDISMOD=${PHPDISMOD-phpdismod}
PRELOAD_USER=${PRELOAD_USER:-www-data}
LIBRARY=${LIBRARY:-$REPO/target/release/librcemit.so}
HEADER=${HEADER:-$REPO/include/rcemit-ffi.h}
for p in "$PREFIX" "$LIBDIR" "$EXTDIR" "$PHPCONFDIR"; do
  [[ "$p" = /* && "$p" =~ ^[A-Za-z0-9._/+-]+$ ]] || die "paths must be absolute, of letters, digits and . _ / + - only: $p"
done

# Enables or disables the snippet for the web SAPIs present (never the CLI: maintenance scripts need no preload).
web_sapis() {
  for sapi in apache2 fpm; do [ -d "$PHPCONFDIR/$sapi/conf.d" ] && echo "$sapi"; done
  return 0
}

case "$ACTION" in
install)
  [ -f "$LIBRARY" ] || die "$LIBRARY does not exist: build it first (cargo build --release)"
  [ -f "$HEADER" ] || die "$HEADER does not exist"
  version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n 1)
  hash=$(sha256sum "$LIBRARY" | cut -c1-12)
  build="$version-$hash"
  umask 022

  # 1. The library and its header, in a directory of their own; "current" switches with one rename.
  target="$DESTDIR$LIBDIR/$build"
  if [ ! -f "$target/librcemit.so" ]; then
    mkdir -p "$target.tmp"
    install -m 0644 "$LIBRARY" "$target.tmp/librcemit.so"
    install -m 0644 "$HEADER" "$target.tmp/rcemit.h"
    rm -rf "$target"
    mv -T "$target.tmp" "$target"
  fi
  ln -sfn "$build" "$DESTDIR$LIBDIR/current.tmp"
  mv -T "$DESTDIR$LIBDIR/current.tmp" "$DESTDIR$LIBDIR/current"

  # 2. The extension (no tests), replaced as a whole.
  ext="$DESTDIR$EXTDIR"
  mkdir -p "$(dirname "$ext")"
  rm -rf "$ext.tmp"
  mkdir -p "$ext.tmp"
  (cd "$REPO/php" && tar --exclude=./tests --exclude=./phpunit.xml -cf - .) | tar -C "$ext.tmp" -xf - --no-same-owner
  chmod -R u=rwX,go=rX "$ext.tmp"
  rm -rf "$ext.old"
  [ -d "$ext" ] && mv -T "$ext" "$ext.old"
  mv -T "$ext.tmp" "$ext"
  rm -rf "$ext.old"

  # 3. The php.ini snippet of README's production recipe.
  mkdir -p "$DESTDIR$PHPCONFDIR/mods-available"
  cat >"$DESTDIR$PHPCONFDIR/mods-available/rcemit.ini" <<EOF
; RcEmit (rcemit $version): README's production recipe. Enabled for the web SAPIs only:
;   phpenmod -v $PHP_VERSION -s apache2 rcemit; phpenmod -v $PHP_VERSION -s fpm rcemit
; PHP refuses to start when opcache.preload names a missing file: run \`make uninstall\` (or phpdismod) before
; removing $EXTDIR.
; priority=60
ffi.enable=preload
opcache.enable=1
opcache.preload=$EXTDIR/preload.php
; Required when the master starts as root (Apache, PHP-FPM): without it PHP does not start at all.
opcache.preload_user=$PRELOAD_USER
EOF
  chmod 0644 "$DESTDIR$PHPCONFDIR/mods-available/rcemit.ini"
  enabled=""
  if [ -z "$DESTDIR" ] && [ -n "$PHPENMOD" ]; then
    for sapi in $(web_sapis); do
      "$PHPENMOD" -v "$PHP_VERSION" -s "$sapi" rcemit && enabled="$enabled $sapi"
    done
  fi

  cat <<EOF
Installed rcemit $build:
  $DESTDIR$LIBDIR/$build/{librcemit.so,rcemit.h}   ($DESTDIR$LIBDIR/current -> $build)
  $DESTDIR$EXTDIR/
  $DESTDIR$PHPCONFDIR/mods-available/rcemit.ini   (enabled for:${enabled:- none; enable with phpenmod -v $PHP_VERSION -s apache2 rcemit and -s fpm})
In LocalSettings.php:
  wfLoadExtension( 'RcEmit', '$EXTDIR/extension.json' );
  \$wgRcEmitLibraryPath = '$LIBDIR/current/librcemit.so';
  \$wgRcEmitHeaderPath = '$LIBDIR/current/rcemit.h';
Then reload the web server (apachectl -k graceful, or systemctl reload php$PHP_VERSION-fpm).
EOF
  ;;
uninstall)
  # The php.ini lines go first: PHP does not start while opcache.preload names a file that is gone.
  if [ -z "$DESTDIR" ] && [ -n "$PHPDISMOD" ]; then
    for sapi in $(web_sapis); do "$PHPDISMOD" -v "$PHP_VERSION" -s "$sapi" rcemit || true; done
  fi
  rm -f "$DESTDIR$PHPCONFDIR/mods-available/rcemit.ini"
  rm -rf "$DESTDIR$EXTDIR" "$DESTDIR$LIBDIR"
  echo "Removed rcemit. Reload the web server, and remove RcEmit from LocalSettings.php."
  ;;
*)
  die "usage: install.sh install|uninstall"
  ;;
esac
