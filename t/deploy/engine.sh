# t/deploy/engine.sh: sourced by test_deploy.sh and test_package.sh. A private Docker engine in
# the host's network namespace (image builds run apt-get with --network host, and only the
# host's namespace reaches the Debian mirror) on a bridge of its own, and the cached Debian 12
# base image. Nothing of the host's own engine, docker0 or iptables is touched:
#   - the engine gets its own bridge ($DP_BRIDGE, a private /24) and its own address pool for
#     the networks Compose creates; never --bridge=none here (that deletes docker0);
#   - --iptables=false --ip-forward=false --ip-masq=false: no host firewall rules and no sysctl
#     change; containers on one bridge still talk to each other, and the host reaches them over
#     the bridge (the container IP, or a port published on 127.0.0.1 through docker-proxy).
# Requires: TOP (the checkout), W (this run's temp folder), log().
DP_BRIDGE=${DP_BRIDGE:-dpdeploy0}
DP_BRIDGE_NET=${DP_BRIDGE_NET:-10.239.71}          # .1 is the host end
DP_POOL=${DP_POOL:-10.239.80.0/20}                 # /24s for Compose networks
DP_CACHE=${DP_DEPLOY_CACHE:-$TOP/build-deploy/cache}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-debian:bookworm-slim}
DP_ENGINE_UP=0

engine_start() {
    local n drv=vfs
    if ip link show "$DP_BRIDGE" >/dev/null 2>&1; then
        log "bridge $DP_BRIDGE exists already (another run?); set DP_BRIDGE to another name"; return 1
    fi
    if ip route | grep -q "^$DP_BRIDGE_NET\.\|^${DP_POOL%%.0/*}\."; then
        log "$DP_BRIDGE_NET.0/24 or $DP_POOL is routed here already; set DP_BRIDGE_NET / DP_POOL"; return 1
    fi
    ip link add "$DP_BRIDGE" type bridge
    DP_ENGINE_UP=1
    ip addr add "$DP_BRIDGE_NET.1/24" dev "$DP_BRIDGE"
    ip link set "$DP_BRIDGE" up
    grep -qw overlay /proc/filesystems && drv=overlay2
    mkdir -p "$W/engine"
    setsid dockerd -b "$DP_BRIDGE" --iptables=false --ip-forward=false --ip-masq=false \
        --default-address-pool "base=$DP_POOL,size=24" --storage-driver="$drv" \
        --data-root "$W/engine/data" --exec-root "$W/engine/exec" --pidfile "$W/engine/pid" \
        -H "unix://$W/engine/docker.sock" >"$W/engine/log" 2>&1 </dev/null &
    export DOCKER_HOST="unix://$W/engine/docker.sock"
    for n in $(seq 1 60); do
        [ "$(curl -s --unix-socket "$W/engine/docker.sock" http://localhost/_ping 2>/dev/null)" = OK ] && break
        sleep 0.5
    done
    [ "$(curl -s --unix-socket "$W/engine/docker.sock" http://localhost/_ping 2>/dev/null)" = OK ] \
        || { tail -20 "$W/engine/log"; log "private dockerd did not start"; return 1; }
    log "private dockerd ($drv) on $DOCKER_HOST, bridge $DP_BRIDGE $DP_BRIDGE_NET.1/24"
}

engine_stop() {
    local pid n
    [ "$DP_ENGINE_UP" = 1 ] || return 0
    if [ -f "$W/engine/pid" ]; then
        pid=$(cat "$W/engine/pid")
        kill "$pid" 2>/dev/null || true
        for n in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    # anything the engine left mounted below its folders
    grep -o " $W/engine[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    ip link del "$DP_BRIDGE" 2>/dev/null || true
    DP_ENGINE_UP=0
}

# The end of every test's cleanup: stops the engine, removes $W and says PASS or failed for the
# test's exit code $1 (uses T0, the test's start time).
engine_finish() {
    engine_stop
    rm -rf "$W"
    if [ "$1" = 0 ]; then log "PASS in $(( $(date +%s) - T0 )) s"; else log "failed (rc $1)"; fi
}

# the Debian 12 base image, from a debootstrap root cached as a tarball in $DP_CACHE
base_image() {
    local mirror root
    if docker image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1; then return 0; fi
    mkdir -p "$DP_CACHE"
    if [ ! -s "$DP_CACHE/debian-bookworm-minbase.tar" ]; then
        command -v debootstrap >/dev/null || apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
        mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
        mirror=${mirror:-http://deb.debian.org/debian}
        root="$W/debootstrap"
        log "debootstrap --variant=minbase bookworm from $mirror (cached in $DP_CACHE)"
        debootstrap --variant=minbase bookworm "$root" "$mirror" >"$W/debootstrap.log" 2>&1 \
            || { tail -20 "$W/debootstrap.log"; return 1; }
        tar -C "$root" -cf "$DP_CACHE/debian-bookworm-minbase.tar.part" .
        mv "$DP_CACHE/debian-bookworm-minbase.tar.part" "$DP_CACHE/debian-bookworm-minbase.tar"
        rm -rf "$root"
    fi
    docker import "$DP_CACHE/debian-bookworm-minbase.tar" "$DEBIAN_IMAGE" >/dev/null
    log "base image $DEBIAN_IMAGE imported from $DP_CACHE/debian-bookworm-minbase.tar"
}
