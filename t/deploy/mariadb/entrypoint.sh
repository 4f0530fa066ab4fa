#!/bin/sh
# First start on an empty /var/lib/mysql: create the system tables, the root password, the
# database and its user (all privileges on that database), as the official image does.
set -eu
chown -R mysql:mysql /var/lib/mysql /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
    mariadbd --user=mysql --datadir=/var/lib/mysql --skip-networking --socket=/run/mysqld/init.sock &
    pid=$!
    i=0
    until mariadb-admin -S /run/mysqld/init.sock ping >/dev/null 2>&1; do
        i=$((i + 1)); [ "$i" -lt 60 ] || { echo "mariadb did not start" >&2; exit 1; }
        sleep 1
    done
    esc() { printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; }
    mariadb -S /run/mysqld/init.sock -u root <<SQL
CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE}\` CHARACTER SET utf8mb4;
CREATE USER '$(esc "$MARIADB_USER")'@'%' IDENTIFIED BY '$(esc "$MARIADB_PASSWORD")';
GRANT ALL ON \`${MARIADB_DATABASE}\`.* TO '$(esc "$MARIADB_USER")'@'%';
ALTER USER 'root'@'localhost' IDENTIFIED BY '$(esc "$MARIADB_ROOT_PASSWORD")';
FLUSH PRIVILEGES;
SQL
    kill "$pid"; wait "$pid" || true
    echo "mariadb: initialised database ${MARIADB_DATABASE}" >&2
fi
exec "$@" --user=mysql --datadir=/var/lib/mysql --bind-address=0.0.0.0 --skip-name-resolve
