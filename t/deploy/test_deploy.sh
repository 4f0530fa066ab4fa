#!/usr/bin/env bash
# t/deploy/test_deploy.sh (./dev test-deploy): the container deployment end to end.
# On a private Docker engine (t/deploy/engine.sh) it imports the cached Debian 12 base image,
# builds a MariaDB stand-in from Debian's mariadb-server (t/deploy/mariadb/; the official image
# cannot be pulled here) and the API image from ./Dockerfile, then with docker-compose.yml and a
# test .env: `--profile dev up -d` (API, MariaDB, fake PortOne, and Adminer built from Debian's
# adminer package by t/deploy/adminer/ in place of the official image), and checks
#   - GET /health is 200 with docker "ok" and database "ok" (schema migrated by the API container)
#   - httpd runs as the non-root dockpay user, which reached the socket through its group
#   - GET /containers (admin key minted on first start) lists the stack's own containers
#   - POST /payments/prepare through the fake PortOne stores the row in the compose MariaDB
#   - Adminer (dev profile) answers and logs in to the compose MariaDB
#   - `docker-compose restart` keeps the row and the key
#   - `down -v` removes containers, network and volumes
# then removes the engine, its bridge and folders. The debootstrap tarball stays cached in
# build-deploy/cache (DP_DEPLOY_CACHE). Prints the time each phase took.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
log() { printf '[test-deploy] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
T0=$(date +%s)
phase() { log "$* (+$(( $(date +%s) - T0 )) s)"; }

command -v docker-compose >/dev/null && command -v dockerd >/dev/null && command -v debootstrap >/dev/null || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io docker-compose debootstrap curl >/dev/null
}
W=$(mktemp -d /tmp/dp-deploy.XXXXXX)
. "$TOP/t/deploy/engine.sh"
P=dpdeploy$$
COMPOSE_UP=0
dc() { docker-compose -p "$P" --env-file "$W/env" -f "$TOP/docker-compose.yml" "$@"; }
cleanup() {
    local rc=$?
    if [ "$COMPOSE_UP" = 1 ]; then
        [ $rc = 0 ] || { dc --profile dev logs --no-color --tail 40 >&2 2>/dev/null || true; }
        dc --profile dev down -v --remove-orphans >/dev/null 2>&1 || true
    fi
    engine_finish "$rc"
}
trap cleanup EXIT

engine_start
base_image
phase "building the MariaDB stand-in image"
docker build -q --network host --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" -t dpdeploy/mariadb:test t/deploy/mariadb >/dev/null
phase "building the Adminer stand-in image"
docker build -q --network host --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" -t dpdeploy/adminer:test t/deploy/adminer >/dev/null

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(freeport); aport=$(freeport)
dbpw=$(openssl rand -hex 12)
cat > "$W/env" <<ENV
DOCKPAY_IMAGE=dpdeploy/mod_dockpay:test
MARIADB_IMAGE=dpdeploy/mariadb:test
ADMINER_IMAGE=dpdeploy/adminer:test
ADMINER_PORT=$aport
DEBIAN_IMAGE=$DEBIAN_IMAGE
DOCKER_SOCKET=$W/engine/docker.sock
DOCKPAY_BIND=127.0.0.1
DOCKPAY_PORT=$port
DOCKPAY_DB_PASSWORD=$dbpw
MARIADB_ROOT_PASSWORD=$(openssl rand -hex 12)
PORTONE_API_KEY=deploy-test-key
PORTONE_API_SECRET=deploy-test-secret
PORTONE_API_URL=http://127.0.0.1:9090
ENV
phase "docker-compose build (API image from ./Dockerfile)"
dc build -q api >/dev/null 2>"$W/build.err" || { tail -40 "$W/build.err"; fail "compose build"; }
phase "docker-compose --profile dev up -d"
COMPOSE_UP=1
dc --profile dev up -d >/dev/null 2>"$W/up.err" || { cat "$W/up.err"; fail "compose up"; }

BASE=http://127.0.0.1:$port/api/v1
wait_health() {
    local n code
    for n in $(seq 1 120); do
        code=$(curl -s -o "$W/health" -w '%{http_code}' "$BASE/health" || true)
        [ "$code" = 200 ] && return 0
        sleep 1
    done
    log "last /health: $code $(cat "$W/health" 2>/dev/null)"; return 1
}
wait_health || fail "/health did not answer 200"
python3 - "$W/health" <<'PY' || fail "/health body"
import json, sys
h = json.load(open(sys.argv[1]))
assert h["status"] == "ok" and h["docker"] == "ok" and h["database"] == "ok", h
PY
phase "health 200: $(cat "$W/health")"

api_cid=$(dc ps -q api); db_cid=$(dc ps -q db)
# every httpd process runs as uid 10001 (dockpay), none as root
docker top "$api_cid" -eo pid,uid,comm | awk 'NR>1 && $3 ~ /apache2/ {n++; if ($2 != 10001) bad=1} END {exit !(n>0 && !bad)}' \
    || { docker top "$api_cid" -eo pid,uid,comm; fail "apache2 must run as uid 10001 only"; }
KEY=$(dc exec -T api cat /var/lib/dockpay/admin.key | tr -d '\r\n')
[ -n "$KEY" ] || fail "no admin key in the state volume"
auth=(-H "Authorization: Bearer $KEY")

code=$(curl -s -o "$W/list" -w '%{http_code}' "${auth[@]}" "$BASE/containers?all=true")
[ "$code" = 200 ] || fail "GET /containers: $code $(head -c 300 "$W/list")"
python3 - "$W/list" "$api_cid" "$db_cid" <<'PY' || fail "container list through the socket"
import json, sys
body = json.load(open(sys.argv[1]))
items = body["items"] if isinstance(body, dict) else body
ids = {c.get("id") or c.get("Id") for c in items}
for want in sys.argv[2:]:
    assert any(i and (want.startswith(i) or i.startswith(want)) for i in ids), (want, ids)
PY
phase "container list through the mounted socket holds the API and MariaDB containers"

muid="deploy-$(openssl rand -hex 6)"
code=$(curl -s -o "$W/prep" -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' \
       -d "{\"merchant_uid\":\"$muid\",\"amount\":15000}" "$BASE/payments/prepare")
[ "$code" = 201 ] || fail "POST /payments/prepare: $code $(cat "$W/prep")"
row() {
    dc exec -T -e MYSQL_PWD="$dbpw" db mariadb -u dockpay --batch --skip-column-names dockpay \
        -e "SELECT prepared_amount FROM payments WHERE merchant_uid='$muid'" | tr -d '\r'
}
[ "$(row)" = 15000 ] || fail "the prepared payment is not in the compose MariaDB"
phase "payment prepared through the fake PortOne and stored in MariaDB"

code=$(curl -s -o "$W/adm" -w '%{http_code}' "http://127.0.0.1:$aport/")
[ "$code" = 200 ] && grep -q Adminer "$W/adm" || fail "Adminer: $code"
adminer_login() {   # PASSWORD: Adminer stores the login and redirects; the page after it lists
    rm -f "$W/adm.jar"  # the database's tables only when the login to MariaDB worked
    curl -sL -o "$W/adm" -c "$W/adm.jar" -b "$W/adm.jar" "http://127.0.0.1:$aport/" \
        --data-urlencode 'auth[driver]=server' --data-urlencode 'auth[server]=db' \
        --data-urlencode 'auth[username]=dockpay' --data-urlencode "auth[password]=$1" --data-urlencode 'auth[db]=dockpay'
    grep -q 'payment_cancellations' "$W/adm"
}
! adminer_login "wrong-$dbpw" || fail "Adminer showed the tables with a wrong password"
adminer_login "$dbpw" || fail "Adminer login to the compose MariaDB: $(grep -o "class='error'>[^<]*" "$W/adm" | head -1)"
phase "Adminer (dev profile) logs in to the compose MariaDB"

dc --profile dev restart >/dev/null 2>&1 || fail "compose restart"
wait_health || fail "/health after restart"
[ "$(row)" = 15000 ] || fail "the payment row did not survive the restart"
code=$(curl -s -o "$W/pay" -w '%{http_code}' "${auth[@]}" "$BASE/payments?limit=50")
[ "$code" = 200 ] && grep -q "\"$muid\"" "$W/pay" || fail "GET /payments after restart: $code $(head -c 300 "$W/pay")"
phase "restart kept the payment and the admin key"

dc --profile dev down -v --remove-orphans >/dev/null 2>&1 || fail "compose down -v"
COMPOSE_UP=0
[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$P")" ] || fail "containers left after down"
[ -z "$(docker volume ls -q --filter "label=com.docker.compose.project=$P")" ] || fail "volumes left after down -v"
phase "down -v removed containers and volumes"
