#!/bin/sh
# Installs, uninstalls or shows where res_cluster's files go.
#
#   install.sh install     module, documentation, sample
#   install.sh samples     res_cluster.conf from the sample, only when absent
#   install.sh uninstall   what install put there (never the live config)
#   install.sh dirs        print the directories
#
# Every directory can be set from the environment; DESTDIR is prepended to
# all of them. Defaults come from the Asterisk the module was built against:
# the module and data directories from its asterisk.conf ([directories]
# astmoddir, astdatadir) when there is one, else from its build's makeopts
# (ASTMODDIR, ASTDATADIR: a source tree's, found beside its include/), else
# from the headers' prefix and the OS (Debian's multiarch module directory).
set -eu

cd "$(dirname "$0")/.."

# The headers' prefix: /usr for the system's and the sandbox's (a Debian
# install), the parent of ASTERISK_INCLUDE_DIR otherwise.
if [ -n "${ASTERISK_INCLUDE_DIR:-}" ]; then
    default_prefix=$(dirname "$ASTERISK_INCLUDE_DIR")
else
    default_prefix=/usr
fi
PREFIX=${PREFIX:-$default_prefix}

if [ "$PREFIX" = /usr ]; then default_etc=/etc/asterisk; else default_etc=$PREFIX/etc/asterisk; fi
ASTETCDIR=${ASTETCDIR:-$default_etc}

# "astmoddir => /x" in asterisk.conf (a template section too: Debian ships
# [directories](!), whose values are still its build's own).
from_conf() {
    [ -r "$ASTETCDIR/asterisk.conf" ] || return 0
    sed -n "s/^[[:space:]]*$1[[:space:]]*=>*[[:space:]]*\([^;[:space:]]*\).*/\1/p" "$ASTETCDIR/asterisk.conf" | head -n 1
}
# "ASTMODDIR=/x" in the makeopts of the source tree whose include/ the
# module was built against.
from_makeopts() {
    [ -n "${ASTERISK_INCLUDE_DIR:-}" ] && [ -r "$ASTERISK_INCLUDE_DIR/../makeopts" ] || return 0
    sed -n "s/^$1[[:space:]]*=[[:space:]]*\(.*\)$/\1/p" "$ASTERISK_INCLUDE_DIR/../makeopts" | head -n 1
}
[ -n "${MODULES_DIR:-}" ] || MODULES_DIR=$(from_conf astmoddir)
[ -n "${MODULES_DIR:-}" ] || MODULES_DIR=$(from_makeopts ASTMODDIR)
[ -n "${ASTDATADIR:-}" ] || ASTDATADIR=$(from_conf astdatadir)
[ -n "${ASTDATADIR:-}" ] || ASTDATADIR=$(from_makeopts ASTDATADIR)

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || true)
if [ -z "${MODULES_DIR:-}" ]; then
    if [ -n "$multiarch" ] && { [ -f /etc/debian_version ] || [ -d "$PREFIX/lib/$multiarch/asterisk" ]; }; then
        MODULES_DIR=$PREFIX/lib/$multiarch/asterisk/modules
    else
        MODULES_DIR=$PREFIX/lib/asterisk/modules
    fi
fi
ASTDATADIR=${ASTDATADIR:-$PREFIX/share/asterisk}
DOC_XML_DIR=${DOC_XML_DIR:-$ASTDATADIR/documentation/thirdparty}
DOCDIR=${DOCDIR:-$PREFIX/share/doc/asterisk-res-cluster}
DESTDIR=${DESTDIR:-}

MODULE=${MODULE:-res_cluster.so}
XML=src/res_cluster-en_US.xml
SAMPLE=res_cluster.conf.sample

case "${1:-}" in
dirs)
    printf 'MODULES_DIR=%s\nDOC_XML_DIR=%s\nASTETCDIR=%s\nDOCDIR=%s\n' "$MODULES_DIR" "$DOC_XML_DIR" "$ASTETCDIR" "$DOCDIR"
    ;;
install)
    [ -f "$MODULE" ] || { echo "install: $MODULE is missing; run make first" >&2; exit 1; }
    install -d "$DESTDIR$MODULES_DIR" "$DESTDIR$DOC_XML_DIR" "$DESTDIR$DOCDIR"
    install -m 0644 "$MODULE" "$DESTDIR$MODULES_DIR/res_cluster.so"
    install -m 0644 "$XML" "$DESTDIR$DOC_XML_DIR/res_cluster-en_US.xml"
    install -m 0644 "$SAMPLE" "$DESTDIR$DOCDIR/res_cluster.conf.sample"
    echo "installed $DESTDIR$MODULES_DIR/res_cluster.so"
    echo "installed $DESTDIR$DOC_XML_DIR/res_cluster-en_US.xml (read at Asterisk start-up)"
    echo "installed $DESTDIR$DOCDIR/res_cluster.conf.sample"
    ;;
samples)
    install -d "$DESTDIR$ASTETCDIR"
    if [ -e "$DESTDIR$ASTETCDIR/res_cluster.conf" ]; then
        echo "kept $DESTDIR$ASTETCDIR/res_cluster.conf (it exists)"
    else
        # As Debian keeps Asterisk's own files: root's, readable by the
        # group Asterisk runs as (-G asterisk), when there is such a group.
        if getent group asterisk >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            install -m 0640 -o root -g asterisk "$SAMPLE" "$DESTDIR$ASTETCDIR/res_cluster.conf"
        else
            install -m 0644 "$SAMPLE" "$DESTDIR$ASTETCDIR/res_cluster.conf"
        fi
        echo "installed $DESTDIR$ASTETCDIR/res_cluster.conf"
    fi
    ;;
uninstall)
    rm -f "$DESTDIR$MODULES_DIR/res_cluster.so" "$DESTDIR$DOC_XML_DIR/res_cluster-en_US.xml" \
        "$DESTDIR$DOCDIR/res_cluster.conf.sample"
    rmdir "$DESTDIR$DOCDIR" 2>/dev/null || true
    echo "uninstalled (kept $DESTDIR$ASTETCDIR/res_cluster.conf, if any)"
    ;;
*)
    echo "usage: $0 install|samples|uninstall|dirs" >&2
    exit 2
    ;;
esac
