"""Billing-aware containers (issue 15): containers bound to a subscription customer follow its
billing state. Through Apache, the real private engine and the PortOne fake, with enforcement
on (DockpayBillingEnforce stop) and a grace period of a few seconds.

The case "webhook dropped: the reconciler brings the same outcome" needs the reconcile branch:
its test waits in t/integration/pending_billing_reconcile.py (not collected)."""
import json
import time
import urllib.parse
import uuid

import pytest

from conftest import assert_problem
from payments_util import settle
from containers_util import made, create, wait_for, uniq  # noqa: F401  (made is a fixture)

GRACE = 5
CONF = f"DockpayBillingEnforce stop\nDockpayBillingGrace {GRACE}\n"


@pytest.fixture(scope="module", autouse=True)
def enforcing(stack):
    """httpd with enforcement on for this module; the default configuration afterwards."""
    stack.restart_httpd(CONF)
    yield
    stack.restart_httpd()


def uid(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def issue(api, cu):
    r = api.post("/subscriptions/billing-key", json={
        "customer_uid": cu, "card_number": "5409-8712-3456-7812", "expiry": "2031-07",
        "birth": "870315", "pwd_2digit": "12", "customer_name": "Hong Gildong"})
    assert r.status_code == 201, r.text


def schedule(api, cu, *offsets):
    """Schedules one payment per offset (seconds from now); returns their merchant_uids."""
    now = int(time.time())
    mus = [uid("bs") for _ in offsets]
    r = api.post("/subscriptions/schedule", json={"customer_uid": cu, "schedules": [
        {"merchant_uid": m, "schedule_at": now + off, "amount": 1000, "name": "Monthly"}
        for m, off in zip(mus, offsets)]})
    assert r.status_code == 201, r.text
    return mus


def run_schedule(stack, mu, fail):
    run = stack.fake("POST", "/__control/run_schedule", {"merchant_uid": mu, "fail": fail})
    assert run["ok"] and run["webhook_status"] == 200, run
    settle(stack)   # the intake records the webhook; the background task applies it
    return run


def engine_state(stack, name):
    return stack.docker("inspect", "-f", "{{.State.Status}}", name).strip()


def status(api, cu):
    r = api.get(f"/subscriptions/{cu}/status")
    assert r.status_code == 200, r.text
    return r.json()


def transitions(stack, cu):
    return stack.sql("SELECT from_state, to_state FROM billing_transitions WHERE customer_uid = %s "
                     "ORDER BY id", cu)


def emitted(stack, cu):
    """The billing events of customer cu, as the audit trail lists them; each must also be in the
    outbox (the signed event for the merchant's application), in the same order."""
    audit = [r[0] for r in stack.sql("SELECT path FROM audit_log WHERE key_name = 'dockpay-billing' "
                                     "AND target = %s ORDER BY id", cu)]
    outbox = ["billing:" + r[0] for r in stack.sql("SELECT type FROM outbox_events WHERE order_key = %s "
                                                   "AND type LIKE 'subscription.%%' ORDER BY id", cu)]
    assert outbox == audit, (outbox, audit)
    return audit


def test_failed_schedule_stops_bound_containers_after_grace_and_payment_restarts_them(api, stack, made):
    key = stack.keys["billing"]
    cu = uid("bc")
    issue(api, cu)
    bound = create(api, made, start=True, key=key, customer_uid=cu)
    bound_name = made.containers[-1]
    unbound_name = uniq()
    create(api, made, start=True, key=key, name=unbound_name)
    # the binding: a database row, and the label on the engine object
    assert stack.sql("SELECT kind, customer_uid FROM billing_bindings WHERE object = %s", bound["id"]) == [
        ("container", cu)]
    assert stack.docker("inspect", "-f", '{{index .Config.Labels "dockpay.customer"}}', bound_name).strip() == cu
    assert status(api, cu)["state"] == "active"

    mu = schedule(api, cu, 3600)[0]
    failed_at = time.time()
    run_schedule(stack, mu, fail=True)
    st = status(api, cu)
    assert st["state"] == "past_due", st
    assert mu in st["reason"]
    # within the grace period nothing is stopped
    time.sleep(1.5)
    assert engine_state(stack, bound_name) == "running"
    # after it: the bound container is stopped, the unbound one of the same key is not
    wait_for(lambda: engine_state(stack, bound_name) == "exited", timeout=GRACE + 15,
             what="the bound container stopped by enforcement")
    assert time.time() - failed_at >= GRACE - 1
    assert engine_state(stack, unbound_name) == "running"
    st = wait_for(lambda: (lambda s: s if s["state"] == "suspended" else None)(status(api, cu)),
                  what="suspended")
    assert st["enforced"] == "stop" and "grace period over" in st["reason"]
    assert [(c["id"], c["state"]) for c in st["containers"]] == [(bound["id"], "exited")]

    # the key cannot start (nor restart) it while the customer is not paid up; the 409 says why
    for verb in ("start", "restart"):
        r = api.post(f"/containers/{bound_name}/{verb}", key=key)
        body = assert_problem(r, 409, "subscription_past_due")
        assert body["customer_uid"] == cu
    assert engine_state(stack, bound_name) == "exited"
    # an admin key may
    assert api.post(f"/containers/{bound_name}/start").status_code == 200
    assert engine_state(stack, bound_name) == "running"
    assert api.post(f"/containers/{bound_name}/stop", params={"t": "1"}).status_code == 200
    # the unbound one is the key's to stop and start as before
    assert api.post(f"/containers/{unbound_name}/stop", key=key).status_code == 200
    assert api.post(f"/containers/{unbound_name}/start", key=key).status_code == 200

    # the next payment succeeds (charge now): running again, active
    r = api.post("/subscriptions/pay", json={"customer_uid": cu, "merchant_uid": uid("again"),
                                             "amount": 1000, "name": "Monthly"})
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    assert status(api, cu)["state"] == "active"
    wait_for(lambda: engine_state(stack, bound_name) == "running", timeout=15,
             what="the bound container started again")
    st = wait_for(lambda: (lambda s: s if s["enforced"] is None else None)(status(api, cu)),
                  what="enforcement undone")
    assert st["state"] == "active" and st["containers"][0]["state"] == "running"
    assert transitions(stack, cu) == [("active", "past_due"), ("past_due", "suspended"),
                                      ("suspended", "active")]
    assert emitted(stack, cu) == ["billing:subscription.past_due", "billing:subscription.suspended",
                                  "billing:subscription.active", "billing:subscription.containers_restored"]
    # the key may start its container again
    api.post(f"/containers/{bound_name}/stop", key=key)
    assert api.post(f"/containers/{bound_name}/start", key=key).status_code == 200


def test_duplicate_and_out_of_order_events_change_nothing_twice(api, stack):
    cu = uid("bd")
    issue(api, cu)
    older, newer = schedule(api, cu, 3600, 7200)
    run = run_schedule(stack, newer, fail=True)
    # the same failure sent five more times
    for _ in range(5):
        again = stack.fake("POST", "/__control/webhook", {"imp_uid": run["imp_uid"], "merchant_uid": newer,
                                                          "status": "failed"})
        assert again["status"] == 200, again
    settle(stack)
    assert status(api, cu)["state"] in ("past_due", "suspended")
    # a late paid for the older period: recorded, but the customer stays where it is
    late = run_schedule(stack, older, fail=False)
    assert stack.sql("SELECT status FROM payments WHERE merchant_uid = %s", older) == [("paid",)]
    assert status(api, cu)["state"] in ("past_due", "suspended")
    assert stack.sql("SELECT kind, outcome FROM billing_events WHERE customer_uid = %s ORDER BY received_at, "
                     "kind", cu) == [("failed", "transition"), ("paid", "stale")]
    assert stack.sql("SELECT COUNT(*) FROM billing_events WHERE event_key = %s",
                     f"pay:{late['imp_uid']}:paid") == [("1",)]
    pay_transitions = stack.sql("SELECT from_state, to_state FROM billing_transitions WHERE customer_uid = %s "
                                "AND event_key LIKE 'pay:%%'", cu)
    assert pay_transitions == [("active", "past_due")]

    # the same payment reported twice (the charge-now answer, then its webhook): one event
    mu = uid("again")
    r = api.post("/subscriptions/pay", json={"customer_uid": cu, "merchant_uid": mu, "amount": 1000,
                                             "name": "Monthly"})
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    imp = r.json()["imp_uid"]
    wh = stack.fake("POST", "/__control/webhook", {"imp_uid": imp, "merchant_uid": mu, "status": "paid"})
    assert wh["status"] == 200, wh
    settle(stack)
    assert stack.sql("SELECT outcome FROM billing_events WHERE event_key = %s", f"pay:{imp}:paid") == [
        ("transition",)]
    assert status(api, cu)["state"] == "active"
    assert stack.sql("SELECT COUNT(*) FROM billing_transitions WHERE customer_uid = %s AND to_state = 'active'",
                     cu) == [("1",)]


def test_httpd_restart_during_grace_enforces_once(api, stack, made):
    key = stack.keys["billing"]
    cu = uid("br")
    issue(api, cu)
    create(api, made, start=True, key=key, customer_uid=cu)
    name = made.containers[-1]
    mu = schedule(api, cu, 3600)[0]
    run_schedule(stack, mu, fail=True)
    assert status(api, cu)["state"] == "past_due"
    stack.restart_httpd(CONF)   # between the failure and the end of the grace period
    wait_for(lambda: engine_state(stack, name) == "exited", timeout=GRACE + 20, what="enforcement after restart")
    time.sleep(3)   # more passes of the enforcer: nothing happens twice
    assert transitions(stack, cu) == [("active", "past_due"), ("past_due", "suspended")]
    assert emitted(stack, cu).count("billing:subscription.suspended") == 1


def test_key_deleted_and_last_schedule_revoked_unpaid_make_past_due(api, stack):
    a, b = uid("bk"), uid("bv")
    issue(api, a)
    issue(api, b)
    assert api.delete(f"/subscriptions/billing-key/{a}").status_code == 200
    st = status(api, a)
    assert st["state"] == "past_due" and st["reason"] == "billing key deleted" and st["billing_key"] is False
    mus = schedule(api, b, 3600, 7200)
    assert api.delete(f"/subscriptions/schedule/{b}", json={"merchant_uid": [mus[0]]}).status_code == 200
    assert status(api, b)["state"] == "active"   # one is still scheduled
    assert api.delete(f"/subscriptions/schedule/{b}").status_code == 200
    st = status(api, b)
    assert st["state"] == "past_due" and "revoked" in st["reason"]


def test_status_list_filter_and_resume(api, stack):
    cu, ok = uid("bs"), uid("bo")
    issue(api, cu)
    issue(api, ok)
    assert_problem(api.get(f"/subscriptions/{uid('nobody')}/status"), 404, "customer_not_found")
    assert_problem(api.get("/subscriptions/bad%20uid/status"), 422)
    st = status(api, ok)
    assert st["state"] == "active" and st["since"] is None and st["containers"] == []
    assert api.get(f"/subscriptions/{ok}/status", key=stack.keys["payments_read"]).status_code == 200
    assert_problem(api.get(f"/subscriptions/{ok}/status", key=stack.keys["docker_write"]), 403,
                   "insufficient_scope")

    run_schedule(stack, schedule(api, cu, 3600)[0], fail=True)
    r = api.get("/subscriptions", params={"state": "past_due", "limit": 100})
    assert r.status_code == 200, r.text
    uids = {k["customer_uid"] for k in r.json()["items"]}
    assert cu in uids and ok not in uids
    assert ok in {k["customer_uid"] for k in api.get("/subscriptions", params={"state": "active",
                                                                              "limit": 100}).json()["items"]}
    assert_problem(api.get("/subscriptions", params={"state": "late"}), 400, "bad_query")

    # resume: admin only, with a reason (audited)
    assert_problem(api.post(f"/subscriptions/{cu}/resume", json={"reason": "x"},
                            key=stack.keys["payments_write"]), 403, "insufficient_scope")
    assert_problem(api.post(f"/subscriptions/{cu}/resume", json={}), 400, "missing_field")
    assert_problem(api.post(f"/subscriptions/{cu}/resume", json={"reason": "x", "extra": 1}), 400)
    assert_problem(api.post(f"/subscriptions/{uid('nobody')}/resume", json={"reason": "x"}), 404,
                   "customer_not_found")
    r = api.post(f"/subscriptions/{cu}/resume", json={"reason": "paid by bank transfer"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "active" and r.json()["changed"] is True
    assert "paid by bank transfer" in r.json()["reason"]
    r = api.post(f"/subscriptions/{cu}/resume", json={"reason": "again"})
    assert r.status_code == 200 and r.json()["changed"] is False
    assert stack.sql("SELECT to_state, reason FROM billing_transitions WHERE customer_uid = %s ORDER BY id",
                     cu)[-1] == ("active", "admin resume: paid by bank transfer")
    assert stack.sql("SELECT COUNT(*) FROM audit_log WHERE path = %s AND status = 200",
                     f"/subscriptions/{cu}/resume") == [("2",)]


def test_binding_scopes_and_owner_rules(api, stack, made):
    key = stack.keys["billing"]
    cu = uid("bb")
    issue(api, cu)
    # create with customer_uid needs docker:write and payments:write
    before = set(stack.docker("ps", "-a", "--format", "{{.Names}}").split())
    for k in ("docker_write", "payments_write"):
        name = uniq()
        r = api.post("/containers", key=stack.keys[k], json={"image": "local/busybox:test", "name": name,
                                                              "customer_uid": cu})
        assert_problem(r, 403, "insufficient_scope")
    r = api.post("/containers", key=key, json={"image": "local/busybox:test", "name": uniq(),
                                               "customer_uid": uid("unknown")})
    body = assert_problem(r, 422, "customer_not_found")
    assert body["field"] == "customer_uid"
    assert_problem(api.post("/containers", key=key, json={"image": "local/busybox:test", "customer_uid": 5}),
                   400, "wrong_type")
    assert set(stack.docker("ps", "-a", "--format", "{{.Names}}").split()) == before   # nothing created

    # the raw body's wrapper takes customer_uid too (and gets the label)
    raw_name = uniq()
    made.containers.append(raw_name)
    r = api.post("/containers", key=key, json={"docker": {"Image": "local/busybox:test", "Cmd": ["sleep", "60"]},
                                               "name": raw_name, "customer_uid": cu})
    assert r.status_code == 201, r.text
    raw_id = r.json()["id"]
    assert stack.docker("inspect", "-f", '{{index .Config.Labels "dockpay.customer"}}', raw_name).strip() == cu
    assert stack.sql("SELECT customer_uid FROM billing_bindings WHERE object = %s", raw_id) == [(cu,)]

    # without customer_uid, a caller's own dockpay.customer label is dropped (the server's label)
    fake_name = uniq()
    create(api, made, key=key, name=fake_name, labels={"dockpay.customer": cu, "team": "a"})
    labels = stack.docker("inspect", "-f", "{{json .Config.Labels}}", fake_name)
    assert '"team":"a"' in labels and "dockpay.customer" not in labels

    # PUT/DELETE on an existing container: the key's own only, a live customer, both scopes
    mine = create(api, made, key=key)["id"]
    other = create(api, made, key=stack.keys["docker_write2"])["id"]
    path = f"/subscriptions/{cu}/containers/{mine}"
    assert_problem(api.put(path, key=stack.keys["payments_write"]), 403, "insufficient_scope")
    assert_problem(api.put(path, key=stack.keys["docker_write"]), 403, "insufficient_scope")
    assert_problem(api.put(f"/subscriptions/{cu}/containers/{other}", key=key), 404, "container_not_found")
    assert_problem(api.put(f"/subscriptions/{uid('unknown')}/containers/{mine}", key=key), 404,
                   "customer_not_found")
    r = api.put(path, key=key)
    assert r.status_code == 200, r.text
    assert r.json() == {"customer_uid": cu, "id": mine, "kind": "container"}
    assert stack.sql("SELECT customer_uid, key_name FROM billing_bindings WHERE object = %s", mine) == [
        (cu, "billing")]
    assert {c["id"] for c in status(api, cu)["containers"]} == {raw_id, mine}
    # the admin may bind any container
    assert api.put(f"/subscriptions/{cu}/containers/{other}").status_code == 200
    assert api.delete(f"/subscriptions/{cu}/containers/{other}").status_code == 204
    r = api.delete(path, key=key)
    assert r.status_code == 204, r.text
    assert_problem(api.delete(path, key=key), 404, "binding_not_found")
    assert stack.sql("SELECT COUNT(*) FROM billing_bindings WHERE object = %s", mine) == [("0",)]

    # a bound container deleted at the engine: listed as missing; its binder releases it by full id
    gone = create(api, made, key=key, customer_uid=cu)["id"]
    stack.docker("rm", "-f", gone)
    assert {c["id"]: c["state"] for c in status(api, cu)["containers"]}[gone] == "missing"
    assert_problem(api.delete(f"/subscriptions/{cu}/containers/{gone}", key=stack.keys["docker_write2"]), 403)
    assert api.delete(f"/subscriptions/{cu}/containers/{gone}", key=key).status_code == 204
    assert gone not in {c["id"] for c in status(api, cu)["containers"]}


def test_pause_mode_pauses_bound_container_and_compose_project(api, stack, made):
    """DockpayBillingEnforce pause: a bound container and a bound compose project are paused after
    the grace period, unpause by the key is 409, a payment unpauses both."""
    key = stack.keys["billing"]
    cu = uid("bp")
    project = f"bp{uuid.uuid4().hex[:8]}"
    issue(api, cu)
    stack.restart_httpd(f"DockpayBillingEnforce pause\nDockpayBillingGrace {GRACE}\n")
    try:
        create(api, made, start=True, key=key, customer_uid=cu)
        name = made.containers[-1]
        r = api.post("/compose", key=key, timeout=300, json={
            "project": project, "customer_uid": cu,
            "compose": "version: '2.4'\nservices:\n  app:\n    image: local/busybox:test\n    command: sleep 300\n"})
        assert r.status_code == 200, r.text
        assert stack.sql("SELECT kind, customer_uid, key_name FROM billing_bindings WHERE object = %s",
                         project) == [("project", cu, "billing")]
        # every service of the bound project carries the binding's label at the engine
        st_code, svc = stack.docker_api("GET", "/containers/json?all=1&filters=" + urllib.parse.quote(json.dumps(
            {"label": [f"com.docker.compose.project={project}"]})))
        assert st_code == 200 and svc and all(c["Labels"].get("dockpay.customer") == cu for c in svc), svc
        kinds = sorted(c["kind"] for c in status(api, cu)["containers"])
        assert kinds == ["container", "project"]
        run_schedule(stack, schedule(api, cu, 3600)[0], fail=True)
        wait_for(lambda: all(c["state"] == "paused" for c in status(api, cu)["containers"]),
                 timeout=GRACE + 15, what="bound container and project paused")
        assert engine_state(stack, name) == "paused"
        st = status(api, cu)
        assert st["state"] == "suspended" and st["enforced"] == "pause"
        assert_problem(api.post(f"/containers/{name}/unpause", key=key), 409, "subscription_past_due")
        assert_problem(api.post(f"/compose/{project}/start", key=key), 409, "subscription_past_due")
        r = api.post("/subscriptions/pay", json={"customer_uid": cu, "merchant_uid": uid("again"),
                                                 "amount": 1000, "name": "Monthly"})
        assert r.status_code == 200 and r.json()["status"] == "paid", r.text
        wait_for(lambda: all(c["state"] == "running" for c in status(api, cu)["containers"]),
                 timeout=15, what="unpaused")
        assert transitions(stack, cu)[-1] == ("suspended", "active")
    finally:
        api.delete(f"/compose/{project}", params={"t": "0"})
        stack.restart_httpd(CONF)


# The reconciler (issue 14) re-asks PortOne about scheduled payments past their time every
# DockpayReconcileInterval: the same outcome without any webhook.
RECONCILE_CONF = "DockpayReconcileInterval 1\n"


def test_dropped_webhook_reconciler_brings_the_same_outcome(api, stack, made):
    stack.restart_httpd(CONF + RECONCILE_CONF)
    key = stack.keys["billing"]
    cu = uid("bw")
    issue(api, cu)
    create(api, made, start=True, key=key, customer_uid=cu)
    name = made.containers[-1]
    mu = schedule(api, cu, 4)[0]   # the reconciler asks about a schedule once its time has passed
    # PortOne runs it as failed but no webhook reaches the server
    run = stack.fake("POST", "/__control/run_schedule", {"merchant_uid": mu, "fail": True, "webhook": False})
    assert run["ok"] and run["webhook_status"] is None, run
    assert status(api, cu)["state"] == "active"
    # the reconciler finds the failure: past_due, then after the grace the container is stopped
    wait_for(lambda: status(api, cu)["state"] in ("past_due", "suspended"), timeout=60,
             what="the reconciler applying the failed payment")
    wait_for(lambda: engine_state(stack, name) == "exited", timeout=GRACE + 30, what="enforcement")
    r = api.post(f"/containers/{name}/start", key=key)
    assert_problem(r, 409, "subscription_past_due")
    # the next payment: charge now; the reconciler seeing it again changes nothing twice
    r = api.post("/subscriptions/pay", json={"customer_uid": cu, "merchant_uid": uid("again"),
                                             "amount": 1000, "name": "Monthly"})
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    wait_for(lambda: engine_state(stack, name) == "running", timeout=30, what="restarted")
    time.sleep(3)
    assert transitions(stack, cu) == [("active", "past_due"), ("past_due", "suspended"),
                                      ("suspended", "active")]
    assert emitted(stack, cu).count("billing:subscription.past_due") == 1
    stack.restart_httpd(CONF)   # the module's enforcing configuration again
