"""Subscriptions: billing keys, charge-now ("again"), scheduled payments, validation before
anything reaches PortOne, and card data that never lands in a log, a response or the database.
Runs against the fake PortOne (t/fake_portone.py)."""
import time
import uuid

from conftest import assert_problem
from harness import without_server_numbers
from payments_util import settle

# The test card: its number (with and without dashes), expiry and birth date must never show up
# anywhere but in the request to PortOne.
CARD = "5409-8712-3456-7812"
CARD_DIGITS = CARD.replace("-", "")
EXPIRY = "2031-07"
BIRTH = "870315"
SECRETS = [CARD, CARD_DIGITS, EXPIRY, BIRTH, "8712-3456", "87123456"]


def uid(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def card_body(customer_uid, **over):
    body = {"customer_uid": customer_uid, "card_number": CARD, "expiry": EXPIRY, "birth": BIRTH,
            "pwd_2digit": "12", "customer_name": "Hong Gildong"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def assert_no_secret(text, where):
    text = without_server_numbers(text)   # httpd's own times and pids are no card data
    for s in SECRETS:
        assert s not in text, f"card data {s!r} found in {where}"


def issue(api, customer_uid):
    r = api.post("/subscriptions/billing-key", json=card_body(customer_uid))
    assert r.status_code == 201, r.text
    assert_no_secret(r.text, "the billing key response")
    return r.json()


def fake_schedule(stack, merchant_uid):
    return next(s for s in stack.fake("GET", "/__control/state")["schedules"]
                if s["merchant_uid"] == merchant_uid)


def local_schedule(stack, merchant_uid):
    rows = stack.sql("SELECT status, imp_uid, revoked_at IS NOT NULL, executed_at IS NOT NULL "
                     "FROM subscription_schedules WHERE merchant_uid = %s", merchant_uid)
    assert len(rows) == 1, rows
    return rows[0]


def test_billing_key_issue_get_charge_list_delete(api, stack):
    cu = uid("cu")
    key = issue(api, cu)
    assert key["customer_uid"] == cu and "*" in key["card_number"]
    assert key["card_number"].endswith("7812") and key["card_name"]

    r = api.get(f"/subscriptions/billing-key/{cu}")
    assert r.status_code == 200, r.text
    assert r.json()["card_number"] == key["card_number"]

    # the local record keeps the masked number only
    rows = stack.sql("SELECT card_number, card_name, pg_provider, deleted_at FROM billing_keys "
                     "WHERE customer_uid = %s", cu)
    assert rows == [(key["card_number"], key["card_name"], key["pg_provider"], None)]

    # charge now; recorded as a payment
    mu = uid("again")
    r = api.post("/subscriptions/pay", json={"customer_uid": cu, "merchant_uid": mu, "amount": 9900,
                                             "name": "Monthly plan", "buyer_email": "a@example.com"})
    assert r.status_code == 200, r.text
    pay = r.json()
    assert pay["status"] == "paid" and pay["amount"] == 9900 and pay["merchant_uid"] == mu
    assert_no_secret(r.text, "the payment response")
    r = api.get("/payments", params={"limit": 100})
    assert r.status_code == 200, r.text
    mine = [p for p in r.json()["items"] if p["merchant_uid"] == mu]
    assert len(mine) == 1 and mine[0]["status"] == "paid" and mine[0]["amount"] == 9900, r.json()
    assert mine[0]["imp_uid"] == pay["imp_uid"]

    # the local list holds the key
    r = api.get("/subscriptions", params={"limit": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"items", "page", "limit", "total"} <= set(body) and body["limit"] == 100
    mine = [k for k in body["items"] if k["customer_uid"] == cu]
    assert len(mine) == 1 and mine[0]["card_number"] == key["card_number"]
    assert mine[0]["deleted_at"] is None and mine[0]["schedules"] == []

    # delete: gone at PortOne, marked deleted here
    r = api.delete(f"/subscriptions/billing-key/{cu}")
    assert r.status_code == 200, r.text
    assert cu not in [c["customer_uid"] for c in stack.fake("GET", "/__control/state")["customers"]]
    assert stack.sql("SELECT deleted_at IS NOT NULL FROM billing_keys WHERE customer_uid = %s", cu) == [("1",)]
    assert_problem(api.get(f"/subscriptions/billing-key/{cu}"), 404)
    # a re-issue brings the key back
    issue(api, cu)
    assert stack.sql("SELECT deleted_at FROM billing_keys WHERE customer_uid = %s", cu) == [(None,)]


def test_charge_with_unknown_billing_key_is_an_upstream_refusal(api):
    r = api.post("/subscriptions/pay", json={"customer_uid": uid("nobody"), "merchant_uid": uid("m"),
                                             "amount": 100, "name": "x"})
    assert 400 <= r.status_code < 600 and r.status_code not in (500, 201, 200), r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")


def test_schedule_list_cancel_run(api, stack):
    cu = uid("cu")
    issue(api, cu)
    now = int(time.time())
    a, b, c = uid("sa"), uid("sb"), uid("sc")
    r = api.post("/subscriptions/schedule", json={"customer_uid": cu, "schedules": [
        {"merchant_uid": a, "schedule_at": now + 3600, "amount": 1000, "name": "June"},
        {"merchant_uid": b, "schedule_at": now + 7200, "amount": 2000, "name": "July"},
        {"merchant_uid": c, "schedule_at": now + 10800, "amount": 3000, "name": "August"},
    ]})
    assert r.status_code == 201, r.text
    items = r.json()["items"]
    assert [i["merchant_uid"] for i in items] == [a, b, c]
    assert all(i["schedule_status"] == "scheduled" for i in items)
    for mu in (a, b, c):
        assert local_schedule(stack, mu)[0] == "scheduled"

    r = api.get(f"/subscriptions/schedule/{cu}")
    assert r.status_code == 200, r.text
    assert {i["merchant_uid"] for i in r.json()["items"]} == {a, b, c}
    r = api.get(f"/subscriptions/schedule/{cu}", params={"from": now + 5000, "to": now + 9000})
    assert r.status_code == 200, r.text
    assert [i["merchant_uid"] for i in r.json()["items"]] == [b]

    # cancel one: PortOne and our records agree
    r = api.delete(f"/subscriptions/schedule/{cu}", json={"merchant_uid": [a]})
    assert r.status_code == 200, r.text
    assert [i["merchant_uid"] for i in r.json()["items"]] == [a]
    assert fake_schedule(stack, a)["schedule_status"] == "revoked"
    assert fake_schedule(stack, b)["schedule_status"] == "scheduled"
    assert local_schedule(stack, a)[:3] == ("revoked", None, "1")
    assert local_schedule(stack, b)[0] == "scheduled"

    # PortOne runs b: the webhook marks the schedule executed and the payment paid
    run = stack.fake("POST", "/__control/run_schedule", {"merchant_uid": b})
    assert run["ok"] and run["webhook_status"] == 200, run
    settle(stack)   # webhooks are applied in the background
    status, imp_uid, _, executed = local_schedule(stack, b)
    assert (status, imp_uid, executed) == ("executed", run["imp_uid"], "1")
    assert stack.sql("SELECT status, amount, imp_uid FROM payments WHERE merchant_uid = %s", b) == [
        ("paid", "2000", run["imp_uid"])]
    # the same webhook again changes nothing
    again = stack.fake("POST", "/__control/webhook", {"imp_uid": run["imp_uid"], "merchant_uid": b,
                                                      "status": "paid"})
    assert again["status"] == 200, again
    settle(stack)
    assert local_schedule(stack, b)[:2] == ("executed", run["imp_uid"])

    # c fails at PortOne: the schedule is marked failed
    run = stack.fake("POST", "/__control/run_schedule", {"merchant_uid": c, "fail": True})
    assert run["ok"] and run["webhook_status"] == 200, run
    settle(stack)
    assert local_schedule(stack, c)[:2] == ("failed", run["imp_uid"])

    # the local list shows the key with its three schedules
    r = api.get("/subscriptions", params={"limit": 100})
    mine = [k for k in r.json()["items"] if k["customer_uid"] == cu][0]
    assert {s["merchant_uid"]: s["status"] for s in mine["schedules"]} == {
        a: "revoked", b: "executed", c: "failed"}

    # cancel everything left: nothing is scheduled any more, so PortOne refuses
    r = api.delete(f"/subscriptions/schedule/{cu}")
    assert r.status_code >= 400 and r.status_code != 500, r.text


def test_unschedule_all(api, stack):
    cu = uid("cu")
    issue(api, cu)
    now = int(time.time())
    mus = [uid("s") for _ in range(2)]
    r = api.post("/subscriptions/schedule", json={"customer_uid": cu, "schedules": [
        {"merchant_uid": m, "schedule_at": now + 600 + i, "amount": 500, "name": "n"}
        for i, m in enumerate(mus)]})
    assert r.status_code == 201, r.text
    r = api.delete(f"/subscriptions/schedule/{cu}")
    assert r.status_code == 200, r.text
    assert sorted(i["merchant_uid"] for i in r.json()["items"]) == sorted(mus)
    for m in mus:
        assert fake_schedule(stack, m)["schedule_status"] == "revoked"
        assert local_schedule(stack, m)[0] == "revoked"


def _invalid_requests():
    now = int(time.time())
    ok_item = {"merchant_uid": "m1", "schedule_at": now + 3600, "amount": 1000, "name": "n"}

    def sched(*items, **over):
        body = {"customer_uid": "cu1", "schedules": list(items)}
        body.update(over)
        return ("POST", "/subscriptions/schedule", body)

    def item(**over):
        d = dict(ok_item)
        d.update(over)
        return {k: v for k, v in d.items() if v is not None}

    def pay(**over):
        body = {"customer_uid": "cu1", "merchant_uid": "m1", "amount": 1000, "name": "n"}
        body.update(over)
        return ("POST", "/subscriptions/pay", {k: v for k, v in body.items() if v is not None})

    def key(**over):
        return ("POST", "/subscriptions/billing-key", card_body(over.pop("customer_uid", "cu1"), **over))

    return [
        # card data
        (key(card_number="5409-8712-3456"), 422, "card_number"),
        (key(card_number="54098712345678121"), 422, "card_number"),
        (key(card_number="5409 8712 3456 7812"), 422, "card_number"),
        (key(card_number="5409--8712-3456-7812"), 422, "card_number"),
        (key(card_number=5409871234567812), 400, "card_number"),
        (key(card_number=None), 400, "card_number"),
        (key(expiry="2020-01"), 422, "expiry"),
        (key(expiry="2031/07"), 422, "expiry"),
        (key(expiry="2031-13"), 422, "expiry"),
        (key(birth="19870315"), 422, "birth"),
        (key(birth="87031"), 422, "birth"),
        (key(pwd_2digit="1"), 422, "pwd_2digit"),
        (key(pwd_2digit="123"), 422, "pwd_2digit"),
        (key(cvc="12"), 422, "cvc"),
        (key(cvc="12345"), 422, "cvc"),
        (key(customer_uid="a" * 81), 422, "customer_uid"),
        (key(customer_uid="bad uid"), 422, "customer_uid"),
        # uids and amounts
        (pay(merchant_uid="m" * 41), 422, "merchant_uid"),
        (pay(merchant_uid="m/1"), 422, "merchant_uid"),
        (pay(customer_uid="c" * 81), 422, "customer_uid"),
        (pay(amount=0), 422, "amount"),
        (pay(amount=-1), 422, "amount"),
        (pay(amount=10_000_000_001), 422, "amount"),
        (pay(amount=10.5), 422, "amount"),
        (pay(amount="1000"), 400, "amount"),
        (pay(name=None), 400, "name"),
        # schedules
        (sched(), 422, "schedules"),
        (sched(*[item(merchant_uid=f"m{i}") for i in range(51)]), 422, "schedules"),
        (sched(item(schedule_at=now - 10)), 422, "schedule_at"),
        (sched(item(schedule_at=now + 400 * 86400)), 422, "schedule_at"),
        (sched(item(), item(schedule_at=now + 7200)), 422, "merchant_uid"),
        (sched(item(amount=0)), 422, "amount"),
        (sched(item(merchant_uid="m" * 41)), 422, "merchant_uid"),
        (sched(item(schedule_at="tomorrow")), 400, "schedule_at"),
        (sched(schedules={"a": 1}), 400, "schedules"),
        (sched(item(), customer_uid="bad uid"), 422, "customer_uid"),
        # unschedule and lookups
        (("DELETE", "/subscriptions/schedule/cu1", {"merchant_uid": []}), 422, "merchant_uid"),
        (("DELETE", "/subscriptions/schedule/cu1", {"merchant_uid": ["m1", "m1"]}), 422, "merchant_uid"),
        (("DELETE", "/subscriptions/schedule/cu1", {"merchant_uid": "m1"}), 400, "merchant_uid"),
        (("GET", f"/subscriptions/schedule/cu1?from={now}&to={now - 1}", None), 422, "to"),
        (("GET", f"/subscriptions/schedule/cu1?from={now}&to={now + 100 * 86400}", None), 422, "from"),
        (("GET", "/subscriptions/schedule/cu1?from=yesterday", None), 400, "from"),
        (("GET", "/subscriptions/billing-key/bad%20uid", None), 422, "customer_uid"),
        (("DELETE", "/subscriptions/billing-key/" + "a" * 81, None), 422, "customer_uid"),
    ]


def test_every_validation_failure_is_refused_before_portone(api, stack, quiet_reconciler):
    settle(stack)   # no background apply of an earlier event runs into the counts
    before = stack.fake("GET", "/__control/counts")
    for (method, path, body), status, field in _invalid_requests():
        r = api.request(method, path, json=body) if body is not None else api.request(method, path)
        problem = assert_problem(r, status)
        assert field in problem["detail"], (method, path, body, problem)
        assert_no_secret(r.text, f"the problem for {path} {body}")
    after = stack.fake("GET", "/__control/counts")
    after.pop("connections", None)
    before.pop("connections", None)
    assert after == before


def test_scopes(api, stack):
    r = api.post("/subscriptions/billing-key", json=card_body(uid("cu")), key=stack.keys["payments_read"])
    assert_problem(r, 403)
    r = api.get("/subscriptions", key=stack.keys["docker_write"])
    assert_problem(r, 403)
    assert api.get("/subscriptions", key=stack.keys["payments_read"]).status_code == 200


def test_card_refused_by_portone(api, stack):
    r = api.post("/subscriptions/billing-key", json=card_body(uid("cu"), card_number="5409-8712-3456-0000"))
    assert 400 <= r.status_code < 600 and r.status_code != 500, r.text
    assert "5409871234560000" not in r.text.replace("-", "")
    assert_no_secret(r.text, "the refusal")


def test_zz_card_data_never_reaches_logs_or_database(api, stack):
    """Runs last (file order): at debug level, issue once more, then search every log and every table."""
    stack.restart_httpd("LogLevel debug")
    try:
        cu = uid("cu")
        issue(api, cu)
        r = api.post("/subscriptions/billing-key", json=card_body(uid("cu"), expiry="2000-01"))
        assert_problem(r, 422)
    finally:
        stack.restart_httpd()
    assert_no_secret(stack.error_log(), "the error log")
    assert_no_secret(stack.access_log(), "the access log")
    tables = [t for (t,) in stack.sql("SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'dockpay'")]
    assert "billing_keys" in tables and "subscription_schedules" in tables
    for t in tables:
        dump = "\n".join("\t".join("" if c is None else c for c in row)
                         for row in stack.sql(f"SELECT * FROM `{t}`"))
        assert_no_secret(dump, f"table {t}")
