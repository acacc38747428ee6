#!/bin/sh
# Build (once) a Debian-unstable root file system holding Asterisk 22 and its
# headers. Everything res_cluster builds and tests against lives there, so the
# host needs nothing but debootstrap.
#
#   RES_CLUSTER_SANDBOX   where the root file system goes
#                         (default: ${XDG_CACHE_HOME:-$HOME/.cache}/res_cluster/sid-root)
#   RES_CLUSTER_MIRROR    a Debian mirror URL; default: debootstrap's own
#   --rebuild             throw the cached one away and build again
set -eu

SANDBOX=${RES_CLUSTER_SANDBOX:-${XDG_CACHE_HOME:-$HOME/.cache}/res_cluster/sid-root}
STAMP="$SANDBOX/.res_cluster-sandbox-ready"
PACKAGES=asterisk,asterisk-dev

say() { printf 'sandbox: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Never delete through a mount point: unmount whatever is mounted below $1.
unmount_below() {
    awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
}

if [ "${1:-}" = "--rebuild" ]; then
    say "removing $SANDBOX"
    unmount_below "$SANDBOX"
    rm -rf "$SANDBOX"
fi

if [ -f "$STAMP" ]; then
    say "ready: $SANDBOX ($(cat "$STAMP"))"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "building the sandbox needs root (debootstrap and chroot); run as root or set RES_CLUSTER_SANDBOX to an existing one"

if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and there is no apt-get; install debootstrap by hand"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; } \
        || die "could not install debootstrap; install it by hand and run again"
fi

# A half-built tree from an interrupted run is not trusted.
if [ -e "$SANDBOX" ]; then
    say "removing unfinished $SANDBOX"
    unmount_below "$SANDBOX"
    rm -rf "$SANDBOX"
fi
mkdir -p "$(dirname "$SANDBOX")"

say "debootstrap sid into $SANDBOX (about a minute, ~1 GB)"
set -- --variant=minbase --include="$PACKAGES" sid "$SANDBOX.tmp"
[ -n "${RES_CLUSTER_MIRROR:-}" ] && set -- "$@" "$RES_CLUSTER_MIRROR"
unmount_below "$SANDBOX.tmp"
rm -rf "$SANDBOX.tmp"
if ! debootstrap "$@" >&2; then
    unmount_below "$SANDBOX.tmp"
    die "debootstrap failed (see above and $SANDBOX.tmp/debootstrap/debootstrap.log); check the network to the Debian mirror, or set RES_CLUSTER_MIRROR, then run again"
fi
mv "$SANDBOX.tmp" "$SANDBOX"

[ -f "$SANDBOX/usr/include/asterisk.h" ] || die "asterisk-dev did not install into $SANDBOX; run with --rebuild"
version=$(chroot "$SANDBOX" dpkg-query -W -f='${Version}' asterisk)
echo "asterisk $version" > "$STAMP"
say "ready: $SANDBOX (asterisk $version)"
