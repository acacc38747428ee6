#!/bin/sh
# Builds build/asterisk-res-cluster_<version>_<arch>.deb from res_cluster.so.
#
# The package depends on the exact asterisk-abi-<AST_BUILDOPT_SUM> of the
# headers the module was built against (the rule dh_asterisk applies), so
# dpkg refuses it on an Asterisk it was not built for.
set -eu

cd "$(dirname "$0")/.."

die() { echo "deb: $*" >&2; exit 1; }

[ -f res_cluster.so ] || die "res_cluster.so is missing; run make first"
report=$(ls -t target/release/build/res_cluster-*/out/asterisk-headers.txt 2>/dev/null | head -n 1)
[ -n "$report" ] || die "no header report; run make first"
sum=$(sed -n 's/^AST_BUILDOPT_SUM: //p' "$report")
[ -n "$sum" ] || die "no AST_BUILDOPT_SUM in $report"

name=asterisk-res-cluster
upstream=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
version=$upstream-1
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
date=$(git log -1 --format=%aD 2>/dev/null || date -R)

root=build/deb/root
rm -rf build/deb
mkdir -p "$root/DEBIAN"

# Files, by the same rules as make install.
DESTDIR=$root PREFIX=/usr MODULES_DIR=/usr/lib/$multiarch/asterisk/modules \
    DOCDIR=/usr/share/doc/$name/examples scripts/install.sh install >/dev/null
DESTDIR=$root ASTETCDIR=/etc/asterisk scripts/install.sh samples >/dev/null
chmod 0644 "$root/etc/asterisk/res_cluster.conf"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$root/usr/lib/$multiarch/asterisk/modules/res_cluster.so"

doc=$root/usr/share/doc/$name
install -m 0644 README.md "$doc/README.md"
gzip -9n "$doc/README.md"
cat > "$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: res_cluster

Files: *
Copyright: 2026 the res_cluster authors
License: GPL-2
 On Debian systems, the full text of the GNU General Public License
 version 2 can be found in the file /usr/share/common-licenses/GPL-2.
EOF
printf '%s (%s) unstable; urgency=medium\n\n  * Release %s of res_cluster.\n\n -- res_cluster maintainers <res-cluster@packages.invalid>  %s\n' \
    "$name" "$version" "$upstream" "$date" > "$doc/changelog.Debian"
gzip -9n "$doc/changelog.Debian"

# Shared-library dependencies, as dpkg-shlibdeps finds them.
work=build/deb/shlibs
mkdir -p "$work/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" > "$work/debian/control"
module=$(cd "$root" && pwd)/usr/lib/$multiarch/asterisk/modules/res_cluster.so
shlibs=$(cd "$work" && dpkg-shlibdeps -O "$module" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no dependencies"

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: res_cluster maintainers <res-cluster@packages.invalid>
Installed-Size: $size
Depends: asterisk-abi-$sum, $shlibs
Section: comm
Priority: optional
Description: Asterisk module: one redundant phone system from several nodes
 res_cluster adds the ClusterDial dialplan application to Asterisk. It rings
 a phone on this node, then on the peer nodes of the cluster, with a loop
 check that works for any number of nodes, caller-ID prefixing between
 nodes, and peers that stop answering skipped within a second.
EOF
echo /etc/asterisk/res_cluster.conf > "$root/DEBIAN/conffiles"
(cd "$root" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
find "$root" -type d -exec chmod 0755 {} +
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

out=build/${name}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "built $out (Depends: asterisk-abi-$sum, $shlibs)"
