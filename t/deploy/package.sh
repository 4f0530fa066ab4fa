#!/usr/bin/env bash
# t/deploy/package.sh (./dev package): builds the Debian package libapache2-mod-dockpay from
# this tree (debian/) into dist/, then runs lintian on it. The build runs in a copy of the tree
# so the checkout's own build folders stay untouched.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
log() { printf '[package] %s\n' "$*" >&2; }
need=(debhelper lintian apache2-dev libcurl4-openssl-dev libjson-c-dev libyaml-dev libssl-dev pkg-config
      autoconf automake libtool make gcc dpkg-dev fakeroot)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
W=$(mktemp -d /tmp/dp-package.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/src"
tar -C "$TOP" --exclude=./.git --exclude='./build' --exclude='./build-*' --exclude=./dist --exclude=./.run \
    --exclude=./.env --exclude=./configure --exclude=./autom4te.cache --exclude=./build-aux \
    --exclude=./aclocal.m4 --exclude='./m4' --exclude='*/__pycache__' --exclude='Makefile.in' \
    --exclude=./.pytest_cache -cf - . | tar -C "$W/src" -xf -
log "dpkg-buildpackage -b (log: dist/build.log)"
mkdir -p dist
(cd "$W/src" && dpkg-buildpackage -b -us -uc) >dist/build.log 2>&1 || { tail -40 dist/build.log; log "build failed"; exit 1; }
rm -f dist/*.deb dist/*.changes dist/*.buildinfo
cp "$W"/*.deb "$W"/*.changes "$W"/*.buildinfo dist/
deb=$(ls dist/libapache2-mod-dockpay_*_*.deb | grep -v dbgsym)
log "lintian $deb"
lintian --allow-root --fail-on warning --info "$deb" dist/*.changes | tee dist/lintian.log
log "built $deb"
