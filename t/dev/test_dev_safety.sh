#!/usr/bin/env bash
# t/dev/test_dev_safety.sh (`./dev test-dev`, run by .ci/run): ./dev leaves the host alone.
#   - clones this checkout into a 0700 folder under /root (as a quick-start user would, into
#     root's 0700 home), with the working tree's changes on top;
#   - host services: for mariadb, docker, containerd, apache2 a pid file whose process runs is
#     watched as it is; otherwise a stand-in process holds the service's usual pid file. A stub
#     `systemctl` (first on PATH) answers "active" for these services, as on a host that runs them,
#     and records every call that would change a service; stubs of usermod/gpasswd/groupmod record
#     any attempt to change a user or group;
#   - `./dev run` in the clone: /health, /openapi.json (read by httpd's children) and a Docker
#     route answer 200, httpd's children run as dockpay-dev, the engine is the private one,
#     the PortOne line says "fake"; `./dev run` again with the port taken fails with exactly one
#     `[dev] error:` line and no traceback; `./dev stop` stops every process of the run;
#   - stale pid files (as after a reboot) naming the stand-ins make `./dev stop` kill nothing;
#   - afterwards: the stand-ins (same pids) run, their pid files are unchanged, no service call
#     and no user/group change was attempted, /etc/passwd and /etc/group are unchanged apart from
#     the documented dockpay-dev user and group (added once when missing);
#   - .env: filled credentials mean the real PortOne unless DOCKPAY_FAKE_PORTONE=1;
#     PORTONE_CHANNEL_KEY/PORTONE_PG reach the directives (python checks of t/harness.py).
# Exit 0 when every check passes; each failed check prints one FAIL line.
set -uo pipefail
cd "$(dirname "$0")/../.."
TOP=$(pwd)
fails=0
say() { printf '[test-dev] %s\n' "$*" >&2; }
ok() { say "ok   $*"; }
fail() { say "FAIL $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

[ "$(id -u)" = 0 ] || { say "error: run as root"; exit 2; }

W=$(mktemp -d /root/dpdev.XXXXXX)            # mode 0700, inside root's 0700 home
case "$W" in /root/dpdev.?*) ;; *) say "error: mktemp failed"; exit 2;; esac
STUB="$W/stub"; CALLS="$W/calls.log"; mkdir -p "$STUB"; : >"$CALLS"
SRC="$W/mod_dockpay"
STANDINS=()        # "name pid pidfile" of the stand-ins this test started
MADE_FILES=()      # pid files (and folders) this test created
cp /etc/passwd "$W/passwd.before"; cp /etc/group "$W/group.before"
had_user=0; getent passwd dockpay-dev >/dev/null && had_user=1

cleanup() {
    [ -x "$SRC/dev" ] && PATH="$STUB:$PATH" "$SRC/dev" stop >/dev/null 2>&1
    local s
    for s in "${STANDINS[@]}"; do set -- $s; kill "$2" 2>/dev/null; done
    for ((i=${#MADE_FILES[@]}-1; i>=0; i--)); do
        f=${MADE_FILES[$i]}
        if [ -d "$f" ]; then rmdir "$f" 2>/dev/null; else rm -f "$f"; fi
    done
    [ -n "${LISTENER:-}" ] && kill "$LISTENER" 2>/dev/null
    [ -n "${STATE:-}" ] && case "$STATE" in /var/lib/dockpay-dev/mod_dockpay-*) rm -rf "$STATE";; esac
    rm -rf "$W"
}
trap cleanup EXIT

# ---------------------------------------------------------------- stubs
cat >"$STUB/systemctl" <<EOF
#!/bin/sh
# stub: every host service of the list "is active"; any change is recorded
echo "systemctl \$*" >>"$CALLS"
case "\$*" in
  *is-active*) exit 0 ;;
  *is-enabled*|*status*|*show*|*list-*) exec /usr/bin/systemctl "\$@" ;;
  *) echo "VIOLATION systemctl \$*" >>"$CALLS"; exit 0 ;;
esac
EOF
for c in usermod gpasswd groupmod userdel groupdel service invoke-rc.d; do
    printf '#!/bin/sh\necho "VIOLATION %s $*" >>"%s"\nexit 1\n' "$c" "$CALLS" >"$STUB/$c"
done
chmod 755 "$STUB"/*

# ---------------------------------------------------------------- host services (or stand-ins)
standin() {  # name pidfile
    local name=$1 pidfile=$2 pid
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        STANDINS+=("$name $pid $pidfile real")
        say "watching the host's running $name (pid $pid)"
        return
    fi
    [ -e "$pidfile" ] && { say "skipping $name: stale $pidfile belongs to the host"; return; }
    local dir; dir=$(dirname "$pidfile")
    [ -d "$dir" ] || { mkdir -p "$dir"; MADE_FILES+=("$dir"); }
    setsid bash -c "exec -a $name sleep 3600" </dev/null >/dev/null 2>&1 &
    pid=$!
    echo "$pid" >"$pidfile"; MADE_FILES+=("$pidfile")
    STANDINS+=("$name $pid $pidfile standin")
}
standin mariadbd /run/mysqld/mysqld.pid
standin dockerd /run/docker.pid
standin containerd /run/containerd/containerd.pid
standin apache2 /run/apache2/apache2.pid
for s in "${STANDINS[@]}"; do set -- $s; md5sum "$3" >>"$W/pidfiles.md5"; done
say "stand-ins: ${STANDINS[*]}"

# ---------------------------------------------------------------- the clone
git clone -q "$TOP" "$SRC" || { fail "git clone"; exit 1; }
# the working tree's changes (tracked and new files) on top of the last commit
(git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -C "$SRC" -xf -) 2>/dev/null
check "the clone sits in a 0700 folder" [ "$(stat -c %a "$W")" = 700 ]
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'DOCKPAY_PORT=%s\n' "$PORT" >"$SRC/.env"
STATE=$(cd "$SRC" && python3 -c 'import sys; sys.path.insert(0, "t"); import harness; print(harness.default_run_root())' 2>/dev/null)
case "$STATE" in */mod_dockpay-*) ;; *) fail "the clone's ./dev run state folder is unknown (t/harness.py default_run_root)"; exit 1;; esac

run_dev() {  # OUT-FILE ARGS...: ./dev in the clone with the stubs first on PATH
    local out=$1; shift
    (cd "$SRC" && PATH="$STUB:$PATH" ./dev "$@") >"$out" 2>&1
}

say "./dev run in $SRC (builds the module: a minute or two)"
run_dev "$W/run.out" run; rc=$?
check "./dev run exits 0 (see below when not)" [ $rc = 0 ]
[ $rc = 0 ] || tail -20 "$W/run.out" >&2
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "/health answers 200 during run" [ "$(code "http://127.0.0.1:$PORT/api/v1/health")" = 200 ]
check "/openapi.json answers 200 (the children can read it)" \
    [ "$(code "http://127.0.0.1:$PORT/api/v1/openapi.json")" = 200 ]
KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"]["admin"])' "$STATE/state.json" 2>/dev/null)
check "a Docker route answers 200 (children reach the private engine)" \
    [ "$(code -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/v1/system/version")" = 200 ]
check "run names the private engine" grep -q "private engine in network namespace" "$W/run.out"
check "run says which PortOne: fake" grep -qE "PortOne  : https://127.0.0.1:[0-9]+ — fake" "$W/run.out"
hpid=$(cat "$STATE/httpd/httpd.pid" 2>/dev/null)
children=$(ps -o user= --ppid "${hpid:-0}" | sort -u | tr '\n' ' ')
check "httpd's children run as dockpay-dev (got: $children)" [ "$children" = "dockpay-dev " ]
check "no process of the run uses the host's docker.sock" \
    bash -c '! grep -las "/run/docker[.]sock" /proc/[0-9]*/cmdline'
check "the engine's socket belongs to group dockpay-dev, mode 660" \
    [ "$(stat -c '%G %a' "$STATE/docker/docker.sock" 2>/dev/null)" = "dockpay-dev 660" ]

# a failure is one line: the port taken
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(600)' >"$W/lport" &
LISTENER=$!
for _ in $(seq 50); do [ -s "$W/lport" ] && break; sleep 0.1; done
LPORT=$(cat "$W/lport")
cp "$SRC/.env" "$W/env.saved"
run_dev "$W/stop1.out" stop
printf 'DOCKPAY_PORT=%s\n' "$LPORT" >"$SRC/.env"
run_dev "$W/busy.out" run; rc=$?
cp "$W/env.saved" "$SRC/.env"
check "run with the port taken exits non-zero" [ $rc != 0 ]
check "... with exactly one [dev] error: line" [ "$(grep -c '^\[dev\] error: ' "$W/busy.out")" = 1 ]
check "... that names the port" grep -q "^\[dev\] error: port $LPORT .* in use" "$W/busy.out"
check "... and no traceback" bash -c "! grep -q Traceback '$W/busy.out'"
kill "$LISTENER" 2>/dev/null; LISTENER=

# start again, stop, then everything of the run is gone
run_dev "$W/run2.out" run
check "a second ./dev run starts again" [ "$(code "http://127.0.0.1:$PORT/api/v1/health")" = 200 ]
NS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ns"])' "$STATE/state.json")
check "the private engine runs in its own network namespace" [ -n "$(ip netns pids "$NS" 2>/dev/null)" ]
run_dev "$W/stop.out" stop
sleep 1
left=$(for p in $(pgrep -f -- "$STATE/"); do
           [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] || echo "$p"; done | tr '\n' ' ')
check "./dev stop leaves no process of the run (left: $left)" [ -z "$left" ]
check "./dev stop removes the network namespace" bash -c "! ip netns list | grep -qw '$NS'"

# stale pid files (as after a reboot) that name the stand-ins: stop must signal none of them
for s in "${STANDINS[@]}"; do set -- $s; stand=$2; break; done
if [ -n "${stand:-}" ]; then
    for f in mysql/pid docker/pid httpd/httpd.pid registry/pid fake/pid; do echo "$stand" >"$STATE/$f"; done
    run_dev "$W/stop2.out" stop
    check "./dev stop with stale pid files signals no foreign process" kill -0 "$stand"
fi

# package installs start no service: apt-get and dpkg-query stubs (one package "missing"), a
# policy-rc.d path of this test (DP_POLICY_RC) that is absent, then present with the host's own
PK="$W/pkgstub"; mkdir -p "$PK"; POL="$W/policy-rc.d"
cat >"$PK/dpkg-query" <<'EOF'
#!/bin/sh
for a; do [ "$a" = apache2 ] && { echo "install ok not-installed"; exit 0; }; done
exec /usr/bin/dpkg-query "$@"
EOF
cat >"$PK/apt-get" <<EOF
#!/bin/sh
if [ -e "$POL" ]; then "$POL" mariadb start; echo "apt-get \$* policy-rc.d exit \$?" >>"$W/apt.calls"
else echo "apt-get \$* no policy-rc.d" >>"$W/apt.calls"; fi
exit \${APT_RC:-0}
EOF
chmod 755 "$PK"/*
pkgs() { (cd "$SRC" && PATH="$PK:$STUB:$PATH" DP_POLICY_RC="$POL" ./dev packages) >"$W/pkgs.out" 2>&1; }
: >"$W/apt.calls"; pkgs; rc=$?
check "packages: ./dev packages exits 0 (with the stubs)" [ $rc = 0 ]
check "packages: every apt-get ran under a policy-rc.d that denies starts (101)" \
    bash -c "[ \$(grep -c 'policy-rc.d exit 101' '$W/apt.calls') = 2 ] && [ \$(wc -l <'$W/apt.calls') = 2 ]"
check "packages: the policy-rc.d ./dev wrote is gone afterwards" [ ! -e "$POL" ]
printf '#!/bin/sh\n# the host own\nexit 101\n' >"$POL"; chmod 755 "$POL"; md5sum "$POL" >"$W/pol.md5"
: >"$W/apt.calls"; APT_RC=100 pkgs; rc=$?
check "packages: a failed install exits non-zero" [ $rc != 0 ]
check "packages: ... with one [dev] error: line naming the log" \
    bash -c "[ \$(grep -c '^\[dev\] error: package install failed .*apt.log' '$W/pkgs.out') = 1 ] && ! grep -q Traceback '$W/pkgs.out'"
check "packages: a policy-rc.d that was there is left as it was" md5sum --quiet -c "$W/pol.md5"
# the host's own policy-rc.d lets services start: ./dev installs nothing (it would start services
# it may not stop) and says what to install
printf '#!/bin/sh\n# the host own, permissive\nexit 0\n' >"$POL"; chmod 755 "$POL"; md5sum "$POL" >"$W/pol.md5"
: >"$W/apt.calls"; pkgs; rc=$?
check "packages: a permissive host policy-rc.d: exits non-zero" [ $rc != 0 ]
check "packages: ... without running apt-get" [ ! -s "$W/apt.calls" ]
check "packages: ... with one [dev] error: line naming the packages" \
    bash -c "[ \$(grep -c '^\[dev\] error: .*apt-get install .*apache2' '$W/pkgs.out') = 1 ] && ! grep -q Traceback '$W/pkgs.out'"
check "packages: ... and its policy-rc.d left as it was" md5sum --quiet -c "$W/pol.md5"
rm -f "$POL"

# ---------------------------------------------------------------- the host afterwards
for s in "${STANDINS[@]}"; do
    set -- $s
    check "$1 (pid $2, $4) still runs" kill -0 "$2"
done
check "the services' pid files are unchanged" md5sum --quiet -c "$W/pidfiles.md5"
check "no service was started, stopped or changed, no user or group modified" \
    bash -c "! grep VIOLATION '$CALLS'"
grep VIOLATION "$CALLS" >&2
check "/etc/passwd unchanged but for the dockpay-dev user" \
    bash -c "diff '$W/passwd.before' /etc/passwd | grep '^[<>]' | grep -v '^> dockpay-dev:' | { ! grep -q .; }"
check "/etc/group unchanged but for the dockpay-dev group" \
    bash -c "diff '$W/group.before' /etc/group | grep '^[<>]' | grep -v '^> dockpay-dev:x:[0-9]*:$' | { ! grep -q .; }"
if [ $had_user = 1 ]; then
    check "an existing dockpay-dev is left as it was" cmp -s "$W/passwd.before" /etc/passwd
fi
check "www-data is in no new group" [ "$(grep -c 'www-data' "$W/group.before")" = "$(grep -c 'www-data' /etc/group)" ]

# ---------------------------------------------------------------- .env → PortOne
check ".env.example ships DOCKPAY_FAKE_PORTONE unset (commented)" \
    bash -c "grep -q '^#DOCKPAY_FAKE_PORTONE=1' '$TOP/.env.example' && ! grep -q '^DOCKPAY_FAKE_PORTONE' '$TOP/.env.example'"
if python3 - "$TOP" <<'PY'
import os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "t"))
import harness
from harness import DevError, portone_from_env as pe
K = {"PORTONE_API_KEY": "k", "PORTONE_API_SECRET": "s"}
assert pe({}) == (True, {}), pe({})
fake, p = pe(dict(K))
assert not fake and p["url"] == "https://api.iamport.kr" and p["key"] == "k", p
assert pe(dict(K, DOCKPAY_FAKE_PORTONE="1"))[0] is True
assert pe(dict(K, DOCKPAY_FAKE_PORTONE="0"))[0] is False
for bad in ({"PORTONE_API_KEY": "k"}, dict(K, DOCKPAY_FAKE_PORTONE="yes"), dict(K, PORTONE_API_SECRET='a"b'),
            dict(K, PORTONE_API_URL="http://x")):
    try:
        pe(bad)
        raise AssertionError(f"accepted {bad}")
    except DevError:
        pass
fake, p = pe(dict(K, PORTONE_CHANNEL_KEY="channel-key-1", PORTONE_PG="nice.MID1"))
st = harness.Stack("/tmp/none", "/tmp/none", port=1, fake=False, portone=p)
conf = st.httpd_conf()
assert 'DockpayPortOneChannelKey "channel-key-1"' in conf and 'DockpayPortOnePG "nice.MID1"' in conf, conf
assert 'DockpayPortOneURL "https://api.iamport.kr"' in conf
PY
then ok ".env: real unless DOCKPAY_FAKE_PORTONE=1; channel key and PG reach the directives"
else fail ".env: real unless DOCKPAY_FAKE_PORTONE=1; channel key and PG reach the directives"; fi

if [ $fails = 0 ]; then say "all checks passed"; exit 0; fi
say "$fails check(s) failed (outputs kept in the log above)"; exit 1
