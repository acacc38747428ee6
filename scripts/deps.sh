#!/bin/sh
# Installs what building and testing res_cluster needs on a Debian host, and
# only what is missing: libclang (for bindgen), dpkg-dev (make deb), SIPp
# (phones and callers in the tests), debootstrap (the Asterisk sandbox).
set -eu

say() { printf 'deps: %s\n' "$*" >&2; }

missing=""
dpkg -s dpkg-dev >/dev/null 2>&1 || missing="$missing dpkg-dev"
dpkg -s libclang-dev >/dev/null 2>&1 || missing="$missing libclang-dev"
command -v sipp >/dev/null 2>&1 || missing="$missing sip-tester"
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
command -v cc >/dev/null 2>&1 || missing="$missing gcc"
for extra in "$@"; do
    dpkg -s "$extra" >/dev/null 2>&1 || missing="$missing $extra"
done

if [ -n "$missing" ]; then
    [ "$(id -u)" = 0 ] || { say "missing:$missing; install them as root"; exit 1; }
    command -v apt-get >/dev/null 2>&1 || { say "missing:$missing, and no apt-get to install them"; exit 1; }
    say "installing$missing"
    # shellcheck source=scripts/apt.sh
    . "$(dirname "$0")/apt.sh"
    # shellcheck disable=SC2086
    apt_get install -y -q $missing >&2 || { apt_get update -q >&2 && apt_get install -y -q $missing >&2; } \
        || { say "could not install$missing"; exit 1; }
fi

command -v cargo >/dev/null 2>&1 || { say "cargo not found: install a Rust toolchain (rustup) first"; exit 1; }
exit 0
