#!/bin/sh
# tools/check-routes.sh [SRCDIR]: every route of the route table has a handler, and every handler
# a route (make check runs it; httpd also refuses to start on a route without a handler, see
# routes_without_handler in mod_dockpay.c, so no 501 is reachable).
#
# Routes: the rows { "METHOD", "/pattern", SCOPE, "id" } of lib/base/dp_routes.c.
# Handlers: the rows { "id", function } of every `dp_handler_entry_t NAME[] = { ... };` table in
# handlers/*.c and mod_dockpay.c. Fails naming file:line of a route without a handler, of a
# handler whose id is no route, and of an id listed twice.
# --self-test runs it on a small broken tree and fails when it does not catch it.
set -u

check() {
    top=$1
    routes=$(awk '
        /^[[:space:]]*\{[[:space:]]*"(GET|POST|PUT|PATCH|DELETE|HEAD)"/ {
            n = split($0, q, "\""); if (n >= 7) print q[6], FILENAME ":" FNR }' "$top/lib/base/dp_routes.c")
    handlers=$(awk '
        /dp_handler_entry_t[[:space:]]+[A-Za-z0-9_]+\[\][[:space:]]*=/ { in_t = 1; next }
        in_t && /^[[:space:]]*\};/ { in_t = 0; next }
        in_t && /^[[:space:]]*\{[[:space:]]*"/ { split($0, q, "\""); print q[2], FILENAME ":" FNR }' \
        "$top"/handlers/*.c "$top/mod_dockpay.c")
    if [ -z "$routes" ] || [ -z "$handlers" ]; then
        echo "check-routes: found no route rows or no handler tables (has their format changed?)" >&2
        return 1
    fi
    ids=$(mktemp)
    printf '%s\n' "$routes" | sed 's/^/R /' > "$ids"
    printf '%s\n' "$handlers" | sed 's/^/H /' >> "$ids"
    awk '
        $1 == "R" { if ($2 in route) { print "check-routes: " $3 ": route id " $2 " is listed twice (also " route[$2] ")"; bad = 1 }
                    route[$2] = $3 }
        $1 == "H" { if ($2 in handler) { print "check-routes: " $3 ": handler id " $2 " is listed twice (also " handler[$2] ")"; bad = 1 }
                    handler[$2] = $3 }
        END {
            for (r in route) if (!(r in handler)) { print "check-routes: " route[r] ": route " r " has no handler in any handler table (it would answer 501)"; bad = 1 }
            for (h in handler) if (!(h in route)) { print "check-routes: " handler[h] ": handler " h " is no route of lib/base/dp_routes.c"; bad = 1 }
            exit bad
        }' "$ids" >&2
    rc=$?
    rm -f "$ids"
    [ $rc = 0 ] && echo "check-routes: all $(printf '%s\n' "$routes" | wc -l) routes have a handler, every handler a route"
    return $rc
}

self_test() {
    t=$(mktemp -d)
    trap 'rm -rf "$t"' EXIT
    mkdir -p "$t/lib/base" "$t/handlers"
    printf '%s\n' 'const dp_route_t dp_routes[] = {' \
        '    { "GET",    "/a",                DR, "a.get" },' \
        '    { "POST",   "/b",                DW, "b.post" },' '};' > "$t/lib/base/dp_routes.c"
    printf '%s\n' 'const dp_handler_entry_t dp_x_handlers[] = {' '    { "a.get", a_get },' \
        '    { "b.post", b_post },' '    { NULL, NULL }' '};' > "$t/handlers/h_x.c"
    : > "$t/mod_dockpay.c"
    check "$t" > /dev/null 2>&1 || { echo "check-routes self-test: a matching tree fails" >&2; exit 1; }
    sed -i '/b_post/d' "$t/handlers/h_x.c"
    if out=$(check "$t" 2>&1); then echo "check-routes self-test: a route without a handler passes" >&2; exit 1; fi
    case $out in *"dp_routes.c:3: route b.post has no handler"*) ;;
        *) echo "check-routes self-test: the message does not name the route: $out" >&2; exit 1 ;; esac
    sed -i 's/"a.get", a_get/"a.gone", a_get/' "$t/handlers/h_x.c"
    if out=$(check "$t" 2>&1); then echo "check-routes self-test: a handler without a route passes" >&2; exit 1; fi
    case $out in *"h_x.c:2: handler a.gone is no route"*) ;;
        *) echo "check-routes self-test: the message does not name the handler: $out" >&2; exit 1 ;; esac
    echo "check-routes: self-test passed (a route without a handler and a handler without a route are caught)"
}

if [ "${1:-}" = --self-test ]; then
    self_test
    exit 0
fi
check "${1:-$(dirname "$0")/..}"
