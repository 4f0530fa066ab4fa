"""Hostile input, systematically: every route of lib/base/dp_routes.c (parsed from the C table, so new
routes are covered as they land) gets a table of hostile inputs — wrong types, huge and negative
numbers, 10 kB strings, NUL bytes, invalid UTF-8, JSON nested 1000 deep, duplicate keys, path
traversal in ids, CR/LF in values that end up in headers (registry auth), bad query values — and
each answer must be a 4xx problem+json with X-Request-Id (never 5xx, never HTML), with nothing
changed in Docker (containers, images, volumes, networks) or in the database (row counts of every
table but audit_log and reconcile_runs, the logs). A route that answers 501 (no handler) fails its case."""
import json
import os
import re
import time

import pytest

from harness import read_routes

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


ROUTES = [(m, p, hid) for m, p, _scope, hid in read_routes()]

# A well-formed body per route (never sent as is): hostile cases change one thing in it so that it
# must be refused. Fields listed in FREE_TEXT take any printable text, so only their length,
# type and control characters are attacked.
NOW = int(time.time())
BASE = {
    "containers.create": {"image": "local/busybox:test", "name": "hostile-c"},
    "images.pull": {"image": "localhost:5000/hostile/none", "tag": "1"},
    "volumes.create": {"name": "hostile-v"},
    "networks.create": {"name": "hostile-n"},
    "networks.connect": {"container": "hostile-none"},
    "networks.disconnect": {"container": "hostile-none"},
    "system.prune": {"containers": False, "images": False, "volumes": False, "networks": False},
    "compose.up": {"project": "hostile-p", "compose": "services: {}\n"},
    "payments.prepare": {"merchant_uid": "hostile-o", "amount": 1000},
    "payments.cancel": {"imp_uid": "imp_hostile", "reason": "x"},
    "payments.vbank": {"merchant_uid": "hostile-vb", "amount": 1000, "vbank_code": "004",
                       "vbank_holder": "h", "name": "n"},
    "payments.verify": {"imp_uid": "imp_hostile"},
    "subscriptions.key_create": {"customer_uid": "hostile-cu", "card_number": "5409-8712-3456-7812",
                                 "expiry": "2031-07", "birth": "870315", "pwd_2digit": "12"},
    "subscriptions.pay": {"customer_uid": "hostile-cu", "merchant_uid": "hostile-sp", "amount": 1000, "name": "n"},
    "subscriptions.schedule": {"customer_uid": "hostile-cu", "schedules": [
        {"merchant_uid": "hostile-s", "schedule_at": NOW + 3600, "amount": 1000, "name": "n"}]},
    "subscriptions.unschedule": {"merchant_uid": ["hostile-s"]},
    "webhooks.portone": {"imp_uid": "imp_hostile", "merchant_uid": "hostile-w", "status": "paid"},
}
FREE_TEXT = {"reason", "name", "vbank_holder", "compose"}
# Booleans where the route has no other field to attack: its hostile values are type errors.
BOOL_FIELDS = {"containers", "images", "volumes", "networks"}

# Query parameters each route reads (docs/api.md) and their kind; hostile values per kind.
QUERY = {
    "containers.list": {"all": "bool", "status": "str", "label": "str", "name": "str"},
    "containers.create": {"start": "bool", "pull": "bool"},
    "containers.delete": {"force": "bool", "volumes": "bool"},
    "containers.stop": {"t": "int"}, "containers.restart": {"t": "int"},
    "containers.logs": {"tail": "int", "since": "int", "until": "int", "timestamps": "bool",
                        "stdout": "bool", "stderr": "bool", "follow": "bool"},
    "images.delete": {"force": "bool", "noprune": "bool"},
    "volumes.delete": {"force": "bool"},
    "compose.down": {"volumes": "bool"},
    "payments.list": {"status": "str", "from": "int", "to": "int", "page": "int", "limit": "limit"},
    "subscriptions.list": {"page": "int", "limit": "limit"},
    "subscriptions.schedule_list": {"from": "int", "to": "int"},
    "system.events": {"since": "str", "until": "str", "type": "str"},
}
BAD_QUERY = {
    "bool": ["maybe", "1e400", "%00", "tru%0Ae", "2"],
    "int": ["-1", "1e400", "99999999999999999999999", "abc", "%00", "0x10"],
    "limit": ["100000", "-1", "0", "1e400", "abc"],
    "str": ["a%0D%0AX-Injected:%201", "%00", "%FF%FE", "A" * 2000],
}
# Hostile values for {param} segments (already %-encoded where that matters).
BAD_IDS = ["..%2F..%2Fetc", "..%2F..%2F..%2Fetc%2Fpasswd", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "..%252F..%252Fetc",
           "a%00b", "%FF%FE", "a%0D%0AX-Injected:%201", "A" * 2000, "%20", "-rf"]
PARAM_VALUE = "hostile-nonexistent-1"


def path_of(pattern, value=PARAM_VALUE):
    return re.sub(r"\{[a-z_]+\+?\}", lambda m: value, pattern)


def raw(body_text):
    return body_text.encode() if isinstance(body_text, str) else body_text


def set_field(base, field, value_json):
    """The base body as JSON text with field's value replaced by value_json (raw JSON text)."""
    parts = []
    for k, v in base.items():
        parts.append(json.dumps(k) + ":" + (value_json if k == field else json.dumps(v)))
    return "{" + ",".join(parts) + "}"


def body_cases(route_id):
    """(name, content_type, bytes) hostile bodies for a route that reads a JSON body."""
    base = BASE.get(route_id, {"name": "hostile"})
    first = next(iter(base))
    cases = [
        ("not-an-object-array", "application/json", b"[]"),
        ("not-an-object-string", "application/json", b'"x"'),
        ("not-an-object-null", "application/json", b"null"),
        ("empty", "application/json", b""),
        ("truncated", "application/json", raw(json.dumps(base)[:-1])),
        ("nested-1000-arrays", "application/json", b"[" * 1000 + b"]" * 1000),
        ("nested-1000-objects", "application/json", raw('{"a":' * 1000 + "1" + "}" * 1000)),
        ("duplicate-key", "application/json",
         raw("{" + json.dumps(first) + ":" + json.dumps(base[first]) + "," + json.dumps(base)[1:])),
        ("raw-nul", "application/json", raw(json.dumps(base)).replace(b"{", b"{\x00", 1)),
        ("invalid-utf8-key", "application/json", b'{"\xff\xfe":1,' + raw(json.dumps(base))[1:]),
    ]
    if route_id != "webhooks.portone":   # PortOne may add fields to its notifications: ignored there
        cases.append(("unknown-field", "application/json", raw(set_field(dict(base, zz_unknown=1), "zz_unknown", "1"))))
    if route_id == "system.prune":       # an empty body is the documented default prune: not sent
        cases = [c for c in cases if c[0] != "empty"]
    if route_id != "webhooks.portone":   # the webhook takes form bodies too
        cases.append(("text-plain", "text/plain", raw(json.dumps(base))))
    for field, v in base.items():
        free = field in FREE_TEXT
        if field == "compose":   # YAML text: multi-line by nature; only its type is attacked here
            for name, vj in {"number": "12", "array": '["a"]', "null": "null"}.items():
                cases.append((f"{field}-{name}", "application/json", raw(set_field(base, field, vj))))
            continue
        if isinstance(v, bool) or field in BOOL_FIELDS:
            vals = {"string": '"yes"', "number": "1", "huge": "1e400", "array": "[true]"}
        elif isinstance(v, int):
            vals = {"string": '"1000"', "huge-1e400": "1e400", "huge-2p70": str(2 ** 70), "negative": "-1000",
                    "fraction": "10.5", "bool": "true", "nul-escape": '"1\\u00000"'}
        elif isinstance(v, str):
            vals = {"number": "12", "array": '["a"]', "object": '{"a":"b"}', "bool": "false",
                    "10kB": json.dumps("A" * 10240), "nul-escape": '"a\\u0000b"', "crlf": '"a\\r\\nX-Injected: 1"',
                    "invalid-utf8": '"\xff\xfe"'}
            if not free:
                vals["traversal"] = json.dumps("../../etc/passwd")
                vals["empty"] = '""'
        else:   # arrays/objects
            vals = {"string": '"x"', "number": "1", "nested": "[" * 1000 + "]" * 1000, "null-item": "[null]"}
        for name, vj in vals.items():
            body = set_field(base, field, vj)
            cases.append((f"{field}-{name}", "application/json",
                          body.encode("latin-1") if name == "invalid-utf8" else raw(body)))
    if route_id == "images.pull":
        for f in ["username", "password", "serveraddress"]:
            auth = {"username": "u", "password": "p", "serveraddress": "localhost:5000"}
            auth[f] = auth[f] + "\r\nX-Registry-Evil: 1"
            cases.append((f"auth-{f}-crlf", "application/json", raw(json.dumps(dict(base, auth=auth)))))
        cases.append(("auth-not-object", "application/json", raw(json.dumps(dict(base, auth="dXNlcjpwYXNz")))))
    if route_id == "webhooks.portone":
        cases += [("form-nul", "application/x-www-form-urlencoded", b"imp_uid=imp_1%00&merchant_uid=o&status=paid"),
                  ("form-crlf", "application/x-www-form-urlencoded", b"imp_uid=imp_1%0D%0A&merchant_uid=o&status=paid"),
                  ("form-traversal", "application/x-www-form-urlencoded",
                   b"imp_uid=..%2F..%2Fetc&merchant_uid=o&status=paid"),
                  ("form-invalid-utf8", "application/x-www-form-urlencoded", b"imp_uid=%FF%FE&merchant_uid=o&status=paid"),
                  ("form-10kB", "application/x-www-form-urlencoded", b"imp_uid=" + b"A" * 10240 + b"&merchant_uid=o&status=paid")]
    return cases


def reads_body(method, route_id):
    return method in ("POST", "PUT") and (route_id in BASE or route_id == "images.build")


# ---------------------------------------------------------------------------------------------
# state snapshots


def docker_state(stack):
    return {
        "containers": sorted(stack.docker("ps", "-aq", "--no-trunc").split()),
        "images": sorted(stack.docker("images", "-aq", "--no-trunc").split()),
        "volumes": sorted(stack.docker("volume", "ls", "-q").split()),
        "networks": sorted(stack.docker("network", "ls", "-q", "--no-trunc").split()),
    }


def db_state(stack):
    tables = [r[0] for r in stack.sql("SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'dockpay' ORDER BY table_name")]
    counts = {}
    for t in tables:
        if t not in ("audit_log", "reconcile_runs"):   # reconcile_runs: the background passes' log
            counts[t] = stack.sql(f"SELECT COUNT(*) FROM `{t}`")[0][0]
    return counts


def check_answer(r, what, may_succeed=False):
    ct = r.headers.get("Content-Type", "")
    if may_succeed and 200 <= r.status_code < 300:
        # a filter value is data, not syntax: an empty JSON list is a fair answer to it
        assert ct.startswith(("application/json", "application/x-ndjson", "text/event-stream")), \
            f"{what}: {r.status_code} {ct}"
        return
    if "%00" in what and r.status_code == 404 and "text/html" in ct:
        # httpd's core refuses an encoded NUL in the path before any module runs (AH: 404 with
        # its own HTML page); the module never sees it
        return
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text[:300]}"
    assert 400 <= r.status_code < 500, f"{what}: expected a 4xx, got {r.status_code} {r.text[:300]}"
    assert ct.startswith("application/problem+json"), f"{what}: {r.status_code} {ct} {r.text[:200]!r}"
    body = r.json()
    assert body.get("status") == r.status_code and body.get("code"), f"{what}: {body}"
    assert r.headers.get("X-Request-Id"), f"{what}: no X-Request-Id"
    assert "<html" not in r.text.lower(), what


def probe_501(api, method, pattern):
    # a body no handler accepts (never {}: POST /system/prune would prune with its defaults)
    data = b"[]" if method in ("POST", "PUT") else None
    r = api.request(method, path_of(pattern), data=data, headers={"Content-Type": "application/json"}, timeout=60,
                    stream=True)   # GET /system/events streams: look at the status only
    r.close()
    return r.status_code == 501


@pytest.mark.parametrize("method,pattern,route_id", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.allow_log(r"AH\d+:.*(dockpay|request|client)")
def test_hostile_inputs_are_refused_without_effect(api, stack, method, pattern, route_id):
    assert not probe_501(api, method, pattern), f"{route_id} answers 501: every route has a handler"
    docker_before, db_before = docker_state(stack), db_state(stack)
    failures = []

    def send(what, path, may_succeed=False, **kw):
        try:
            r = api.request(method, path, timeout=60, stream=True, **kw)
            if not (may_succeed and 200 <= r.status_code < 300):
                r.content   # read the (short) refusal; an accepted stream is not read
            check_answer(r, what, may_succeed)
            r.close()
        except AssertionError as e:
            failures.append(str(e))
        except Exception as e:  # connection reset, timeout: the server must answer
            failures.append(f"{what}: {type(e).__name__}: {e}")

    has_param = "{" in pattern
    if has_param:
        for bad in BAD_IDS:
            if bad == "-rf" and not route_id.startswith(("containers.", "images.", "volumes.", "networks.", "compose.")):
                continue   # a valid PortOne-side id ([A-Za-z0-9_.:-]); an option-injection probe for Docker
            kw = {}
            if reads_body(method, route_id):
                kw = {"data": b"{}", "headers": {"Content-Type": "application/json"}}
            send(f"id {bad[:40]}", path_of(pattern, bad), **kw)
    if reads_body(method, route_id) and route_id != "images.build":
        for name, ctype, body in body_cases(route_id):
            send(f"body {name}", path_of(pattern), data=body, headers={"Content-Type": ctype})
    if route_id == "images.build":
        send("build not-a-tar", path_of(pattern) + "?t=hostile:1", data=b"\x00" * 1024 + b"not a tar",
             headers={"Content-Type": "application/x-tar"})
        send("build bad-tag", path_of(pattern) + "?t=..%2F..%2Fetc", data=b"",
             headers={"Content-Type": "application/x-tar"})
        send("build json", path_of(pattern), data=b"{}", headers={"Content-Type": "application/json"})
    for qname, kind in QUERY.get(route_id, {}).items():
        for val in BAD_QUERY[kind]:
            kw = {}
            if reads_body(method, route_id):
                # containers.create: a valid body with a bad query value must still be refused
                # before anything is made; other routes: an empty object
                kw = {"data": json.dumps(BASE.get(route_id, {})).encode() if route_id == "containers.create"
                      else b"{}", "headers": {"Content-Type": "application/json"}}
            send(f"query {qname}={val[:30]}", path_of(pattern) + f"?{qname}={val}", may_succeed=kind == "str", **kw)

    assert not failures, f"{len(failures)} hostile inputs were not refused cleanly:\n" + "\n".join(failures[:40])
    assert docker_state(stack) == docker_before, "a refused request changed Docker"
    assert db_state(stack) == db_before, "a refused request changed the database"
