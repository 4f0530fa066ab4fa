"""The reconciler (issue 14) through httpd, real MariaDB and the PortOne fake: a dropped webhook,
a virtual account paid while httpd was down, a webhook whose apply fails once, two servers on
one database (one pass at a time), /health, and mismatches that are never paid by this path.
The module's httpd runs here with DockpayReconcileInterval 1 (seconds: lookups 1, 5, 30, 60 s
after an order is made)."""
import http.client
import json
import time

import pytest

from payments_util import event_outcome, fake_payment, new_mu, prepared_and_paid, row, settle, webhook
from second_server import second_server

FAST = "DockpayReconcileInterval 1\nDockpayReconcileBatch 200\n"


@pytest.fixture(scope="module", autouse=True)
def fast_reconciler(stack):
    stack.restart_httpd(extra_conf=FAST)
    yield
    stack.restart_httpd()


def wait_until(pred, timeout, what):
    end = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.time() < end, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.2)


def status_of(stack, mu):
    r = row(stack, mu)
    return r[0] if r else None


def test_dropped_webhook_order_paid_by_reconciler(api, stack):
    mu, imp = prepared_and_paid(api, stack, 4100)          # approved at the fake, no webhook sent
    assert status_of(stack, mu) == "prepared"
    wait_until(lambda: status_of(stack, mu) == "paid", 15, "the reconciler to mark the order paid")
    assert row(stack, mu) == ("paid", 4100, 4100, 0, imp)
    assert stack.sql("SELECT COUNT(*) FROM webhook_events WHERE merchant_uid = %s", mu) == [("0",)]
    attempts = int(stack.sql("SELECT reconcile_attempts FROM payments WHERE merchant_uid = %s", mu)[0][0])
    assert attempts >= 1


def test_vbank_paid_while_httpd_stopped(api, stack):
    mu = new_mu("vbank")
    r = api.post("/payments/vbank", json={"merchant_uid": mu, "amount": 27000, "vbank_code": "004",
                                          "vbank_due": int(time.time()) + 86400,
                                          "vbank_holder": "Dockpay", "name": "box"})
    assert r.status_code == 201, r.text
    imp = r.json()["imp_uid"]
    assert status_of(stack, mu) == "ready"
    stack.s.stop_httpd()
    try:
        dep = stack.fake("POST", "/__control/deposit", {"imp_uid": imp, "webhook": False})
        assert dep["ok"] and dep["payment"]["status"] == "paid", dep
        time.sleep(1.5)
        assert status_of(stack, mu) == "ready"          # nobody told this server yet
    finally:
        stack.s.start_httpd(FAST)
    wait_until(lambda: status_of(stack, mu) == "paid", 20, "the reconciler to see the deposit")
    assert row(stack, mu) == ("paid", 27000, 27000, 0, imp)


def test_webhook_apply_fails_once_then_retried(api, stack):
    mu, imp = prepared_and_paid(api, stack, 5200)
    stack.fake("POST", "/__control/fail_next", {"path_prefix": f"/payments/{imp}", "status": 500})
    status, body = webhook(stack, imp, mu, "paid")
    assert status == 200 and body["received_outcome"] == "received" and body["duplicate"] is False
    # the intake answered without PortOne; the first apply met the 500 and is retried
    wait_until(lambda: stack.sql("SELECT outcome FROM webhook_events WHERE imp_uid = %s", imp)[0][0] == "applied",
               15, "the retry to apply the event")
    outcome, attempts, deliveries = stack.sql(
        "SELECT outcome, apply_attempts, attempts FROM webhook_events WHERE imp_uid = %s", imp)[0]
    assert (outcome, attempts, deliveries) == ("applied", "2", "1")
    assert status_of(stack, mu) == "paid"


def test_intake_answers_without_portone(api, stack):
    mu, imp = prepared_and_paid(api, stack, 800)
    stack.fake("POST", "/__control/delay_next", {"path_prefix": f"/payments/{imp}", "seconds": 2})
    t0 = time.time()
    status, body = webhook(stack, imp, mu, "paid")     # waits for the background apply itself
    assert status == 200 and body["received_outcome"] == "received"
    assert body["outcome"] == "applied"
    # the event was answered before PortOne answered the (delayed) lookup
    rows = stack.sql("SELECT TIMESTAMPDIFF(MICROSECOND, received_at, updated_at) FROM webhook_events "
                     "WHERE imp_uid = %s", imp)
    assert int(rows[0][0]) >= 1_500_000, rows
    assert time.time() - t0 >= 1.5


def test_events_applied_while_another_server_holds_the_lease(api, stack, quiet_reconciler):
    # another server holds the lease: every pass here (one a second) finds it busy, and a webhook
    # whose wake lands on such a tick must still be applied at once, not at the next wake
    orders = [prepared_and_paid(api, stack, 600 + i) for i in range(15)]
    for i, (mu, imp) in enumerate(orders):
        time.sleep(0.07 * (i % 5))       # the sends fall on different ticks around the passes
        assert post_webhook(stack.port, {"imp_uid": imp, "merchant_uid": mu, "status": "paid"})[0] == 200
        wait_until(lambda: status_of(stack, mu) == "paid", 5, f"webhook {i} to be applied")
    assert stack.sql("SELECT holder FROM reconcile_lease WHERE name = 'dockpay-reconcile'") == [("test:quiet",)]


def test_health_shows_reconciler_state(api, stack):
    wait_until(lambda: api.get("/health", key=None).json().get("reconciler", {}).get("last_run_at"), 10,
               "a reconcile pass")
    body = api.get("/health", key=None).json()
    rec = body["reconciler"]
    assert rec["enabled"] is True and rec["interval"] == 1
    assert set(rec) >= {"events_pending", "oldest_pending_seconds", "orders_due", "last_run_at", "last_result"}
    assert rec["last_result"].startswith("ok"), rec
    assert isinstance(rec["events_pending"], int) and rec["oldest_pending_seconds"] >= 0
    assert not any("amount" in k for k in rec)


def test_mismatches_never_paid_through_reconciler(api, stack):
    # paid in USD for a KRW order, no webhook
    usd = new_mu()
    assert api.post("/payments/prepare", json={"merchant_uid": usd, "amount": 7000}).status_code == 201
    a = stack.fake("POST", "/__control/approve", {"merchant_uid": usd, "amount": 7000, "currency": "USD"})
    # paid another amount than prepared, no webhook
    cheap, cheap_imp = prepared_and_paid(api, stack, 9000, paid=90)
    # the imp_uid of another (paid) order named for this one
    other, other_imp = prepared_and_paid(api, stack, 1300)
    target = new_mu()
    assert api.post("/payments/prepare", json={"merchant_uid": target, "amount": 1300}).status_code == 201
    status, body = webhook(stack, other_imp, target, "paid")
    assert status == 200 and body["outcome"] == "mismatch"
    # every order was looked up at least twice by the reconciler meanwhile
    for mu in (usd, cheap, target):
        wait_until(lambda: int(stack.sql("SELECT reconcile_attempts FROM payments WHERE merchant_uid = %s",
                                         mu)[0][0]) >= 2, 20, f"two lookups of {mu}")
    assert status_of(stack, usd) != "paid" and row(stack, usd)[4] != a["imp_uid"]
    assert status_of(stack, cheap) != "paid" and row(stack, cheap)[4] != cheap_imp
    assert fake_payment(stack, cheap_imp)["status"] == "cancelled"     # DockpayAutoCancelMismatch On
    assert status_of(stack, target) == "prepared" and row(stack, target)[4] is None
    wait_until(lambda: status_of(stack, other) == "paid", 15, "the other order to be paid")


def test_admin_lists_webhook_events(api, stack):
    mu, imp = prepared_and_paid(api, stack, 650)
    assert webhook(stack, imp, mu, "paid")[1]["outcome"] == "applied"
    r = api.get("/webhooks/events", params={"imp_uid": imp})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 1 and page["page"] == 1
    ev = page["items"][0]
    assert (ev["imp_uid"], ev["merchant_uid"], ev["outcome"], ev["attempts"], ev["deliveries"]) == (
        imp, mu, "applied", 1, 1)
    assert ev["next_attempt_at"] is None
    r = api.get("/webhooks/events", params={"outcome": "applied", "limit": 1})
    assert r.status_code == 200 and len(r.json()["items"]) == 1 and r.json()["total"] >= 1
    r = api.get("/webhooks/events", key=stack.keys["payments_read"])
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
    r = api.get("/webhooks/events", params={"outcome": "nonsense"})
    assert r.status_code == 400 and r.json()["code"] == "bad_query"


def post_webhook(port, payload):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/api/v1/webhooks/portone", json.dumps(payload), {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def test_two_servers_apply_each_event_once_and_never_overlap(api, stack):
    since = stack.sql("SELECT UTC_TIMESTAMP(6)")[0][0]
    with second_server(stack, FAST) as two:
        orders = [prepared_and_paid(api, stack, 1000 + i) for i in range(8)]
        # half get a webhook, sent to both servers at once; the rest only the reconciler finds
        for mu, imp in orders[:4]:
            for port in (stack.port, two.port):
                assert post_webhook(port, {"imp_uid": imp, "merchant_uid": mu, "status": "paid"})[0] == 200
        for mu, _ in orders:
            wait_until(lambda: status_of(stack, mu) == "paid", 20, f"{mu} to be paid")
        for mu, imp in orders[:4]:
            assert event_outcome(stack, imp, mu, "paid") == "applied"
            assert stack.sql("SELECT apply_attempts, attempts FROM webhook_events WHERE imp_uid = %s",
                             imp) == [("1", "2")]
        # both servers run passes, never at once
        wait_until(lambda: len({h for (h,) in stack.sql(
            "SELECT DISTINCT holder FROM reconcile_runs WHERE started_at >= %s", since)}) >= 2, 20,
            "passes by both servers")
    runs = stack.sql("SELECT holder, started_at, ended_at FROM reconcile_runs WHERE started_at >= %s "
                     "ORDER BY started_at", since)
    assert len(runs) >= 2
    for (h1, s1, e1), (h2, s2, e2) in zip(runs, runs[1:]):
        assert e1 <= s2, f"passes overlap: {h1} {s1}..{e1} and {h2} {s2}..{e2}"


def child_crashes(stack, since):
    return [l for l in stack.error_log()[since:].splitlines() if "exit signal" in l]


@pytest.mark.allow_log(r"(?i)dbd|mysql|database|connect")
def test_reconciler_survives_database_outage(api, stack):
    since = len(stack.error_log())
    mu, imp = prepared_and_paid(api, stack, 3300)           # no webhook: only the reconciler finds it
    stack.stop_db()
    try:
        time.sleep(3)                                       # passes meet a dead database meanwhile
    finally:
        stack.start_db()
    wait_until(lambda: status_of(stack, mu) == "paid", 30, "the reconciler to recover")
    assert row(stack, mu) == ("paid", 3300, 3300, 0, imp)
    assert child_crashes(stack, since) == []


def test_reconciler_backs_off_while_portone_fails(api, stack):
    since = len(stack.error_log())
    mu, imp = prepared_and_paid(api, stack, 2100)
    # every lookup of this order fails for a while: PortOne answers 503
    stack.fake("POST", "/__control/fail_next", {"path_prefix": f"/payments/find/{mu}", "status": 503,
                                                "count": 2})
    wait_until(lambda: status_of(stack, mu) == "paid", 40, "the order to be paid once PortOne answers")
    attempts = int(stack.sql("SELECT reconcile_attempts FROM payments WHERE merchant_uid = %s", mu)[0][0])
    assert attempts >= 3                                    # two failed lookups, then the one that paid
    assert "PortOne GET /payments/find/" + mu in stack.error_log()[since:]
    assert child_crashes(stack, since) == []
