"""Idempotency keys on the payment and subscription writes (issue 14, part 2), the cancel's
expected_remainder, and the currency field: through Apache, against the real MariaDB and the
PortOne fake (t/fake_portone.py). The key's row lives in the database (idempotency_keys), so it
holds across servers: one test starts a second httpd on the same database."""
import threading
import time
import uuid

import pytest
import requests

from conftest import assert_problem
from payments_util import new_mu, prepared_and_paid, fake_payment, row
from second_server import second_server
from test_subscriptions import card_body, uid

# the fake's call counts and fail/delay rules are this module's measure: no reconcile pass runs
pytestmark = pytest.mark.usefixtures("quiet_reconciler")


def ikey():
    return "k-" + uuid.uuid4().hex


def calls(stack, route, subject):
    """How often PortOne acted on a call of its API route (e.g. "POST /payments/cancel") about
    subject (an imp_uid, merchant_uid or customer_uid) so far: the server's background lookups of
    other orders do not count."""
    return stack.fake("GET", "/__control/counts?subject=" + subject).get(route, 0)


def post(api, path, body, key, api_key=None, **kw):
    if api_key is not None:
        kw["key"] = api_key
    return api.post(path, json=body, headers={"Idempotency-Key": key}, **kw)


def same_answer(a, b):
    assert a.status_code == b.status_code, (a.status_code, b.status_code, b.text)
    assert a.content == b.content, (a.text, b.text)
    assert a.headers.get("Content-Type") == b.headers.get("Content-Type")
    assert "Idempotent-Replayed" not in a.headers
    assert b.headers.get("Idempotent-Replayed") == "true"


def test_cancel_twice_same_key_one_refund_same_answer(api, stack):
    mu, imp = prepared_and_paid(api, stack, amount=5000)
    k = ikey()
    before = calls(stack, "POST /payments/cancel", imp)
    body = {"imp_uid": imp, "amount": 1000, "reason": "retry test"}
    a = post(api, "/payments/cancel", body, k)
    assert a.status_code == 200, a.text
    b = post(api, "/payments/cancel", body, k)
    same_answer(a, b)
    assert calls(stack, "POST /payments/cancel", imp) == before + 1
    assert fake_payment(stack, imp)["cancel_amount"] == 1000
    assert row(stack, mu)[3] == 1000
    # the row: done, the stored status, per API key name
    st = stack.sql("SELECT key_name, state, status FROM idempotency_keys WHERE idem_key = %s", k)
    assert st == [("admin", "done", "200")]
    # without a key the same body refunds again (today's behaviour)
    c = api.post("/payments/cancel", json=body)
    assert c.status_code == 200, c.text
    assert fake_payment(stack, imp)["cancel_amount"] == 2000


def test_cancel_concurrent_same_key_one_refund(api, stack):
    mu, imp = prepared_and_paid(api, stack, amount=7000)
    k = ikey()
    before = calls(stack, "POST /payments/cancel", imp)
    # the fake answers the cancel slowly, so that the requests overlap
    stack.fake("POST", "/__control/delay_next", {"seconds": 1.5, "path_prefix": "/payments/cancel"})
    body = {"imp_uid": imp, "reason": "double click"}
    out = []

    def go():
        s = requests.Session()
        out.append(s.post(stack.base_url + "/payments/cancel", json=body,
                          headers={"Authorization": f"Bearer {stack.keys['admin']}", "Idempotency-Key": k},
                          timeout=60))
    ts = [threading.Thread(target=go) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert calls(stack, "POST /payments/cancel", imp) == before + 1
    assert fake_payment(stack, imp)["cancel_amount"] == 7000
    ok = [r for r in out if r.status_code == 200 and "Idempotent-Replayed" not in r.headers]
    assert len(ok) == 1, [(r.status_code, r.text[:200]) for r in out]
    # the four start together and the first takes 1.5 s at the fake: some overlap it
    assert any(r.status_code == 409 for r in out), [(r.status_code, r.text[:200]) for r in out]
    for r in out:
        if r is ok[0]:
            continue
        if r.status_code == 409:
            assert_problem(r, 409, "request_in_progress")
            assert r.headers.get("Retry-After")
        else:
            same_answer(ok[0], r)
    # after the first finished, every retry is the replay
    same_answer(ok[0], post(api, "/payments/cancel", body, k))


def test_same_key_other_body_or_path_is_422(api, stack):
    mu, imp = prepared_and_paid(api, stack, amount=3000)
    k = ikey()
    before = calls(stack, "POST /payments/cancel", imp)
    assert post(api, "/payments/cancel", {"imp_uid": imp, "amount": 100}, k).status_code == 200
    assert_problem(post(api, "/payments/cancel", {"imp_uid": imp, "amount": 200}, k), 422,
                   "idempotency_key_reused")
    assert_problem(post(api, "/payments/prepare", {"merchant_uid": new_mu(), "amount": 100}, k), 422,
                   "idempotency_key_reused")
    assert calls(stack, "POST /payments/cancel", imp) == before + 1
    assert fake_payment(stack, imp)["cancel_amount"] == 100


def test_keys_are_per_api_key(api, stack):
    mu = new_mu()
    k = ikey()
    body = {"merchant_uid": mu, "amount": 1200}
    a = post(api, "/payments/prepare", body, k)                                     # admin
    b = post(api, "/payments/prepare", body, k, api_key=stack.keys["payments_write"])
    assert a.status_code == 201, a.text
    # another API key with the same Idempotency-Key is its own request: it ran (200: the same pair
    # was already prepared), no replay
    assert b.status_code == 200 and "Idempotent-Replayed" not in b.headers, b.text
    c = post(api, "/payments/prepare", body, k, api_key=stack.keys["payments_write"])
    same_answer(b, c)
    rows = stack.sql("SELECT key_name FROM idempotency_keys WHERE idem_key = %s ORDER BY key_name", k)
    assert rows == [("admin",), ("payments_write",)]


@pytest.mark.parametrize("bad", ["", "a b", "x" * 256, "caf\u00e9"])
def test_bad_key_is_400(api, stack, bad):
    mu = new_mu()
    before = calls(stack, "POST /payments/prepare", mu)
    r = api.post("/payments/prepare", json={"merchant_uid": mu, "amount": 100},
                 headers={"Idempotency-Key": bad.encode("utf-8")})
    assert_problem(r, 400, "bad_idempotency_key")
    assert calls(stack, "POST /payments/prepare", mu) == before
    assert row(stack, mu) is None


def test_key_of_255_visible_characters_is_taken(api, stack):
    k = "~" + "".join(chr(33 + i % 94) for i in range(254))
    body = {"merchant_uid": new_mu(), "amount": 100}
    a = post(api, "/payments/prepare", body, k)
    assert a.status_code == 201, a.text
    same_answer(a, post(api, "/payments/prepare", body, k))


def test_prepare_vbank_replay(api, stack):
    k1, k2 = ikey(), ikey()
    prep = {"merchant_uid": new_mu(), "amount": 2500, "currency": "KRW"}
    before = calls(stack, "POST /payments/prepare", prep["merchant_uid"])
    a = post(api, "/payments/prepare", prep, k1)
    assert a.status_code == 201, a.text
    same_answer(a, post(api, "/payments/prepare", prep, k1))
    assert calls(stack, "POST /payments/prepare", prep["merchant_uid"]) == before + 1

    vb = {"merchant_uid": new_mu("vbank"), "amount": 4400, "vbank_code": "004", "vbank_holder": "Dockpay",
          "name": "box", "currency": "KRW"}
    before = calls(stack, "POST /vbanks", vb["merchant_uid"])
    a = post(api, "/payments/vbank", vb, k2)
    assert a.status_code == 201, a.text
    b = post(api, "/payments/vbank", vb, k2)
    same_answer(a, b)
    assert b.json()["imp_uid"] == a.json()["imp_uid"]
    assert calls(stack, "POST /vbanks", vb["merchant_uid"]) == before + 1


def test_verify_replay(api, stack):
    mu, imp = prepared_and_paid(api, stack, amount=1800)
    k = ikey()
    body = {"imp_uid": imp, "merchant_uid": mu, "amount": 1800}
    before = calls(stack, "GET /payments/{imp_uid}", imp)
    a = post(api, "/payments/verify", body, k)
    assert a.status_code == 200, a.text
    same_answer(a, post(api, "/payments/verify", body, k))
    assert calls(stack, "GET /payments/{imp_uid}", imp) == before + 1


def test_subscription_writes_replay(api, stack):
    cu = uid("cu")
    kk, kp, ks, kd, ku = ikey(), ikey(), ikey(), ikey(), ikey()
    before = calls(stack, "POST /subscribe/customers/{customer_uid}", cu)
    a = post(api, "/subscriptions/billing-key", card_body(cu), kk)
    assert a.status_code == 201, a.text
    same_answer(a, post(api, "/subscriptions/billing-key", card_body(cu), kk))
    assert calls(stack, "POST /subscribe/customers/{customer_uid}", cu) == before + 1

    pay = {"customer_uid": cu, "merchant_uid": uid("again"), "amount": 990, "name": "plan"}
    before = calls(stack, "POST /subscribe/payments/again", cu)
    a = post(api, "/subscriptions/pay", pay, kp)
    assert a.status_code == 200 and a.json()["status"] == "paid", a.text
    same_answer(a, post(api, "/subscriptions/pay", pay, kp))
    assert calls(stack, "POST /subscribe/payments/again", cu) == before + 1

    sch = {"customer_uid": cu, "schedules": [{"merchant_uid": uid("s"), "schedule_at": int(time.time()) + 3600,
                                              "amount": 700, "name": "n", "currency": "KRW"}]}
    before = calls(stack, "POST /subscribe/payments/schedule", cu)
    a = post(api, "/subscriptions/schedule", sch, ks)
    assert a.status_code == 201, a.text
    same_answer(a, post(api, "/subscriptions/schedule", sch, ks))
    assert calls(stack, "POST /subscribe/payments/schedule", cu) == before + 1

    before = calls(stack, "POST /subscribe/payments/unschedule", cu)
    a = api.delete(f"/subscriptions/schedule/{cu}", headers={"Idempotency-Key": ku})
    assert a.status_code == 200, a.text
    same_answer(a, api.delete(f"/subscriptions/schedule/{cu}", headers={"Idempotency-Key": ku}))
    assert calls(stack, "POST /subscribe/payments/unschedule", cu) == before + 1

    before = calls(stack, "DELETE /subscribe/customers/{customer_uid}", cu)
    a = api.delete(f"/subscriptions/billing-key/{cu}", headers={"Idempotency-Key": kd})
    assert a.status_code == 200, a.text
    same_answer(a, api.delete(f"/subscriptions/billing-key/{cu}", headers={"Idempotency-Key": kd}))
    assert calls(stack, "DELETE /subscribe/customers/{customer_uid}", cu) == before + 1


def test_client_errors_are_replayed_too(api, stack):
    k = ikey()
    body = {"merchant_uid": new_mu(), "amount": 100, "currency": "USD"}
    a = post(api, "/payments/prepare", body, k)
    assert_problem(a, 400, "unsupported_currency")
    b = post(api, "/payments/prepare", body, k)
    assert b.status_code == 400 and b.content == a.content and b.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.allow_log(r"dockpay.*(50[234]|portone)")
def test_5xx_frees_the_key(api, stack):
    mu, imp = prepared_and_paid(api, stack, amount=6000)
    k = ikey()
    body = {"imp_uid": imp, "reason": "after a failure"}
    stack.fake("POST", "/__control/fail_next", {"path_prefix": "/payments/cancel", "status": 500})
    a = post(api, "/payments/cancel", body, k)
    assert 500 <= a.status_code < 600, a.text
    assert stack.sql("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = %s", k) == [("0",)]
    assert fake_payment(stack, imp)["cancel_amount"] == 0
    b = post(api, "/payments/cancel", body, k)
    assert b.status_code == 200 and "Idempotent-Replayed" not in b.headers, b.text
    assert fake_payment(stack, imp)["cancel_amount"] == 6000
    same_answer(b, post(api, "/payments/cancel", body, k))


def test_abandoned_and_expired_keys_are_taken_over(api, stack):
    body = {"merchant_uid": new_mu(), "amount": 300}
    k = ikey()
    # a pending row of a request that died 3 minutes ago (the hash does not matter then)
    now = int(time.time())
    stack.sql("INSERT INTO idempotency_keys (key_name, idem_key, request_hash, claim, state, created_at, "
              "updated_at) VALUES ('admin', %s, %s, %s, 'pending', %s, %s)", k, "0" * 64, "d" * 32,
              now - 180, now - 180)
    a = post(api, "/payments/prepare", body, k)
    assert a.status_code == 201, a.text
    # a done row older than 24 h is forgotten: the key is new again
    k2 = ikey()
    stack.sql("INSERT INTO idempotency_keys (key_name, idem_key, request_hash, claim, state, status, "
              "content_type, body_b64, created_at, updated_at) VALUES ('admin', %s, %s, %s, 'done', 418, "
              "'text/plain', 'eA==', %s, %s)", k2, "0" * 64, "e" * 32, now - 90000, now - 90000)
    b = post(api, "/payments/prepare", body, k2)
    assert b.status_code == 200 and "Idempotent-Replayed" not in b.headers, b.text
    # a fresh pending row of the same request is in flight
    k3 = ikey()
    r = post(api, "/payments/prepare", body, k3)
    h = stack.sql("SELECT request_hash FROM idempotency_keys WHERE idem_key = %s", k3)[0][0]
    stack.sql("UPDATE idempotency_keys SET state = 'pending', claim = %s, updated_at = %s WHERE idem_key = %s",
              "f" * 32, now, k3)
    assert r.status_code == 200
    assert_problem(post(api, "/payments/prepare", body, k3), 409, "request_in_progress")
    assert h and len(h) == 64


def test_cancel_expected_remainder(api, stack):
    mu, imp = prepared_and_paid(api, stack, amount=9000)
    before = calls(stack, "POST /payments/cancel", imp)
    r = api.post("/payments/cancel", json={"imp_uid": imp, "amount": 1000, "expected_remainder": 8000})
    p = assert_problem(r, 409, "remainder_mismatch")
    assert p["expected_remainder"] == 8000 and p["cancellable_amount"] == 9000
    assert calls(stack, "POST /payments/cancel", imp) == before
    assert fake_payment(stack, imp)["cancel_amount"] == 0
    r = api.post("/payments/cancel", json={"imp_uid": imp, "amount": 1000, "expected_remainder": 9000})
    assert r.status_code == 200, r.text
    assert fake_payment(stack, imp)["cancel_amount"] == 1000
    r = api.post("/payments/cancel", json={"imp_uid": imp, "expected_remainder": 9000})
    assert_problem(r, 409, "remainder_mismatch")
    assert fake_payment(stack, imp)["cancel_amount"] == 1000
    assert_problem(api.post("/payments/cancel", json={"imp_uid": imp, "expected_remainder": "8000"}), 400)
    assert_problem(api.post("/payments/cancel", json={"imp_uid": imp, "expected_remainder": -1}), 422)


def test_currency_field(api, stack):
    mu = new_mu()
    r = api.post("/payments/prepare", json={"merchant_uid": mu, "amount": 100, "currency": "KRW"})
    assert r.status_code == 201 and r.json()["currency"] == "KRW", r.text
    assert stack.sql("SELECT currency FROM payments WHERE merchant_uid = %s", mu) == [("KRW",)]
    for bad in ("USD", "krw", 410, "", "KRWKRWKRW"):
        m = new_mu()
        assert_problem(api.post("/payments/prepare", json={"merchant_uid": m, "amount": 100, "currency": bad}),
                       400, "wrong_type" if bad == 410 else "unsupported_currency")
        assert row(stack, m) is None
    m = new_mu()
    assert_problem(api.post("/payments/vbank", json={"merchant_uid": m, "amount": 100, "vbank_code": "004",
                                                     "vbank_holder": "D", "name": "n", "currency": "JPY"}),
                   400, "unsupported_currency")
    assert row(stack, m) is None
    cu = uid("cu")
    r = api.post("/subscriptions/schedule", json={"customer_uid": cu, "schedules": [
        {"merchant_uid": uid("s"), "schedule_at": int(time.time()) + 600, "amount": 100, "name": "n",
         "currency": "USD"}]})
    assert_problem(r, 400, "unsupported_currency")


# ------------------------------------------------------------------------------------------------
# a second httpd on the same database

@pytest.fixture
def server2(stack):
    with second_server(stack) as two:
        yield two


def test_two_servers_one_database_honour_the_key(api, stack, server2):
    mu, imp = prepared_and_paid(api, stack, amount=8800)
    body = {"imp_uid": imp, "amount": 800, "reason": "two servers"}
    k = ikey()
    before = calls(stack, "POST /payments/cancel", imp)
    a = post(api, "/payments/cancel", body, k)
    assert a.status_code == 200, a.text
    same_answer(a, server2.post("/payments/cancel", body, {"Idempotency-Key": k}))
    assert calls(stack, "POST /payments/cancel", imp) == before + 1
    assert fake_payment(stack, imp)["cancel_amount"] == 800

    # both at once, one on each server: one refund
    k2 = ikey()
    body2 = {"imp_uid": imp, "amount": 500, "reason": "two servers at once"}
    stack.fake("POST", "/__control/delay_next", {"seconds": 1.5, "path_prefix": "/payments/cancel"})
    out = {}
    t1 = threading.Thread(target=lambda: out.__setitem__(1, post(api, "/payments/cancel", body2, k2)))
    t2 = threading.Thread(target=lambda: out.__setitem__(2, server2.post("/payments/cancel", body2, {"Idempotency-Key": k2})))
    t1.start()
    time.sleep(0.2)
    t2.start()
    t1.join()
    t2.join()
    assert out[1].status_code == 200 and "Idempotent-Replayed" not in out[1].headers, out[1].text
    assert_problem(out[2], 409, "request_in_progress")
    assert calls(stack, "POST /payments/cancel", imp) == before + 2
    assert fake_payment(stack, imp)["cancel_amount"] == 1300
    same_answer(out[1], server2.post("/payments/cancel", body2, {"Idempotency-Key": k2}))
