#!/usr/bin/env bash
# t/deploy/test_package.sh (./dev test-package): the Debian package in a clean Debian 12 root.
# Builds dist/libapache2-mod-dockpay_*.deb (t/deploy/package.sh, lintian-checked; DP_PACKAGE_DEB
# names a ready one instead), then on a private Docker engine (t/deploy/engine.sh) installs it
# with apt into the cached debootstrap base image and checks, in a container:
#   - installing enables nothing; `a2enmod dockpay` (pulls in dbd) + the example conf with a key
#     from dockpay-keygen pass `apachectl -t`; the tools and man pages are installed
#   - apache2 starts and the module answers: GET /api/v1/health is 503 with the module's JSON
#     (no database and no Docker socket in that container, so 503 is the right answer; asserted:
#     status 503, application/json, fields status/docker/database/portone, database and docker
#     not "ok"), /openapi.json is 200 from /usr/share/mod_dockpay, a keyless route is 401 problem+json
#   - `apt-get remove` leaves no dockpay.* in mods-enabled or conf-enabled and a valid config
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
log() { printf '[test-package] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
T0=$(date +%s)
if [ -n "${DP_PACKAGE_DEB:-}" ]; then deb=$DP_PACKAGE_DEB; else
    "$TOP/t/deploy/package.sh" >&2
    deb=$(ls "$TOP"/dist/libapache2-mod-dockpay_*_*.deb | grep -v dbgsym)
fi
command -v dockerd >/dev/null && command -v debootstrap >/dev/null || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io debootstrap curl >/dev/null
}
W=$(mktemp -d /tmp/dp-package-test.XXXXXX)
DP_BRIDGE=${DP_BRIDGE:-dpdeploy1}
DP_BRIDGE_NET=${DP_BRIDGE_NET:-10.239.72}
DP_POOL=${DP_POOL:-10.239.96.0/20}
. "$TOP/t/deploy/engine.sh"
C=dppkg$$
cleanup() {
    local rc=$?
    [ "$DP_ENGINE_UP" = 1 ] && docker rm -f "$C" >/dev/null 2>&1 || true
    engine_finish "$rc"
}
trap cleanup EXIT
engine_start
base_image

mkdir -p "$W/ctx"
cp "$deb" "$W/ctx/"
cat > "$W/ctx/Dockerfile" <<DOCKERFILE
FROM $DEBIAN_IMAGE
COPY $(basename "$deb") /tmp/
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends apache2 /tmp/$(basename "$deb")
DOCKERFILE
log "apt install $(basename "$deb") into a clean Debian 12 root"
docker build -q --network host -t dpdeploy/package:test "$W/ctx" >/dev/null 2>"$W/build.err" \
    || { tail -30 "$W/build.err"; fail "apt install of the package"; }
docker run -d --name "$C" dpdeploy/package:test sleep infinity >/dev/null
ex() { docker exec "$C" sh -c "$1"; }

ex '! ls /etc/apache2/mods-enabled/dockpay.* /etc/apache2/conf-enabled/dockpay.* 2>/dev/null' \
    || fail "installing the package must not enable anything"
ex 'test -x /usr/bin/dockpay-keygen && test -x /usr/bin/dockpay-migrate && dockpay-migrate --help >/dev/null &&
    test -f /usr/share/man/man1/dockpay-keygen.1.gz && test -f /usr/share/man/man1/dockpay-migrate.1.gz &&
    test -f /usr/share/mod_dockpay/db/init.sql && test -f /usr/share/mod_dockpay/db/migrations/002_payments.sql' \
    || fail "tools, man pages or schema missing"
ex 'a2enmod -q dockpay && test -e /etc/apache2/mods-enabled/dbd.load && test -e /etc/apache2/mods-enabled/dockpay.load' \
    || fail "a2enmod dockpay (with dbd)"
ex 'umask 077; mkdir -p /etc/apache2-dockpay && dockpay-keygen -q ops admin | sed -n 2p > /etc/apache2-dockpay/dockpay.keys && a2enconf -q dockpay' \
    || fail "key file / a2enconf dockpay"
ex 'apachectl -t 2>&1' >"$W/configtest" 2>&1 || { cat "$W/configtest"; fail "apachectl -t"; }
grep -q "Syntax OK" "$W/configtest" || fail "apachectl -t: $(cat "$W/configtest")"
ex 'apachectl start' >/dev/null 2>&1 || fail "apachectl start"
ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$C")
B="http://$ip/api/v1"
for n in $(seq 1 40); do
    code=$(curl -s -o "$W/health" -D "$W/hh" -w '%{http_code}' "$B/health" || true)
    [ "$code" != 000 ] && break; sleep 0.25
done
[ "$code" = 503 ] || fail "/health: $code $(cat "$W/health")"
grep -qi '^content-type: application/json' "$W/hh" || fail "/health is not the module's JSON: $(cat "$W/hh")"
python3 - "$W/health" <<'PY' || fail "/health body: $(cat "$W/health")"
import json, sys
h = json.load(open(sys.argv[1]))
assert set(("status", "docker", "database", "portone")) <= set(h), h
assert h["status"] != "ok" and h["docker"] != "ok" and h["database"] != "ok", h
PY
log "apache2 runs the module: /health 503 $(cat "$W/health")"
code=$(curl -s -o "$W/oa" -w '%{http_code}' "$B/openapi.json")
[ "$code" = 200 ] && python3 -c 'import json,sys; assert "openapi" in json.load(open(sys.argv[1]))' "$W/oa" \
    || fail "/openapi.json: $code"
code=$(curl -s -o /dev/null -D "$W/h401" -w '%{http_code}' "$B/containers")
[ "$code" = 401 ] && grep -qi '^content-type: application/problem+json' "$W/h401" || fail "keyless /containers: $code"
ex 'apachectl stop' >/dev/null 2>&1 || true

ex 'DEBIAN_FRONTEND=noninteractive apt-get remove -y libapache2-mod-dockpay >/dev/null 2>&1' || fail "apt-get remove"
ex '! ls /etc/apache2/mods-enabled/dockpay.* /etc/apache2/conf-enabled/dockpay.* 2>/dev/null' \
    || fail "dockpay is still enabled after removing the package"
ex 'test ! -e /usr/lib/apache2/modules/mod_dockpay.so && apachectl -t >/dev/null 2>&1' \
    || fail "after removal the module file stays or the configuration is broken"
log "apt-get remove: nothing of dockpay enabled, apachectl -t passes"
