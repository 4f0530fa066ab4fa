"""Helpers shared by the payments, webhook and PortOne-client integration tests."""
import uuid

from conftest import assert_problem  # noqa: F401  (re-exported for the payment tests)


def new_mu(tag="order"):
    """A fresh merchant_uid (the fake and the database keep state for the whole session)."""
    return f"{tag}-{uuid.uuid4().hex[:16]}"


def fake_payment(stack, imp_uid):
    """The fake's current record of imp_uid."""
    for p in stack.fake("GET", "/__control/state")["payments"]:
        if p["imp_uid"] == imp_uid:
            return p
    return None


def api_calls(stack):
    """Counts of real API calls at the fake (control routes and connections excluded)."""
    return {k: v for k, v in stack.fake("GET", "/__control/counts").items() if k != "connections"}


def row(stack, merchant_uid):
    """(status, prepared_amount, amount, cancelled_amount, imp_uid) of the local order, or None."""
    rows = stack.sql("SELECT status, prepared_amount, amount, cancelled_amount, imp_uid FROM payments "
                     "WHERE merchant_uid = %s", merchant_uid)
    if not rows:
        return None
    s, pa, a, c, imp = rows[0]
    return (s, int(pa) if pa is not None else None, int(a) if a is not None else None, int(c), imp)


def prepared_and_paid(api, stack, amount=1000, paid=None, webhook=False):
    """prepare(amount) then approve at the fake with `paid` (default: amount); returns (mu, imp_uid)."""
    mu = new_mu()
    r = api.post("/payments/prepare", json={"merchant_uid": mu, "amount": amount})
    assert r.status_code == 201, r.text
    a = stack.fake("POST", "/__control/approve", {"merchant_uid": mu, "amount": paid or amount,
                                                 "webhook": webhook})
    assert a["ok"], a
    return mu, a["imp_uid"]


UNSETTLED = ("received", "processing")


def settle(stack, timeout=20):
    """Waits until the background task applied every recorded webhook event (none received or
    processing): the intake answers before PortOne is asked (issue 14)."""
    import time
    end = time.time() + timeout
    while True:
        n = int(stack.sql("SELECT COUNT(*) FROM webhook_events WHERE outcome IN ('received', 'processing')")[0][0])
        if n == 0:
            return
        assert time.time() < end, f"{n} webhook events still unapplied after {timeout} s"
        time.sleep(0.05)


def apply_attempts(stack, imp_uid, mu, status):
    """How often the server tried to apply the event (0 when it is not recorded)."""
    rows = stack.sql("SELECT apply_attempts FROM webhook_events WHERE imp_uid = %s AND merchant_uid = %s "
                     "AND status = %s", imp_uid, mu, status)
    return int(rows[0][0]) if rows else 0


def event_outcome(stack, imp_uid, mu, status, timeout=20, tried_more_than=-1):
    """The settled outcome of the event (imp_uid, mu, status): waits while it is received or
    processing (and, with tried_more_than, until it was tried more often than that)."""
    import time
    end = time.time() + timeout
    while True:
        rows = stack.sql("SELECT outcome, apply_attempts FROM webhook_events WHERE imp_uid = %s "
                         "AND merchant_uid = %s AND status = %s", imp_uid, mu, status)
        if rows and rows[0][0] not in UNSETTLED and int(rows[0][1]) > tried_more_than:
            return rows[0][0]
        assert time.time() < end, f"event {imp_uid}/{mu}/{status} not applied after {timeout} s: {rows}"
        time.sleep(0.05)


def webhook(stack, imp_uid, mu, status, **kw):
    """Has the fake POST a webhook to the module now; returns (http status, parsed body). The
    module answers once the event is recorded and applies it in the background: for a 200 the
    body's outcome is replaced by the event's settled outcome (received_outcome keeps the answer's)."""
    import json
    try:
        before = apply_attempts(stack, imp_uid, mu, status)
    except RuntimeError:   # the database is down: the module answers 503 anyway
        before = -1
    r = stack.fake("POST", "/__control/webhook", dict(imp_uid=imp_uid, merchant_uid=mu, status=status, **kw))
    assert r["ok"], r
    try:
        body = json.loads(r["body"]) if r["body"] else None
    except ValueError:
        body = r["body"]
    if r["status"] == 200 and isinstance(body, dict):
        body["received_outcome"] = body.get("outcome")
        # a new event, or a resend of one still pending, is applied once more
        again = body.get("duplicate") is False
        body["outcome"] = event_outcome(stack, imp_uid, mu, status, tried_more_than=before if again else -1)
    return r["status"], body
