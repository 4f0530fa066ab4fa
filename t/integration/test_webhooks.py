"""POST /webhooks/portone through httpd: recorded first, re-queried, applied once; forged and
mismatched events never mark an order paid; database outages answer 503 and a resend applies."""
import http.client
import json

import pytest

from payments_util import assert_problem, fake_payment, new_mu, prepared_and_paid, row, settle, webhook


def events(stack, imp_uid):
    return stack.sql("SELECT status, outcome, attempts FROM webhook_events WHERE imp_uid = %s ORDER BY id", imp_uid)


def test_same_webhook_five_times_is_applied_once(api, stack):
    mu, imp = prepared_and_paid(api, stack, 2500)
    answers = [webhook(stack, imp, mu, "paid") for _ in range(5)]
    assert [s for s, _ in answers] == [200] * 5
    assert answers[0][1]["outcome"] == "applied" and answers[0][1]["duplicate"] is False
    assert all(b["duplicate"] is True and b["outcome"] == "applied" for _, b in answers[1:])
    assert events(stack, imp) == [("paid", "applied", "5")]
    assert row(stack, mu) == ("paid", 2500, 2500, 0, imp)
    ev = stack.sql("SELECT source_ip, merchant_uid, body FROM webhook_events WHERE imp_uid = %s", imp)[0]
    assert ev[0] == "127.0.0.1" and ev[1] == mu and imp in ev[2]


def test_form_encoded_webhook(api, stack):
    mu, imp = prepared_and_paid(api, stack, 700)
    status, body = webhook(stack, imp, mu, "paid", form=True)
    assert status == 200 and body["outcome"] == "applied"
    assert row(stack, mu)[0] == "paid"


def test_webhook_from_approval_flow(api, stack):
    mu = new_mu()
    assert api.post("/payments/prepare", json={"merchant_uid": mu, "amount": 880}).status_code == 201
    a = stack.fake("POST", "/__control/approve", {"merchant_uid": mu, "amount": 880, "webhook": True})
    assert a["webhook_status"] == 200
    settle(stack)   # applied in the background
    assert row(stack, mu) == ("paid", 880, 880, 0, a["imp_uid"])


def test_webhook_for_unknown_order_is_not_paid(api, stack):
    mu = new_mu("unknown")
    a = stack.fake("POST", "/__control/approve", {"merchant_uid": mu, "amount": 5000})
    status, body = webhook(stack, a["imp_uid"], mu, "paid")
    assert status == 200 and body["outcome"] == "unknown_order"
    assert row(stack, mu) is None
    assert events(stack, a["imp_uid"]) == [("paid", "unknown_order", "1")]


def test_webhook_older_than_the_order_is_stale(api, stack):
    """PortOne's state is behind the order's (forward-only statuses): outcome stale, no change."""
    mu, imp = prepared_and_paid(api, stack, 3100)
    assert webhook(stack, imp, mu, "paid")[1]["outcome"] == "applied"
    stack.sql("UPDATE payments SET status = 'cancelled' WHERE merchant_uid = %s", mu)
    status, body = webhook(stack, imp, mu, "ready")   # another event; PortOne still says paid
    # the intake answers "received"; the background task settles it as stale (issue 14)
    assert status == 200 and body == {"received": True, "outcome": "stale", "received_outcome": "received",
                                      "duplicate": False}
    assert row(stack, mu)[0] == "cancelled"
    assert events(stack, imp) == [("paid", "applied", "1"), ("ready", "stale", "1")]


def test_webhook_with_tampered_amount_is_not_paid(api, stack):
    mu, imp = prepared_and_paid(api, stack, 50000, paid=500)
    status, body = webhook(stack, imp, mu, "paid")
    assert status == 200 and body["outcome"] == "amount_mismatch"
    r = row(stack, mu)
    assert r[0] == "prepared" and r[4] is None
    assert fake_payment(stack, imp)["status"] == "cancelled"   # DockpayAutoCancelMismatch On


def test_forged_webhooks_are_not_applied(api, stack):
    mu, imp = prepared_and_paid(api, stack, 1200)
    other = new_mu()
    assert api.post("/payments/prepare", json={"merchant_uid": other, "amount": 1200}).status_code == 201
    # a real imp_uid with another order's merchant_uid
    status, body = webhook(stack, imp, other, "paid")
    assert status == 200 and body["outcome"] == "mismatch"
    assert row(stack, other)[0] == "prepared"
    # an imp_uid PortOne does not know
    status, body = webhook(stack, "imp_999999999999", other, "paid")
    assert status == 200 and body["outcome"] == "unknown_payment"
    assert row(stack, other)[0] == "prepared"
    # the body's status is not trusted: PortOne says paid, the event says cancelled
    status, body = webhook(stack, imp, mu, "cancelled")
    assert status == 200 and body["outcome"] == "applied"
    assert row(stack, mu)[0] == "paid"


def test_cancel_webhook_records_cancellation(api, stack):
    mu, imp = prepared_and_paid(api, stack, 6000)
    assert webhook(stack, imp, mu, "paid")[0] == 200
    r = api.post("/payments/cancel", json={"imp_uid": imp, "amount": 1000})
    assert r.status_code == 200
    cid = r.json()["cancel_history"][0]["cancellation_id"]
    status, body = webhook(stack, imp, mu, "cancelled", cancellation_id=cid)
    assert status == 200 and body["outcome"] == "applied"
    assert stack.sql("SELECT COUNT(*) FROM payment_cancellations WHERE cancellation_id = %s", cid) == [("1",)]
    assert row(stack, mu)[:4] == ("paid", 6000, 6000, 1000)


@pytest.mark.allow_log(r"(?i)dbd|mysql|database|connect")
def test_webhook_while_database_is_down_then_resent(api, stack):
    mu, imp = prepared_and_paid(api, stack, 3100)
    stack.stop_db()
    try:
        status, body = webhook(stack, imp, mu, "paid")
        assert status == 503, body
    finally:
        stack.start_db()
    status, body = webhook(stack, imp, mu, "paid")
    if status == 503:     # a pooled connection that died with the server is replaced on the next try
        status, body = webhook(stack, imp, mu, "paid")
    assert status == 200 and body["outcome"] == "applied", body
    assert row(stack, mu)[0] == "paid"


def test_webhook_while_portone_is_down_is_pending_then_applied(api, stack, quiet_reconciler):
    mu, imp = prepared_and_paid(api, stack, 4400)
    stack.fake("POST", "/__control/fail_next", {"path_prefix": "/payments/", "status": 503})
    status, body = webhook(stack, imp, mu, "paid")
    assert status == 200 and body["outcome"] == "pending"
    assert row(stack, mu)[0] == "prepared"
    status, body = webhook(stack, imp, mu, "paid")
    assert status == 200 and body["outcome"] == "applied" and body["duplicate"] is False
    assert row(stack, mu)[0] == "paid"
    assert events(stack, imp) == [("paid", "applied", "2")]


def post_webhook_from(stack, source, payload):
    c = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30, source_address=(source, 0))
    c.request("POST", "/api/v1/webhooks/portone", json.dumps(payload), {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), body


def test_webhook_source_allow_list(api, stack):
    mu, imp = prepared_and_paid(api, stack, 900)
    payload = {"imp_uid": imp, "merchant_uid": mu, "status": "paid"}
    status, ctype, body = post_webhook_from(stack, "127.0.0.2", payload)
    assert status == 403 and ctype.startswith("application/problem+json")
    assert json.loads(body)["code"] == "webhook_forbidden"
    assert stack.sql("SELECT COUNT(*) FROM webhook_events WHERE imp_uid = %s", imp) == [("0",)]
    stack.restart_httpd(extra_conf="DockpayWebhookAllow 127.0.0.2/32")
    try:
        status, _, body = post_webhook_from(stack, "127.0.0.2", payload)
        assert status == 200, body
        status, _, _ = post_webhook_from(stack, "127.0.0.3", payload)
        assert status == 403
    finally:
        stack.restart_httpd()
    settle(stack)   # applied in the background (before the restart or by the new server)
    assert row(stack, mu)[0] == "paid"


def test_webhook_validation(api, stack):
    url = "/webhooks/portone"
    assert_problem(api.post(url, key=None, json={"imp_uid": "imp_1", "status": "paid"}), 400)
    assert_problem(api.post(url, key=None, json={"imp_uid": "imp_1", "merchant_uid": "o", "status": "x"}), 422)
    assert_problem(api.post(url, key=None, data="imp_uid=imp_1", headers={"Content-Type": "text/plain"}), 415)
    assert_problem(api.post(url, key=None, data="{", headers={"Content-Type": "application/json"}), 400)
