"""Payments routes through httpd against the fake PortOne: prepare, verify, list, lookups,
cancel (partial, full, concurrent), virtual accounts, validation."""
import threading
import time

from payments_util import settle  # noqa: E402
from payments_util import (api_calls, assert_problem, fake_payment, new_mu, prepared_and_paid,
                           row)


def test_prepare_is_idempotent_and_conflicts(api, stack):
    mu = new_mu()
    r = api.post("/payments/prepare", json={"merchant_uid": mu, "amount": 5000})
    assert r.status_code == 201, r.text
    assert r.json() == {"merchant_uid": mu, "amount": 5000, "currency": "KRW"}
    assert any(p["merchant_uid"] == mu and p["amount"] == 5000
               for p in stack.fake("GET", "/__control/state")["prepares"])
    again = api.post("/payments/prepare", json={"merchant_uid": mu, "amount": 5000})
    assert again.status_code == 200 and again.json()["amount"] == 5000
    body = assert_problem(api.post("/payments/prepare", json={"merchant_uid": mu, "amount": 6000}),
                          409, "prepare_conflict")
    assert body["prepared_amount"] == 5000 and body["amount"] == 6000
    assert row(stack, mu)[:2] == ("prepared", 5000)
    # audited with the order as target
    assert stack.sql("SELECT COUNT(*) FROM audit_log WHERE target = %s", mu)[0][0] == "3"


def test_prepare_known_at_portone_only(api, stack):
    """PortOne says "already registered": same amount -> 200, another amount -> 409."""
    mu, mu2 = new_mu(), new_mu()
    # register directly at the fake (as another server of the merchant would)
    import json, ssl, http.client  # noqa: E401
    ctx = ssl.create_default_context(cafile=stack.portone["ca"])
    c = http.client.HTTPSConnection("127.0.0.1", stack.fake_port, context=ctx)
    c.request("POST", "/users/getToken", json.dumps({"imp_key": stack.portone["key"],
                                                     "imp_secret": stack.portone["secret"]}),
              {"Content-Type": "application/json"})
    tok = json.loads(c.getresponse().read())["response"]["access_token"]
    for m in (mu, mu2):
        c.request("POST", "/payments/prepare", json.dumps({"merchant_uid": m, "amount": 700}),
                  {"Content-Type": "application/json", "Authorization": "Bearer " + tok})
        assert json.loads(c.getresponse().read())["code"] == 0
    c.close()
    r = api.post("/payments/prepare", json={"merchant_uid": mu, "amount": 700})
    assert r.status_code == 200, r.text
    assert row(stack, mu)[:2] == ("prepared", 700)
    assert_problem(api.post("/payments/prepare", json={"merchant_uid": mu2, "amount": 800}), 409,
                   "prepare_conflict")
    assert row(stack, mu2) is None or row(stack, mu2)[1] is None


def test_prepare_approve_verify_paid_and_listed(api, stack):
    mu, imp = prepared_and_paid(api, stack, 15000)
    r = api.post("/payments/verify", json={"imp_uid": imp})
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["verified"] is True and v["payment"]["imp_uid"] == imp and v["payment"]["status"] == "paid"
    assert row(stack, mu) == ("paid", 15000, 15000, 0, imp)
    r = api.post("/payments/verify", json={"imp_uid": imp, "amount": 15000, "status": "paid"})
    assert r.status_code == 200
    listed = api.get("/payments", params={"status": "paid", "limit": 100}).json()
    assert listed["page"] == 1 and listed["limit"] == 100 and listed["total"] >= 1
    item = next(i for i in listed["items"] if i["merchant_uid"] == mu)
    assert item["imp_uid"] == imp and item["amount"] == 15000 and item["status"] == "paid"
    assert item["created_at"].endswith("Z")
    # wrong expectations
    assert_problem(api.post("/payments/verify", json={"imp_uid": imp, "status": "ready"}), 409,
                   "status_mismatch")


def test_tampered_amount_is_refused_and_cancelled(api, stack):
    mu, imp = prepared_and_paid(api, stack, 10000, paid=100)
    body = assert_problem(api.post("/payments/verify", json={"imp_uid": imp}), 409, "amount_mismatch")
    assert body["expected"] == 10000 and body["actual"] == 100 and body["cancelled"] is True
    p = fake_payment(stack, imp)
    assert p["status"] == "cancelled" and p["cancel_amount"] == 100
    r = row(stack, mu)
    assert r[0] != "paid" and r[4] != imp
    assert stack.sql("SELECT amount FROM payment_cancellations WHERE imp_uid = %s", imp) == [("100",)]


def test_mismatch_not_cancelled_when_auto_cancel_off(api, stack):
    stack.restart_httpd(extra_conf="DockpayAutoCancelMismatch Off")
    try:
        mu, imp = prepared_and_paid(api, stack, 2000, paid=20)
        body = assert_problem(api.post("/payments/verify", json={"imp_uid": imp}), 409, "amount_mismatch")
        assert body["cancelled"] is False
        assert fake_payment(stack, imp)["status"] == "paid"
        assert row(stack, mu)[0] == "prepared"
    finally:
        stack.restart_httpd()


def test_verify_needs_an_expectation(api, stack):
    a = stack.fake("POST", "/__control/approve", {"merchant_uid": new_mu(), "amount": 300})
    assert_problem(api.post("/payments/verify", json={"imp_uid": a["imp_uid"]}), 404, "order_not_found")
    r = api.post("/payments/verify", json={"imp_uid": a["imp_uid"], "amount": 300})
    assert r.status_code == 200 and r.json()["verified"] is True


def test_lookups_return_portone_objects_and_record(api, stack):
    mu, imp = prepared_and_paid(api, stack, 4200)
    r = api.get(f"/payments/{imp}")
    assert r.status_code == 200
    p = r.json()
    assert p["imp_uid"] == imp and p["merchant_uid"] == mu and p["amount"] == 4200 and "pg_tid" in p
    assert row(stack, mu)[0] == "paid"
    r = api.get(f"/payments/find/{mu}")
    assert r.status_code == 200 and r.json()["imp_uid"] == imp
    assert_problem(api.get("/payments/imp_000000000000"), 404, "portone_not_found")
    assert_problem(api.get(f"/payments/find/{new_mu()}"), 404, "portone_not_found")
    # read scope is enough for lookups, not for writes
    assert api.get(f"/payments/{imp}", key=stack.keys["payments_read"]).status_code == 200
    assert_problem(api.post("/payments/prepare", key=stack.keys["payments_read"],
                            json={"merchant_uid": new_mu(), "amount": 1}), 403)


def test_partial_then_full_cancel(api, stack):
    mu, imp = prepared_and_paid(api, stack, 10000)
    assert api.post("/payments/verify", json={"imp_uid": imp}).status_code == 200
    r = api.post("/payments/cancel", json={"imp_uid": imp, "amount": 3000, "reason": "partial"})
    assert r.status_code == 200, r.text
    assert r.json()["cancel_amount"] == 3000 and r.json()["status"] == "paid"
    assert row(stack, mu)[:4] == ("paid", 10000, 10000, 3000)
    body = assert_problem(api.post("/payments/cancel", json={"imp_uid": imp, "amount": 8000}), 409,
                          "cancel_exceeds_remainder")
    assert body["cancellable_amount"] == 7000
    r = api.post("/payments/cancel", json={"merchant_uid": mu, "reason": "rest"})
    assert r.status_code == 200, r.text
    assert r.json()["cancel_amount"] == 10000 and r.json()["status"] == "cancelled"
    assert row(stack, mu)[:4] == ("cancelled", 10000, 10000, 10000)
    rows = stack.sql("SELECT amount FROM payment_cancellations WHERE imp_uid = %s ORDER BY id", imp)
    assert rows == [("3000",), ("7000",)]
    assert_problem(api.post("/payments/cancel", json={"imp_uid": imp}), 409, "already_cancelled")
    assert fake_payment(stack, imp)["cancel_amount"] == 10000


def test_concurrent_full_refunds_exactly_one_succeeds(api, stack):
    mu, imp = prepared_and_paid(api, stack, 9900)
    assert api.post("/payments/verify", json={"imp_uid": imp}).status_code == 200
    results = []
    barrier = threading.Barrier(4)

    def refund():
        from conftest import Api
        a = Api(stack)
        barrier.wait()
        results.append(a.post("/payments/cancel", json={"imp_uid": imp, "reason": "dup"}))

    threads = [threading.Thread(target=refund) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409, 409, 409], [r.text for r in results]
    p = fake_payment(stack, imp)
    assert p["cancel_amount"] == 9900 and len(p["cancel_history"]) == 1
    assert stack.sql("SELECT COUNT(*) FROM payment_cancellations WHERE imp_uid = %s", imp) == [("1",)]


def test_cancel_unpaid_is_409(api, stack):
    mu = new_mu()
    r = api.post("/payments/vbank", json={"merchant_uid": mu, "amount": 100, "vbank_code": "004",
                                          "vbank_holder": "Dockpay", "name": "box"})
    assert r.status_code == 201, r.text
    assert_problem(api.post("/payments/cancel", json={"merchant_uid": mu}), 409, "not_paid")


def test_vbank_issue_deposit_webhook_paid(api, stack):
    mu = new_mu("vbank")
    due = int(time.time()) + 86400
    r = api.post("/payments/vbank", json={"merchant_uid": mu, "amount": 33000, "vbank_code": "BK88",
                                          "vbank_due": due, "vbank_holder": "Dockpay", "name": "Plan",
                                          "buyer_name": "Kim", "buyer_email": "kim@example.com",
                                          "buyer_tel": "010-1234-5678"})
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["status"] == "ready" and p["vbank_code"] == "088" and p["vbank_date"] == due and p["vbank_num"]
    imp = p["imp_uid"]
    st, pa, a, c, i = row(stack, mu)
    assert (st, pa, a, i) == ("ready", 33000, 33000, imp)
    dep = stack.fake("POST", "/__control/deposit", {"imp_uid": imp})
    assert dep["webhook_status"] == 200, dep
    settle(stack)   # the webhook is applied in the background
    assert row(stack, mu)[0] == "paid"
    ev = stack.sql("SELECT outcome FROM webhook_events WHERE imp_uid = %s AND status = 'paid'", imp)
    assert ev == [("applied",)]
    item = next(i for i in api.get("/payments", params={"status": "paid"}).json()["items"]
                if i["merchant_uid"] == mu)
    assert item["vbank"]["code"] == "088" and item["vbank"]["num"] == p["vbank_num"]


def test_vbank_default_due(api, stack):
    mu = new_mu("vbank")
    before = int(time.time())
    r = api.post("/payments/vbank", json={"merchant_uid": mu, "amount": 1000, "vbank_code": "04",
                                          "vbank_holder": "Dockpay", "name": "Plan"})
    assert r.status_code == 201, r.text
    due = r.json()["vbank_date"]
    assert before + 3 * 86400 - 5 <= due <= int(time.time()) + 3 * 86400 + 5


def test_validation_failures_never_reach_portone(api, stack, quiet_reconciler):
    settle(stack)   # no background apply of an earlier event runs into the counts
    stack.fake("POST", "/__control/reset_counts")
    bad = [
        ("/payments/prepare", {"merchant_uid": new_mu(), "amount": -5}, 422),
        ("/payments/prepare", {"merchant_uid": new_mu(), "amount": 10.5}, 422),
        ("/payments/prepare", {"merchant_uid": new_mu(), "amount": "100"}, 400),
        ("/payments/prepare", {"amount": 100}, 400),
        ("/payments/prepare", {"merchant_uid": "a/b", "amount": 100}, 422),
        ("/payments/prepare", {"merchant_uid": new_mu(), "amount": 1, "x": 1}, 400),
        ("/payments/cancel", {"reason": "who"}, 400),
        ("/payments/cancel", {"imp_uid": "imp_1", "amount": 0}, 422),
        ("/payments/cancel", {"imp_uid": "imp_1", "refund_bank": "999"}, 422),
        ("/payments/vbank", {"merchant_uid": new_mu(), "amount": 100, "vbank_code": "999",
                             "vbank_holder": "h", "name": "n"}, 422),
        ("/payments/vbank", {"merchant_uid": new_mu(), "amount": 100, "vbank_code": "BK4",
                             "vbank_holder": "h", "name": "n"}, 422),
        ("/payments/vbank", {"merchant_uid": new_mu(), "amount": 100, "vbank_code": "004",
                             "vbank_due": 1000, "vbank_holder": "h", "name": "n"}, 422),
        ("/payments/vbank", {"merchant_uid": new_mu(), "amount": 100, "vbank_code": "004"}, 400),
        ("/payments/verify", {"amount": 100}, 400),
        ("/payments/verify", {"imp_uid": "imp_1", "status": "weird"}, 422),
    ]
    for path, body, status in bad:
        r = api.post(path, json=body)
        assert r.status_code == status, (path, body, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/problem+json")
    body = assert_problem(api.post("/payments/vbank", json=bad[9][1]), 422, "invalid_bank_code")
    assert body["field"] == "vbank_code"
    assert_problem(api.post("/payments/prepare", data="merchant_uid=x&amount=1",
                            headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
    assert_problem(api.get("/payments", params={"limit": 101}), 400)
    assert_problem(api.get("/payments", params={"status": "refunded"}), 400)
    assert_problem(api.get("/payments/bad%20uid"), 400)
    assert api_calls(stack) == {}


def test_list_pages_newest_first(api, stack):
    mus = []
    for amount in (11, 12, 13):
        mu = new_mu("page")
        assert api.post("/payments/prepare", json={"merchant_uid": mu, "amount": amount}).status_code == 201
        mus.append(mu)
    now = int(time.time())
    first = api.get("/payments", params={"limit": 2, "page": 1, "status": "prepared"}).json()
    second = api.get("/payments", params={"limit": 2, "page": 2, "status": "prepared"}).json()
    assert first["limit"] == 2 and first["page"] == 1 and len(first["items"]) == 2
    assert first["total"] == second["total"] >= 3
    assert [i["merchant_uid"] for i in first["items"]] == [mus[2], mus[1]]
    assert second["items"][0]["merchant_uid"] == mus[0]
    window = api.get("/payments", params={"from": now - 60, "to": now + 60, "limit": 100}).json()
    assert {m for m in mus} <= {i["merchant_uid"] for i in window["items"]}
    old = api.get("/payments", params={"to": now - 3600}).json()
    assert not {i["merchant_uid"] for i in old["items"]} & set(mus)


def _prepared_and_paid_in(api, stack, amount, currency, auto_cancel_off=False):
    mu = new_mu()
    r = api.post("/payments/prepare", json={"merchant_uid": mu, "amount": amount})
    assert r.status_code == 201, r.text
    a = stack.fake("POST", "/__control/approve", {"merchant_uid": mu, "amount": amount,
                                                 "currency": currency})
    assert a["ok"] and a["payment"]["currency"] == currency, a
    return mu, a["imp_uid"]


def test_paid_in_usd_for_krw_order_is_never_paid_verify(api, stack):
    """Issue 14 item 3: the same number in another currency is not the order's price."""
    mu, imp = _prepared_and_paid_in(api, stack, 5000, "USD")
    body = assert_problem(api.post("/payments/verify", json={"imp_uid": imp}), 409, "currency_mismatch")
    assert body["currency"] == "USD" and body["expected_currency"] == "KRW" and body["cancelled"] is True
    p = fake_payment(stack, imp)
    assert p["status"] == "cancelled" and p["cancel_amount"] == 5000
    r = row(stack, mu)
    assert r[0] != "paid" and r[4] != imp
    # naming the amount does not help either
    assert_problem(api.post("/payments/verify", json={"imp_uid": imp, "amount": 5000}), 409,
                   "currency_mismatch")


def test_paid_in_usd_lookup_and_webhook_never_paid(api, stack):
    from payments_util import webhook
    stack.restart_httpd(extra_conf="DockpayAutoCancelMismatch Off")
    try:
        mu, imp = _prepared_and_paid_in(api, stack, 7000, "USD")
        r = api.get(f"/payments/{imp}")
        assert r.status_code == 200 and r.json()["currency"] == "USD"
        assert api.get(f"/payments/find/{mu}").status_code == 200
        assert row(stack, mu)[0] != "paid"
        st, body = webhook(stack, imp, mu, "paid")
        assert st == 200 and body["outcome"] == "currency_mismatch", body
        assert row(stack, mu)[0] != "paid" and row(stack, mu)[4] != imp
        assert fake_payment(stack, imp)["status"] == "paid"   # auto-cancel is off: left alone
        ev = stack.sql("SELECT outcome FROM webhook_events WHERE imp_uid = %s", imp)
        assert ev and ev[-1][0] == "currency_mismatch", ev
    finally:
        stack.restart_httpd()


def test_paid_in_krw_still_paid(api, stack):
    mu, imp = _prepared_and_paid_in(api, stack, 3300, "KRW")
    r = api.post("/payments/verify", json={"imp_uid": imp})
    assert r.status_code == 200, r.text
    assert row(stack, mu)[0] == "paid"


def test_lookup_of_unpriced_payment_is_not_recorded_paid(api, stack):
    """A payment of an order this server never priced is returned by the lookups but never
    stored as paid (no row is created for it)."""
    mu = new_mu()
    a = stack.fake("POST", "/__control/approve", {"merchant_uid": mu, "amount": 900})
    imp = a["imp_uid"]
    r = api.get(f"/payments/{imp}")
    assert r.status_code == 200 and r.json()["status"] == "paid" and r.json()["merchant_uid"] == mu
    r = api.get(f"/payments/find/{mu}")
    assert r.status_code == 200 and r.json()["imp_uid"] == imp
    assert row(stack, mu) is None
    listed = api.get("/payments", params={"limit": 100}).json()["items"]
    assert all(i["merchant_uid"] != mu for i in listed)
    # verify with the amount named prices the order: then it is paid
    r = api.post("/payments/verify", json={"imp_uid": imp, "amount": 900})
    assert r.status_code == 200, r.text
    assert row(stack, mu)[0] == "paid"


def test_verify_refuses_imp_uid_of_another_order(api, stack):
    mu_a, imp_a = prepared_and_paid(api, stack, 1200)
    mu_b = new_mu()
    assert api.post("/payments/prepare", json={"merchant_uid": mu_b, "amount": 1200}).status_code == 201
    body = assert_problem(api.post("/payments/verify", json={"imp_uid": imp_a, "merchant_uid": mu_b}),
                          409, "payment_order_mismatch")
    assert body["imp_uid"] == imp_a and body["merchant_uid"] == mu_b
    assert row(stack, mu_b)[0] == "prepared" and row(stack, mu_b)[4] is None
    assert fake_payment(stack, imp_a)["status"] == "paid"
    # the right order is accepted
    r = api.post("/payments/verify", json={"imp_uid": imp_a, "merchant_uid": mu_a})
    assert r.status_code == 200, r.text
    assert row(stack, mu_a)[0] == "paid"
    assert_problem(api.post("/payments/verify", json={"imp_uid": imp_a, "merchant_uid": "a/b"}), 422)


def test_paid_amount_not_prepared_is_never_paid_by_lookup_or_named_amount(api, stack):
    mu, imp = prepared_and_paid(api, stack, 8000, paid=80)
    r = api.get(f"/payments/{imp}")
    assert r.status_code == 200 and r.json()["amount"] == 80
    assert api.get(f"/payments/find/{mu}").status_code == 200
    assert row(stack, mu)[0] != "paid" and row(stack, mu)[4] != imp
    # naming PortOne's amount does not override the prepared one
    body = assert_problem(api.post("/payments/verify", json={"imp_uid": imp, "amount": 80}), 409,
                          "amount_mismatch")
    assert body["expected"] == 8000 and body["actual"] == 80
    assert row(stack, mu)[0] != "paid"
