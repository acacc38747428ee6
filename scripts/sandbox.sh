#!/bin/sh
# Build (once) a Debian-unstable root file system holding Asterisk 22 and its
# headers. Everything res_cluster builds and tests against lives there, so the
# host needs nothing but debootstrap.
#
#   RES_CLUSTER_SANDBOX   where the root file system goes
#                         (default: ${XDG_CACHE_HOME:-$HOME/.cache}/res_cluster/sid-root)
#   RES_CLUSTER_MIRROR    a Debian mirror URL; default: debootstrap's own
#   --rebuild             throw the cached one away and build again
#   --with PKG...         also install these packages inside it (once)
#   --umount              unmount what tests mounted inside it (/proc, /dev)
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

EXTRA=""
case "${1:-}" in
--umount)
    unmount_below "$SANDBOX"
    exit 0
    ;;
--rebuild)
    say "removing $SANDBOX"
    unmount_below "$SANDBOX"
    rm -rf "$SANDBOX"
    ;;
--with)
    shift
    EXTRA="$*"
    ;;
esac

# Installs $EXTRA inside the sandbox with its own apt, when missing.
install_extra() {
    missing=""
    for p in $EXTRA; do
        chroot "$SANDBOX" dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
    say "installing$missing inside the sandbox"
    mounted=""
    if ! mountpoint -q "$SANDBOX/proc"; then mount -t proc proc "$SANDBOX/proc"; mounted=1; fi
    status=0
    # A mirror serving a dated snapshot of unstable has an expired Release
    # file; its packages are still the ones debootstrap installed from.
    # shellcheck disable=SC2086
    { chroot "$SANDBOX" apt-get -o Acquire::Check-Valid-Until=false update -q >&2 && \
      chroot "$SANDBOX" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2; } || status=$?
    [ -z "$mounted" ] || umount "$SANDBOX/proc"
    [ "$status" = 0 ] || die "could not install$missing inside the sandbox (apt-get failed, see above)"
}

if [ -f "$STAMP" ]; then
    install_extra
    say "ready: $SANDBOX ($(cat "$STAMP"))"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "building the sandbox needs root (debootstrap and chroot); run as root or set RES_CLUSTER_SANDBOX to an existing one"

if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and there is no apt-get; install debootstrap by hand"
    # shellcheck source=scripts/apt.sh
    . "$(dirname "$0")/apt.sh"
    apt_get install -y -q debootstrap >&2 \
        || { apt_get update -q >&2 && apt_get install -y -q debootstrap >&2; } \
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
install_extra
say "ready: $SANDBOX (asterisk $version)"
