#!/bin/sh
# tools/check-layers.sh [SRCDIR]: the include direction of lib/ (make check runs it).
#
# lib/ has one folder per layer; a file may include headers of its own folder and of the
# layers below it, never above or sideways (Makefile.am gives each layer the same include path,
# so the build refuses most of these too; this check names the file and line):
#
#   base     <- store, docker, portone  <- billing, engine   (handlers/ and mod_dockpay.c see all)
#   (billing: store, portone; engine, the Docker operations of the API: store, docker)
#
# It fails, naming file:line, when
#   - a file in lib/ includes a "dp_*.h" of a layer it may not see, or one that is not in lib/
#     (a handler's header), or an httpd header (<httpd.h>, <http_*.h>, <ap_*.h>, <mod_*.h>);
#   - a .c or .h sits in lib/ itself or in a folder that is not a layer;
#   - modules include each other in a circle (dp_a includes dp_b.h, dp_b includes dp_a.h,
#     directly or through others), also inside one layer.
# --self-test runs it on small broken trees and fails when it does not catch them.
set -u

allowed() {   # allowed LAYER: the layers a file of LAYER may include from
    case $1 in
    base)    echo "base" ;;
    store)   echo "store base" ;;
    docker)  echo "docker base" ;;
    portone) echo "portone base" ;;
    billing) echo "billing store portone base" ;;
    engine)  echo "engine docker store base" ;;
    *)       echo "" ;;
    esac
}
LAYERS="base store docker portone billing engine"

check() {
    top=$1
    fail=0
    edges=$(mktemp)
    for f in "$top"/lib/*.[ch] "$top"/lib/*/*.[ch]; do
        [ -e "$f" ] || continue
        rel=${f#"$top"/}
        layer=$(echo "$rel" | sed -n 's|^lib/\([^/]*\)/[^/]*$|\1|p')
        if [ -z "$layer" ] || [ -z "$(allowed "$layer")" ]; then
            echo "check-layers: $rel: not in a layer folder (lib/{$(echo $LAYERS | tr ' ' ',')}/)" >&2
            fail=1
            continue
        fi
        mod=$(basename "$f" | sed 's/\.[ch]$//')
        grep -n '^[[:space:]]*#[[:space:]]*include' "$f" > "$edges.inc" || true
        while IFS= read -r line; do
            no=${line%%:*}
            inc=$(echo "$line" | sed -n 's/.*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p')
            sys=$(echo "$line" | sed -n 's/.*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p')
            case $sys in
            httpd.h|http_*.h|ap_*.h|mod_*.h|util_*.h)
                echo "check-layers: $rel:$no: includes <$sys>: lib/ never includes httpd headers" >&2
                fail=1 ;;
            esac
            [ -n "$inc" ] || continue
            where=""
            for l in $LAYERS; do
                if [ -e "$top/lib/$l/$inc" ]; then where=$l; break; fi
            done
            if [ -z "$where" ]; then
                echo "check-layers: $rel:$no: includes \"$inc\", which is not in a layer of lib/" >&2
                fail=1
                continue
            fi
            case " $(allowed "$layer") " in
            *" $where "*) ;;
            *)  echo "check-layers: $rel:$no: includes \"$inc\" (lib/$where/): lib/$layer/ may include only from lib/{$(allowed "$layer" | tr ' ' ',')}/" >&2
                fail=1 ;;
            esac
            imod=$(echo "$inc" | sed 's/\.h$//')
            [ "$imod" = "$mod" ] || echo "$mod $imod" >> "$edges"
        done < "$edges.inc"
    done
    # circles between modules (a module: dp_x.c and dp_x.h)
    cyc=$(sort -u "$edges" | awk '
        { adj[$1] = adj[$1] " " $2; node[$1] = 1; node[$2] = 1 }
        function visit(n,   i, k, m, parts) {
            state[n] = 1; stack[++depth] = n
            k = split(adj[n], parts, " ")
            for (i = 1; i <= k; ++i) {
                m = parts[i]
                if (state[m] == 1) {
                    s = m; for (j = depth; j >= 1 && stack[j] != m; --j) s = stack[j] " -> " s
                    print m " -> " s; found = 1
                } else if (state[m] == 0) visit(m)
            }
            state[n] = 2; --depth
        }
        END { for (n in node) state[n] = 0; for (n in node) if (state[n] == 0) visit(n) }')
    if [ -n "$cyc" ]; then
        echo "$cyc" | sed 's/^/check-layers: include circle: /' >&2
        fail=1
    fi
    rm -f "$edges" "$edges.inc"
    return $fail
}

self_test() {
    t=$(mktemp -d)
    trap 'rm -rf "$t"' EXIT
    mk() { mkdir -p "$(dirname "$t/$1")"; printf '%s\n' "$2" > "$t/$1"; }
    expect_fail() {   # expect_fail WHAT TEXT: the check fails and its message holds TEXT
        if out=$(check "$t" 2>&1); then
            echo "check-layers self-test: $1 was not caught" >&2; exit 1
        fi
        case $out in *"$2"*) ;; *) echo "check-layers self-test: $1: message lacks '$2': $out" >&2; exit 1 ;; esac
    }
    mk lib/base/dp_a.h '#include <apr_pools.h>'
    mk lib/base/dp_a.c '#include "dp_a.h"'
    mk lib/docker/dp_d.h '#include "dp_a.h"'
    mk lib/billing/dp_b.c '#include "dp_a.h"'
    check "$t" || { echo "check-layers self-test: a clean tree fails" >&2; exit 1; }
    mk lib/base/dp_a.c '#include "dp_a.h"
#include "dp_d.h"'
    expect_fail "base including docker" 'lib/base/dp_a.c:2: includes "dp_d.h" (lib/docker/)'
    mk lib/base/dp_a.c '#include "dp_a.h"'
    mk lib/billing/dp_b.c '#include "dp_d.h"'
    expect_fail "billing including docker" 'lib/billing/dp_b.c:1: includes "dp_d.h"'
    mk lib/billing/dp_b.c '#include "dp_glue.h"'
    expect_fail "a handler header in lib" 'lib/billing/dp_b.c:1: includes "dp_glue.h", which is not'
    mk lib/billing/dp_b.c '#include <httpd.h>'
    expect_fail "an httpd header in lib" 'lib/billing/dp_b.c:1: includes <httpd.h>'
    mk lib/billing/dp_b.c '#include "dp_c.h"'
    mk lib/billing/dp_c.h '#include "dp_b.h"'
    mk lib/billing/dp_b.h '#include "dp_a.h"'
    expect_fail "a circle inside a layer" 'include circle: dp_b -> dp_c -> dp_b'
    rm -f "$t"/lib/billing/dp_c.h; mk lib/billing/dp_b.c '#include "dp_a.h"'
    mk lib/dp_new.c '#include "dp_a.h"'
    expect_fail "a flat file" 'lib/dp_new.c: not in a layer folder'
    echo "check-layers: self-test passed (a wrong-direction include, a handler or httpd header, a circle and a flat file are caught)"
}

if [ "${1:-}" = --self-test ]; then
    self_test
    exit 0
fi
top=${1:-$(dirname "$0")/..}
if check "$top"; then
    echo "check-layers: every include in lib/ points down ($(ls "$top"/lib/*/*.[ch] | wc -l) files)"
else
    exit 1
fi
