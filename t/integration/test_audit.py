"""GET /audit: the admin's paged read of the audit trail (issue 14, part 5a), with its filters,
its cursor, its scope and no secret in its answer. Through Apache against the real MariaDB."""
import time

from conftest import assert_problem
from payments_util import new_mu


def wait_rows(api, params, n, timeout=10):
    """The audit page for params once it holds at least n rows (the row is written just after
    the answer is sent)."""
    end = time.time() + timeout
    while True:
        r = api.get("/audit", params=params)
        assert r.status_code == 200, r.text
        if len(r.json()["items"]) >= n or time.time() > end:
            return r.json()
        time.sleep(0.1)


def test_audit_filters_and_fields(api, stack):
    t0 = int(time.time())
    mus = [new_mu("audit") for _ in range(3)]
    for mu in mus:
        r = api.post("/payments/prepare", json={"merchant_uid": mu, "amount": 100},
                     key=stack.keys["payments_write"], headers={"X-Request-Id": f"rid-{mu}"})
        assert r.status_code == 201, r.text
    body = wait_rows(api, {"key": "payments_write", "path": "/payments/prepare", "from": t0}, 3)
    items = [i for i in body["items"] if i["target"] in mus]
    assert [i["target"] for i in items] == mus[::-1], items       # newest first
    for i in items:
        assert set(i) == {"id", "time", "key", "method", "path", "target", "status", "request_id"}
        assert i["key"] == "payments_write" and i["method"] == "POST" and i["path"] == "/payments/prepare"
        assert i["status"] == 201 and i["request_id"] == "rid-" + i["target"]
        assert i["time"].endswith("Z") and i["time"][:4].isdigit()
    assert body["limit"] == 50
    # the same through every filter: key, method (any case), path prefix, time range
    assert api.post("/payments/prepare", json={"merchant_uid": new_mu("audit-admin"), "amount": 1}).status_code == 201
    wait_rows(api, {"key": "admin", "from": t0}, 1)
    admin = api.get("/audit", params={"key": "admin", "limit": 200}).json()["items"]
    assert admin and all(i["key"] == "admin" for i in admin)
    assert not any(i["target"] in mus for i in admin)
    got = api.get("/audit", params={"method": "delete", "key": "payments_write", "from": t0}).json()["items"]
    assert got == []
    got = api.get("/audit", params={"method": "post", "path": "/payments", "from": t0}).json()["items"]
    assert {i["target"] for i in got} >= set(mus)
    assert all(i["path"].startswith("/payments") and i["method"] == "POST" for i in got)
    assert api.get("/audit", params={"path": "/payments/prepared", "from": t0}).json()["items"] == []
    assert api.get("/audit", params={"from": t0 + 3600}).json()["items"] == []
    assert api.get("/audit", params={"to": t0 - 3600, "key": "payments_write",
                                     "path": "/payments/prepare/"}).json()["items"] == []
    later = api.get("/audit", params={"to": int(time.time()) + 2, "from": t0, "key": "payments_write"}).json()
    assert {i["target"] for i in later["items"]} >= set(mus)


def test_audit_paging_with_cursor(api, stack):
    t0 = int(time.time())
    mus = [new_mu("page") for _ in range(5)]
    for mu in mus:
        assert api.post("/payments/prepare", json={"merchant_uid": mu, "amount": 10},
                        key=stack.keys["payments_write"]).status_code == 201
    params = {"key": "payments_write", "path": "/payments/prepare", "from": t0, "limit": 2}
    wait_rows(api, dict(params, limit=5), 5)
    seen, cursor, pages = [], None, 0
    while True:
        p = dict(params)
        if cursor:
            p["cursor"] = cursor
        r = api.get("/audit", params=p)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= 2 and body["limit"] == 2
        seen += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor.isdigit()
        assert pages < 10
    mine = [i["target"] for i in seen if i["target"] in mus]
    assert mine == mus[::-1]
    ids = [i["id"] for i in seen]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert pages >= 3


def test_audit_needs_admin(api, stack):
    for k in ("payments_write", "payments_read", "docker_write", "docker_read"):
        assert_problem(api.get("/audit", key=stack.keys[k]), 403, "insufficient_scope")
    assert_problem(api.get("/audit", key=None), 401, "unauthorized")


def test_audit_bad_queries(api):
    for params in ({"cursor": "abc"}, {"cursor": "0"}, {"limit": "0"}, {"limit": "201"},
                   {"method": "P0ST"}, {"method": ""}, {"path": "payments"}, {"key": "bad key"},
                   {"from": "yesterday"}):
        assert_problem(api.get("/audit", params=params), 400, "bad_query")


def test_audit_holds_no_secret(api, stack):
    api.post("/payments/prepare", json={"merchant_uid": new_mu("secret"), "amount": 5},
             key=stack.keys["payments_write"])
    text = api.get("/audit", params={"limit": 200}).text
    for v in stack.keys.values():
        assert v not in text
