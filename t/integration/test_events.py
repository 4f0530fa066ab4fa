"""Signed events for the merchant's application (issue 14 part 4): every change of a payment,
cancellation, billing key or schedule is written to the outbox in the change's transaction, and
the "dockpay-outbox" watchdog task POSTs it, signed the Standard Webhooks way, to
DockpayNotifyURL — here a small receiver in this test that records what it gets and can be
switched down, up, or to answer 500. The signatures are checked by a verifier written here from
the Standard Webhooks specification."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import threading
import time
import uuid

import pytest

from harness import free_port
from payments_util import assert_problem, prepared_and_paid, settle, webhook
from second_server import second_server

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
CARD = "5409-8712-3456-7812"
CARD_DIGITS = CARD.replace("-", "")
NOTIFY_CONF = """DockpayNotifyURL http://127.0.0.1:{port}/hooks/dockpay
DockpayNotifySecret {secret}
DockpayNotifyInterval 1
DockpayNotifyTimeout 2
DockpayNotifyBackoff 1 2 3
{extra}"""


# ------------------------------------------------------------------------------------------------
# the merchant's side: a verifier per the Standard Webhooks specification

class BadSignature(Exception):
    pass


def verify(secret, headers, body, tolerance=300):
    """Returns the parsed body when headers/body carry a valid v1 signature made with secret;
    raises BadSignature otherwise (wrong signature, missing header, stale timestamp)."""
    try:
        msg_id, ts, sigs = headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"]
        ts_int = int(ts)
    except (KeyError, ValueError, TypeError):
        raise BadSignature("missing or malformed webhook headers")
    if abs(time.time() - ts_int) > tolerance:
        raise BadSignature("timestamp outside the tolerance")
    if not secret.startswith("whsec_"):
        raise BadSignature("not a whsec_ secret")
    key = base64.b64decode(secret[len("whsec_"):])
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    for part in sigs.split(" "):
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return json.loads(body)
    raise BadSignature("no matching v1 signature")


def test_verifier_rejects_tampering():
    """The verifier itself: a good signature passes, each kind of tampering fails."""
    key = base64.b64decode(SECRET[6:])
    body = b'{"type":"payment.paid","timestamp":"2026-01-01T00:00:00.000000Z","data":{"amount":1000}}'
    ts = str(int(time.time()))
    sig = "v1," + base64.b64encode(hmac.new(key, b"evt_1." + ts.encode() + b"." + body, hashlib.sha256).digest()).decode()
    h = {"webhook-id": "evt_1", "webhook-timestamp": ts, "webhook-signature": sig}
    assert verify(SECRET, h, body)["data"]["amount"] == 1000
    with pytest.raises(BadSignature):
        verify(SECRET, h, body.replace(b"1000", b"9000"))
    with pytest.raises(BadSignature):
        verify(SECRET, dict(h, **{"webhook-id": "evt_2"}), body)
    with pytest.raises(BadSignature):
        verify(SECRET, dict(h, **{"webhook-timestamp": str(int(ts) + 1)}), body)
    with pytest.raises(BadSignature):
        verify("whsec_" + base64.b64encode(os.urandom(32)).decode(), h, body)


# ------------------------------------------------------------------------------------------------
# the receiver

class Receiver:
    """An HTTP server on a free port recording every POST (time, headers, body); mode "ok" answers
    204, "500" answers 500; down() closes the port (connections refused) until up()."""

    def __init__(self):
        self.port = free_port()
        self.lock = threading.Lock()
        self.requests = []
        self.mode = "ok"
        self.delay = 0.0                 # seconds each answer takes
        self.server = None
        self.up()

    def up(self):
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                time.sleep(rec.delay)
                with rec.lock:
                    mode = rec.mode
                    rec.requests.append({"at": time.time(), "path": self.path, "body": body,
                                         "headers": {k.lower(): v for k, v in self.headers.items()},
                                         "answered": 500 if mode == "500" else 204})
                self.send_response(500 if mode == "500" else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def got(self, pred=lambda r: True):
        """Requests so far (parsed: "event" is the body's JSON, "id" the webhook-id) matching pred."""
        with self.lock:
            reqs = list(self.requests)
        out = []
        for r in reqs:
            try:
                ev = json.loads(r["body"])
            except ValueError:
                ev = None
            item = dict(r, event=ev, id=r["headers"].get("webhook-id"))
            if pred(item):
                out.append(item)
        return out

    def for_order(self, key):
        return self.got(lambda r: r["event"] and (r["event"]["data"].get("merchant_uid") == key
                                                  or r["event"]["data"].get("customer_uid") == key))


def wait_for(fn, timeout=25, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def receiver(stack):
    rec = Receiver()
    stack.restart_httpd(NOTIFY_CONF.format(port=rec.port, secret=SECRET, extra=""))
    yield rec
    stack.restart_httpd()
    rec.down()


def events_of(api, key, **params):
    r = api.get("/events", params=dict(order_key=key, limit=100, **params))
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["items"]))   # oldest first


def paid_order(api, stack, amount=1000):
    mu, imp = prepared_and_paid(api, stack, amount)
    status, body = webhook(stack, imp, mu, "paid")
    assert status == 200 and body["outcome"] == "applied", body
    return mu, imp


# ------------------------------------------------------------------------------------------------

def test_paid_webhook_sends_exactly_one_signed_event(api, stack, receiver):
    mu, imp = paid_order(api, stack, 4321)
    got = wait_for(lambda: receiver.for_order(mu), what="the event at the receiver")
    # the same webhook again changes nothing: still one event
    assert webhook(stack, imp, mu, "paid")[0] == 200
    time.sleep(2.5)
    got = receiver.for_order(mu)
    assert len(got) == 1, [g["event"] for g in got]
    r = got[0]
    assert r["path"] == "/hooks/dockpay"
    assert r["headers"]["content-type"].startswith("application/json")
    body = verify(SECRET, r["headers"], r["body"])
    assert r["id"].startswith("evt_")
    assert abs(int(r["headers"]["webhook-timestamp"]) - time.time()) < 30
    assert body["type"] == "payment.paid"
    assert body["timestamp"].endswith("Z")
    data = body["data"]
    assert data["merchant_uid"] == mu and data["imp_uid"] == imp
    assert data["status"] == "paid" and data["amount"] == 4321 and data["currency"] == "KRW"
    # what the merchant's verifier does with a tampered delivery
    with pytest.raises(BadSignature):
        verify(SECRET, r["headers"], r["body"].replace(b"4321", b"1234"))
    forged = dict(r["headers"])
    forged["webhook-signature"] = "v1," + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(BadSignature):
        verify(SECRET, forged, r["body"])
    # the outbox row: delivered after one attempt, with that attempt recorded
    evs = events_of(api, mu)
    assert [e["type"] for e in evs] == ["payment.paid"]
    assert evs[0]["id"] == r["id"] and evs[0]["state"] == "delivered" and evs[0]["attempts"] == 1
    one = api.get(f"/events/{r['id']}")
    assert one.status_code == 200, one.text
    att = one.json()["delivery_attempts"]
    assert len(att) == 1 and att[0]["http_status"] == 204 and att[0]["error"] is None


@pytest.mark.allow_log(r"outbox")
def test_receiver_down_then_up_every_event_in_order(api, stack, receiver):
    receiver.down()
    try:
        orders = []
        for amount in (1100, 1200, 1300):
            mu, imp = paid_order(api, stack, amount)
            r = api.post("/payments/cancel", json={"imp_uid": imp, "amount": 100, "reason": "partial"})
            assert r.status_code == 200, r.text
            r = api.post("/payments/cancel", json={"merchant_uid": mu, "reason": "rest"})
            assert r.status_code == 200, r.text
            orders.append(mu)
        # each order: paid, then two cancellations; tried while down, nothing delivered
        wait_for(lambda: all(events_of(api, mu)[0]["attempts"] >= 2 for mu in orders), what="failed attempts")
        for mu in orders:
            evs = events_of(api, mu)
            assert [e["type"] for e in evs] == ["payment.paid", "payment.cancelled", "payment.cancelled"], evs
            assert all(e["state"] == "pending" for e in evs)
            # the next event of an order waits for the first one
            assert evs[1]["attempts"] == 0 and evs[2]["attempts"] == 0
            first = api.get(f"/events/{evs[0]['id']}").json()
            assert all(a["http_status"] is None and a["error"] for a in first["delivery_attempts"])
    finally:
        receiver.up()
    wait_for(lambda: all(all(e["state"] == "delivered" for e in events_of(api, mu)) for mu in orders),
             timeout=40, what="every event delivered")
    for mu in orders:
        evs = events_of(api, mu)
        got = receiver.for_order(mu)
        ids = [g["id"] for g in got]
        assert set(ids) == {e["id"] for e in evs}, "an event was lost"
        first_seen = sorted(set(ids), key=ids.index)
        assert first_seen == [e["id"] for e in evs], "delivered out of order"
        for g in got:
            verify(SECRET, g["headers"], g["body"])
        bodies = [verify(SECRET, g["headers"], g["body"]) for g in got]
        cancelled = [b["data"] for b in bodies if b["type"] == "payment.cancelled"]
        assert [c["cancellations"][0]["amount"] for c in cancelled] == [100, evs[0]["data"]["amount"] - 100]
        assert cancelled[-1]["status"] == "cancelled"


@pytest.mark.allow_log(r"outbox")
def test_event_claimed_by_another_server_is_not_sent_until_its_lock_ends(api, stack, receiver):
    """Two servers on one database: a row another server has claimed (locked_until in the future)
    is neither sent nor changed by this one, and the order's next event waits behind it."""
    receiver.down()
    try:
        mu, imp = paid_order(api, stack, 1700)
        wait_for(lambda: events_of(api, mu)[0]["attempts"] >= 1, what="a failed attempt")
        first = events_of(api, mu)[0]["id"]
        stack.sql("UPDATE outbox_events SET locked_until = UTC_TIMESTAMP(6) + INTERVAL 5 SECOND, "
                  "locked_by = 'other-server', next_attempt_at = UTC_TIMESTAMP(6) WHERE event_id = %s", first)
        r = api.post("/payments/cancel", json={"imp_uid": imp, "reason": "all"})
        assert r.status_code == 200, r.text
        attempts = api.get(f"/events/{first}").json()["attempts"]
    finally:
        receiver.up()
    time.sleep(3)
    assert receiver.for_order(mu) == [], "a claimed event (or the one after it) was sent"
    ev = api.get(f"/events/{first}").json()
    assert ev["attempts"] == attempts and ev["state"] == "pending"
    assert stack.sql("SELECT locked_by FROM outbox_events WHERE event_id = %s", first) == [("other-server",)]
    # the other server never finishes: once its lock has run out, this one delivers both, in order
    wait_for(lambda: all(e["state"] == "delivered" for e in events_of(api, mu)), what="delivery after the lock")
    ids = [g["id"] for g in receiver.for_order(mu)]
    assert sorted(set(ids), key=ids.index) == [e["id"] for e in events_of(api, mu)]
    assert [e["type"] for e in events_of(api, mu)] == ["payment.paid", "payment.cancelled"]


@pytest.mark.allow_log(r"outbox")
def test_two_servers_deliver_each_event_once_in_order(api, stack, receiver):
    """Two real servers on one database, both running the outbox task (the second posts to
    /hooks/two): each event reaches the receiver once, each order's events in order."""
    conf2 = NOTIFY_CONF.format(port=receiver.port, secret=SECRET, extra="").replace("/hooks/dockpay", "/hooks/two")
    orders = []
    with second_server(stack, conf2, allow_log=r"outbox") as two:
        receiver.down()
        try:
            for i in range(6):
                mu, imp = paid_order(api, stack, 3000 + i)
                r = api.post("/payments/cancel", json={"imp_uid": imp, "amount": 100, "reason": "partial"})
                assert r.status_code == 200, r.text
                r = two.post("/payments/cancel", {"merchant_uid": mu, "reason": "rest"})
                assert r.status_code == 200, r.text
                orders.append(mu)
        finally:
            receiver.delay = 0.3         # slow answers: both servers' runs overlap
            receiver.up()
        try:
            wait_for(lambda: all(all(e["state"] == "delivered" for e in events_of(api, mu)) for mu in orders),
                     timeout=60, what="every event delivered")
        finally:
            receiver.delay = 0.0
    got = [g for mu in orders for g in receiver.for_order(mu)]
    ids = [g["id"] for g in got]
    assert len(ids) == len(set(ids)) == 18, "an event was sent twice or lost"
    for mu in orders:
        sent = [g["id"] for g in sorted(receiver.for_order(mu), key=lambda g: g["at"])]
        assert sent == [e["id"] for e in events_of(api, mu)], "delivered out of order"
        for g in receiver.for_order(mu):
            verify(SECRET, g["headers"], g["body"])
    assert {g["path"] for g in got} == {"/hooks/dockpay", "/hooks/two"}, "one server delivered everything"


@pytest.mark.allow_log(r"outbox")
def test_500_answer_is_retried_with_backoff(api, stack, receiver):
    receiver.mode = "500"
    try:
        mu, _ = paid_order(api, stack, 2500)
        wait_for(lambda: len(receiver.for_order(mu)) >= 3, what="three answered attempts")
    finally:
        receiver.mode = "ok"
    wait_for(lambda: events_of(api, mu)[0]["state"] == "delivered", what="delivery after the 500s")
    got = receiver.for_order(mu)
    assert [g["answered"] for g in got][:3] == [500, 500, 500] and got[-1]["answered"] == 204
    assert len({g["id"] for g in got}) == 1, "one event, tried again"
    times = [g["at"] for g in got]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # DockpayNotifyBackoff 1 2 3: waits grow (one watchdog tick of 1 s of slack)
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9, gaps
    ev = api.get(f"/events/{got[0]['id']}").json()
    assert [a["http_status"] for a in ev["delivery_attempts"]][:3] == [500, 500, 500]
    assert ev["delivery_attempts"][-1]["http_status"] == 204 and ev["attempts"] == len(got)


def test_redeliver_sends_the_event_again(api, stack, receiver):
    mu, _ = paid_order(api, stack, 800)
    wait_for(lambda: events_of(api, mu) and events_of(api, mu)[0]["state"] == "delivered", what="delivery")
    eid = events_of(api, mu)[0]["id"]
    r = api.post(f"/events/{eid}/redeliver")
    assert r.status_code == 202, r.text
    assert r.json()["id"] == eid and r.json()["state"] == "pending"
    got = wait_for(lambda: len(receiver.for_order(mu)) >= 2 and receiver.for_order(mu), what="the redelivery")
    assert [g["id"] for g in got] == [eid, eid]
    assert verify(SECRET, got[1]["headers"], got[1]["body"])["data"] == \
        verify(SECRET, got[0]["headers"], got[0]["body"])["data"]
    wait_for(lambda: api.get(f"/events/{eid}").json()["state"] == "delivered", what="delivered again")
    assert len(api.get(f"/events/{eid}").json()["delivery_attempts"]) == 2
    assert_problem(api.post("/events/evt_000000000000000000000000/redeliver"), 404, "event_not_found")
    assert_problem(api.get("/events/evt_000000000000000000000000"), 404, "event_not_found")
    assert_problem(api.get("/events/not-an-event"), 404, "event_not_found")


def test_events_list_filters_and_pages(api, stack, receiver):
    mu, imp = paid_order(api, stack, 900)
    r = api.post("/payments/cancel", json={"imp_uid": imp, "reason": "all"})
    assert r.status_code == 200, r.text
    wait_for(lambda: len(events_of(api, mu, state="delivered")) == 2, what="two delivered events")
    assert [e["type"] for e in events_of(api, mu)] == ["payment.paid", "payment.cancelled"]
    assert [e["type"] for e in events_of(api, mu, type="payment.cancelled")] == ["payment.cancelled"]
    assert events_of(api, mu, state="failed") == []
    page = api.get("/events", params={"order_key": mu, "limit": 1, "page": 2}).json()
    assert page["total"] == 2 and page["limit"] == 1 and page["page"] == 2
    assert [e["type"] for e in page["items"]] == ["payment.paid"]   # newest first
    allpaid = api.get("/events", params={"type": "payment.paid", "limit": 100}).json()
    assert allpaid["total"] >= 1 and all(e["type"] == "payment.paid" for e in allpaid["items"])
    assert_problem(api.get("/events", params={"state": "lost"}), 400, "bad_query")
    assert_problem(api.get("/events", params={"limit": 0}), 400, "bad_query")


def test_vbank_and_scheduled_payment_events_in_order(api, stack, receiver):
    """vbank.issued then payment.paid for a deposit; a schedule run: schedule.created, then the
    payment (paid or failed) and the schedule's result, all in order per merchant_uid."""
    mu = f"vb-{uuid.uuid4().hex[:12]}"
    r = api.post("/payments/vbank", json={"merchant_uid": mu, "amount": 33000, "vbank_code": "088",
                                          "vbank_holder": "Dockpay", "name": "Plan", "buyer_name": "Kim",
                                          "buyer_email": "kim@example.com", "buyer_tel": "010-1234-5678"})
    assert r.status_code == 201, r.text
    dep = stack.fake("POST", "/__control/deposit", {"imp_uid": r.json()["imp_uid"]})
    assert dep["webhook_status"] == 200, dep
    cu = f"cu_{uuid.uuid4().hex[:12]}"
    r = api.post("/subscriptions/billing-key", json={"customer_uid": cu, "card_number": CARD,
                                                     "expiry": "2031-07", "birth": "880412", "pwd_2digit": "12"})
    assert r.status_code == 201, r.text
    ok_mu, bad_mu = f"so-{uuid.uuid4().hex[:12]}", f"sf-{uuid.uuid4().hex[:12]}"
    r = api.post("/subscriptions/schedule", json={"customer_uid": cu, "schedules": [
        {"merchant_uid": ok_mu, "schedule_at": int(time.time()) + 3600, "amount": 2000, "name": "ok"},
        {"merchant_uid": bad_mu, "schedule_at": int(time.time()) + 7200, "amount": 3000, "name": "bad"}]})
    assert r.status_code == 201, r.text
    assert stack.fake("POST", "/__control/run_schedule", {"merchant_uid": ok_mu})["webhook_status"] == 200
    assert stack.fake("POST", "/__control/run_schedule", {"merchant_uid": bad_mu, "fail": True})["webhook_status"] == 200
    settle(stack)   # the webhooks are applied in the background (issue 14)
    expect = {mu: ["vbank.issued", "payment.paid"],
              ok_mu: ["schedule.created", "payment.paid", "schedule.paid"],
              bad_mu: ["schedule.created", "payment.failed", "schedule.failed"]}
    for key, types in expect.items():
        assert [e["type"] for e in events_of(api, key)] == types, key
    wait_for(lambda: all(len(receiver.for_order(k)) >= len(t) for k, t in expect.items()), what="the deliveries")
    for key, types in expect.items():
        got = [verify(SECRET, g["headers"], g["body"]) for g in receiver.for_order(key)]
        assert [b["type"] for b in got] == types, key
    issued = verify(SECRET, receiver.for_order(mu)[0]["headers"], receiver.for_order(mu)[0]["body"])["data"]
    assert issued["status"] == "ready" and issued["amount"] == 33000 and issued["vbank"]["code"] == "088"
    assert issued["vbank"]["num"] and issued["vbank"]["holder"] == "Dockpay"
    assert not {"buyer_name", "buyer_email", "buyer_tel"} & set(issued), "buyer details are not sent"
    failed = [verify(SECRET, g["headers"], g["body"]) for g in receiver.for_order(bad_mu)]
    assert failed[1]["data"]["status"] == "failed" and failed[2]["data"]["status"] == "failed"


@pytest.mark.parametrize("keyname", ["payments_write", "payments_read", "docker_write"])
def test_events_routes_are_admin_only(api, stack, keyname):
    key = stack.keys[keyname]
    assert_problem(api.get("/events", key=key), 403, "insufficient_scope")
    assert_problem(api.get("/events/evt_000000000000000000000000", key=key), 403, "insufficient_scope")
    assert_problem(api.post("/events/evt_000000000000000000000000/redeliver", key=key), 403,
                   "insufficient_scope")
    assert_problem(api.get("/events", key=None), 401, "unauthorized")


def test_billing_key_and_schedule_events_carry_no_secrets(api, stack, receiver):
    cu = f"cu_{uuid.uuid4().hex[:12]}"
    r = api.post("/subscriptions/billing-key", json={"customer_uid": cu, "card_number": CARD,
                                                     "expiry": "2031-07", "birth": "880412", "pwd_2digit": "12"})
    assert r.status_code == 201, r.text
    sm = f"sm_{uuid.uuid4().hex[:12]}"
    r = api.post("/subscriptions/schedule", json={"customer_uid": cu, "schedules": [
        {"merchant_uid": sm, "schedule_at": int(time.time()) + 3600, "amount": 1500, "name": "monthly"}]})
    assert r.status_code == 201, r.text
    r = api.delete(f"/subscriptions/schedule/{cu}", json={"merchant_uid": [sm]})
    assert r.status_code == 200, r.text
    r = api.delete(f"/subscriptions/billing-key/{cu}")
    assert r.status_code == 200, r.text
    keys = lambda: [g for g in receiver.for_order(cu) if g["event"]["type"].startswith("billing_key.")]
    wait_for(lambda: len(keys()) >= 2 and len(receiver.for_order(sm)) >= 2, what="key and schedule events")
    assert [verify(SECRET, g["headers"], g["body"])["type"] for g in keys()] == \
        ["billing_key.issued", "billing_key.deleted"]
    # revoking the only schedule with nothing paid makes the customer past_due (billing-aware
    # containers): its event is in the customer's order too, between the two key events
    assert [e["type"] for e in events_of(api, cu)] == ["billing_key.issued", "subscription.past_due",
                                                       "billing_key.deleted"]
    sched = [verify(SECRET, g["headers"], g["body"]) for g in receiver.for_order(sm)]
    assert [b["type"] for b in sched] == ["schedule.created", "schedule.revoked"]
    assert sched[0]["data"]["amount"] == 1500 and sched[0]["data"]["customer_uid"] == cu
    issued = verify(SECRET, keys()[0]["headers"], keys()[0]["body"])
    assert "card_number" not in issued["data"]
    # no card data, no PortOne credential, no notify secret in any delivered body or stored payload
    key_b64 = SECRET[len("whsec_"):]
    forbidden = [CARD, CARD_DIGITS, "8712-3456", "87123456", "880412", SECRET, key_b64]
    if stack.s.portone.get("secret"):
        forbidden.append(stack.s.portone["secret"])
    for g in receiver.got():
        for f in forbidden:
            assert f.encode() not in g["body"], f"{f!r} in a delivered body"
            assert f not in json.dumps(g["headers"]), f"{f!r} in delivered headers"
    payloads = " ".join(p for (p,) in stack.sql("SELECT payload FROM outbox_events"))
    for f in forbidden:
        assert f not in payloads, f"{f!r} in a stored event"
    logs = stack.error_log() + stack.access_log()
    assert SECRET not in logs and key_b64 not in logs


@pytest.mark.allow_log(r"outbox")
def test_undelivered_event_fails_after_max_age(api, stack, receiver):
    stack.restart_httpd(NOTIFY_CONF.format(port=receiver.port, secret=SECRET, extra="DockpayNotifyMaxAge 3s\n"))
    receiver.down()
    try:
        mu, _ = paid_order(api, stack, 700)
        ev = wait_for(lambda: events_of(api, mu) and events_of(api, mu)[0]["state"] == "failed"
                      and events_of(api, mu)[0], timeout=30, what="the event marked failed")
        assert ev["attempts"] >= 2 and ev["last_error"]
        attempts = ev["attempts"]
        time.sleep(2.5)
        assert api.get(f"/events/{ev['id']}").json()["attempts"] == attempts, "a failed event is not retried"
    finally:
        receiver.up()
        stack.restart_httpd(NOTIFY_CONF.format(port=receiver.port, secret=SECRET, extra=""))
    assert receiver.for_order(mu) == []
    # redeliver brings it back
    assert api.post(f"/events/{ev['id']}/redeliver").status_code == 202
    wait_for(lambda: receiver.for_order(mu), what="the redelivered event")


BAD_SECRET = "whsec_not*base64"


@pytest.mark.parametrize("directive", [
    f"DockpayNotifySecret {BAD_SECRET}", "DockpayNotifySecret whsec_c2hvcnQ=", "DockpayNotifyURL ftp://x",
    "DockpayNotifyMaxAge 0", "DockpayNotifyMaxAge 91d", "DockpayNotifyTimeout 301", "DockpayNotifyInterval 2x",
    "DockpayNotifyBackoff 5s 2d",
])
def test_bad_notify_directive_fails_config_test_naming_it(stack, tmp_path, directive):
    r = stack.config_test(tmp_path, directive)
    assert r.returncode != 0
    assert directive.split()[0] in (r.stdout + r.stderr)
    assert "c2hvcnQ=" not in r.stdout + r.stderr and BAD_SECRET not in r.stdout + r.stderr, "the secret was echoed"


@pytest.mark.allow_log(r"DockpayNotifySecret is not|AH00020: Configuration Failed")
def test_notify_url_without_secret_refuses_to_start(stack):
    with pytest.raises(Exception):
        stack.restart_httpd("DockpayNotifyURL http://127.0.0.1:9/x\n"
                            "DockpayNotifySecret ${DP_SURELY_UNDEFINED_NOTIFY_SECRET}\n")
    assert "DockpayNotifySecret is not" in stack.error_log()
    stack.restart_httpd()


def test_dropped_webhook_reconciled_sends_exactly_one_signed_event(api, stack, receiver):
    """Issue 14: PortOne approves a payment and sends no webhook; the reconciler marks the order
    paid, and the merchant's receiver gets exactly one signed payment.paid event for it."""
    stack.restart_httpd(NOTIFY_CONF.format(port=receiver.port, secret=SECRET,
                                           extra="DockpayReconcileInterval 1\n"))
    try:
        mu, imp = prepared_and_paid(api, stack, 3100)      # approved at the fake, no webhook sent
        assert stack.sql("SELECT COUNT(*) FROM webhook_events WHERE merchant_uid = %s", mu) == [("0",)]
        wait_for(lambda: stack.sql("SELECT status FROM payments WHERE merchant_uid = %s", mu) == [("paid",)],
                 timeout=20, what="the reconciler to mark the order paid")
        got = wait_for(lambda: receiver.for_order(mu), what="the event at the receiver")
        time.sleep(3)   # more passes of the reconciler and the outbox: nothing more is sent
        got = receiver.for_order(mu)
        assert [g["event"]["type"] for g in got] == ["payment.paid"], [g["event"] for g in got]
        body = verify(SECRET, got[0]["headers"], got[0]["body"])
        assert body["data"]["imp_uid"] == imp and body["data"]["amount"] == 3100
    finally:
        stack.restart_httpd(NOTIFY_CONF.format(port=receiver.port, secret=SECRET, extra=""))
