#!/bin/sh
# dockpay-entrypoint: runs as root only long enough to
#   1. give the dockpay user the group that owns the mounted Docker socket (its gid differs
#      from host to host), 2. create the key file with an admin key on the first start,
#   3. migrate the database (dockpay-migrate; DOCKPAY_MIGRATE=0 skips it),
# then runs the command (default: apache2 -DFOREGROUND) as the dockpay user, never as root.
set -eu
log() { echo "dockpay-entrypoint: $*" >&2; }
user=dockpay
state=/var/lib/dockpay
sock=${DOCKPAY_DOCKER_SOCKET:-/var/run/docker.sock}

if [ "$(id -u)" != 0 ]; then
    log "not started as root: running $* as $(id -un) unchanged"
    exec "$@"
fi

# 1. the socket's group
if [ -S "$sock" ]; then
    gid=$(stat -c %g "$sock")
    if [ "$gid" = 0 ]; then
        log "WARNING: $sock belongs to group root; $user gets group root to reach it"
    fi
    group=$(getent group "$gid" | cut -d: -f1 || true)
    if [ -z "$group" ]; then
        group=dockersock
        groupadd -g "$gid" "$group"
    fi
    usermod -aG "$group" "$user"
    log "$user is in group $group ($gid), the group of $sock"
else
    log "WARNING: no Docker socket at $sock: the Docker routes will answer 503"
fi

# 2. the key file (kept on the state volume)
mkdir -p "$state/compose"
chown "$user:$user" "$state" "$state/compose"
if [ ! -f "$state/dockpay.keys" ]; then
    umask 077
    dockpay-keygen -q admin admin > "$state/admin.key.tmp"
    sed -n 2p "$state/admin.key.tmp" > "$state/dockpay.keys"
    sed -n 1p "$state/admin.key.tmp" > "$state/admin.key"
    rm -f "$state/admin.key.tmp"
    chown "$user:$user" "$state/dockpay.keys" "$state/admin.key"
    umask 022
    log "created $state/dockpay.keys with an admin key; read it once with: docker-compose exec api cat $state/admin.key"
fi

# 3. the schema
if [ "${DOCKPAY_MIGRATE:-1}" = 1 ] && [ -n "${DOCKPAY_DB_HOST:-}" ]; then
    export MYSQL_PWD="${DOCKPAY_DB_PASSWORD:-}"
    db="-h $DOCKPAY_DB_HOST -P ${DOCKPAY_DB_PORT:-3306} -u ${DOCKPAY_DB_USER:-dockpay}"
    i=0
    # shellcheck disable=SC2086
    until mariadb-admin $db --connect-timeout=2 ping >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -ge "${DOCKPAY_DB_WAIT:-90}" ]; then
            log "database $DOCKPAY_DB_HOST did not answer: starting without migrating (database routes answer 503)"
            break
        fi
        sleep 1
    done
    # shellcheck disable=SC2086
    if [ "$i" -lt "${DOCKPAY_DB_WAIT:-90}" ]; then
        dockpay-migrate --database "${DOCKPAY_DB_NAME:-dockpay}" -- $db >&2 || { log "migration failed"; exit 1; }
        log "database schema is current"
    fi
    unset MYSQL_PWD
fi

# httpd reads its paths from Debian's envvars; it runs as $user from the start
set +u
. /etc/apache2/envvars
set -u
export APACHE_RUN_USER=$user APACHE_RUN_GROUP=$user
exec setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=-all --no-new-privs "$@"
