#!/usr/bin/env bash
# t/deploy/test_readme_install.sh (./dev test-readme-install): the README's "Installing on a
# server" block, run literally as root in a clean Debian 12 root, must end with a working API.
#   - the block is cut out of README.md between <!-- install:begin --> and <!-- install:end -->
#     (the ```sh fence inside), so every README change is what gets tested;
#   - it runs in a container from the cached debootstrap base image (t/deploy/engine.sh) on a
#     private engine in the host's network namespace, with the source tree copied in as a clone
#     would have it, `--network host` (apt needs the Debian mirror; the instance's 127.0.0.1:8081
#     and MariaDB's 127.0.0.1:3306 are then the host's, so both must be free) and the private
#     engine's socket at /var/run/docker.sock (the server's Docker engine, for the module);
#   - THE ONLY DEVIATION from a real server: the container has no systemd, so /usr/local/sbin/
#     systemctl is a stand-in that does what Debian's units do for `enable --now|start|restart|
#     reload` of mariadb (install -d /run/mysqld, mysqld_safe), docker (docker.socket: the socket
#     root:docker 0660; the engine itself is the private one) and apache2@dockpay (apache2ctl with
#     APACHE_CONFDIR=/etc/apache2-dockpay); anything else it refuses, so a new systemctl line in
#     the README fails here instead of passing unnoticed. DEBIAN_FRONTEND=noninteractive is set.
# Then, from the host: /health is 200 with database and docker "ok", and GET /payments with the
# key the README's keygen line printed is 200 {"items": [...]}.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
log() { printf '[test-readme-install] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
T0=$(date +%s)
command -v dockerd >/dev/null && command -v debootstrap >/dev/null || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io debootstrap curl >/dev/null
}
for port in 8081 3306; do
    ss -ltnH "sport = :$port" | grep -q . && fail "port $port is in use on this host (the container shares its network)"
done
W=$(mktemp -d /tmp/dp-readme-test.XXXXXX)
DP_BRIDGE=${DP_BRIDGE:-dpdeploy2}
DP_BRIDGE_NET=${DP_BRIDGE_NET:-10.239.73}
DP_POOL=${DP_POOL:-10.239.112.0/20}
. "$TOP/t/deploy/engine.sh"
C=dpreadme$$
cleanup() {
    local rc=$?
    if [ "$DP_ENGINE_UP" = 1 ]; then
        # stop what the block started inside (it shares the host's network), then the container
        docker exec "$C" sh -c 'APACHE_CONFDIR=/etc/apache2-dockpay apache2ctl stop; mariadb-admin shutdown' >/dev/null 2>&1 || true
        docker rm -f "$C" >/dev/null 2>&1 || true
    fi
    engine_finish "$rc"
}
trap cleanup EXIT

# the block, exactly as README.md has it
awk '/<!-- install:begin/ {on=1; next} /<!-- install:end/ {on=0} on' README.md \
    | awk '/^```sh$/ {f=1; next} /^```$/ {f=0} f' > "$W/install.sh"
[ -s "$W/install.sh" ] || fail "no install block between <!-- install:begin --> and <!-- install:end --> in README.md"
log "README block: $(wc -l < "$W/install.sh") lines"

cat > "$W/systemctl" <<'STANDIN'
#!/bin/sh
# systemctl stand-in of t/deploy/test_readme_install.sh (no systemd in the container): what
# Debian's mariadb.service, docker.socket and apache2@.service do on start/reload.
set -e
case "$1" in enable) shift; [ "$1" = --now ] || { echo "stand-in: only enable --now" >&2; exit 1; }; shift; act=start ;;
    start|restart|reload) act=$1; shift ;;
    *) echo "systemctl stand-in: unsupported: $*" >&2; exit 1 ;;
esac
for unit in "$@"; do
    case "$unit:$act" in
    mariadb:start|mariadb:restart)
        mariadb-admin ping >/dev/null 2>&1 && [ "$act" = start ] && continue
        mariadb-admin shutdown >/dev/null 2>&1 || true
        install -m 755 -o mysql -g root -d /run/mysqld
        setsid mysqld_safe >/dev/null 2>&1 </dev/null &
        for i in $(seq 1 60); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.5; done
        mariadb-admin ping >/dev/null ;;
    docker:*)
        chgrp docker /var/run/docker.sock && chmod 0660 /var/run/docker.sock ;;
    apache2@dockpay:start) APACHE_CONFDIR=/etc/apache2-dockpay APACHE_STARTED_BY_SYSTEMD=true apache2ctl start ;;
    apache2@dockpay:restart) APACHE_CONFDIR=/etc/apache2-dockpay APACHE_STARTED_BY_SYSTEMD=true apache2ctl restart ;;
    apache2@dockpay:reload) APACHE_CONFDIR=/etc/apache2-dockpay APACHE_STARTED_BY_SYSTEMD=true apache2ctl graceful ;;
    *) echo "systemctl stand-in: unsupported unit/action: $unit $act" >&2; exit 1 ;;
    esac
done
STANDIN
chmod 755 "$W/systemctl"

engine_start
base_image

docker run -d --name "$C" --network host -v "$W/engine/docker.sock:/var/run/docker.sock" \
    "$DEBIAN_IMAGE" sleep infinity >/dev/null
docker cp "$W/systemctl" "$C:/usr/local/sbin/systemctl"
# the source tree as a clone has it (tracked and new files, no build output)
git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf "$W/src.tar"
docker cp "$W/src.tar" "$C:/root/src.tar"
docker exec "$C" sh -c 'mkdir /root/mod_dockpay && tar -C /root/mod_dockpay -xf /root/src.tar && rm /root/src.tar'
docker cp "$W/install.sh" "$C:/root/install.sh"

log "running the README block in a clean Debian 12 root (apt, build, install: a few minutes)"
T1=$(date +%s)
docker exec -e DEBIAN_FRONTEND=noninteractive -w /root/mod_dockpay "$C" bash -e -o pipefail /root/install.sh \
    >"$W/install.log" 2>&1 || { tail -40 "$W/install.log"; fail "the README block failed (above)"; }
log "README block done in $(( $(date +%s) - T1 )) s"

key=$(sed -n 's/^API key for ops (shown once): //p' "$W/install.log")
[ -n "$key" ] || { tail -20 "$W/install.log"; fail "the keygen line printed no key"; }
B=http://127.0.0.1:8081/api/v1
for _ in $(seq 1 40); do
    code=$(curl -s -o "$W/health" -w '%{http_code}' "$B/health" || true)
    [ "$code" = 200 ] && break; sleep 0.25
done
[ "$code" = 200 ] || fail "/health: $code $(cat "$W/health")"
python3 - "$W/health" <<'PY' || fail "/health body: $(cat "$W/health")"
import json, sys
h = json.load(open(sys.argv[1]))
assert h["database"] == "ok" and h["docker"] == "ok", h
PY
log "/health 200 $(cat "$W/health")"
code=$(curl -s -o "$W/pay" -w '%{http_code}' -H "Authorization: Bearer $key" "$B/payments")
[ "$code" = 200 ] || fail "GET /payments: $code $(cat "$W/pay")"
python3 -c 'import json,sys; assert isinstance(json.load(open(sys.argv[1]))["items"], list)' "$W/pay" \
    || fail "GET /payments body: $(cat "$W/pay")"
log "GET /payments with the README's key: 200 $(head -c 200 "$W/pay")"
