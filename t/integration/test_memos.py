"""The per-process memos of issue 7 through httpd: /health reuses its last dependency check for
DockpayHealthCache seconds; a GET /payments page is reused for DockpayPaymentsCache seconds, but
never after a payment changed through any process of this server."""
import subprocess
import time

import pytest
import requests

from harness import read_pid, wait_for
from payments_util import new_mu, prepared_and_paid

TWO_CHILDREN = ("ServerLimit 2\nStartServers 2\nMaxRequestWorkers 128\n"
                "MinSpareThreads 128\nMaxSpareThreads 128\n")


def children(stack):
    pid = read_pid(stack.path("httpd", "httpd.pid"))
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return out.split()


def fresh_get(stack, path, params=None):
    """GET on a new connection each time, so that the calls spread over httpd's children."""
    r = requests.get(stack.base_url + path, params=params, timeout=30,
                     headers={"Authorization": f"Bearer {stack.keys['admin']}", "Connection": "close"})
    assert r.status_code == 200, r.text
    return r.json()


def listed(stack, params):
    return {i["merchant_uid"] for i in fresh_get(stack, "/payments", params)["items"]}


@pytest.fixture
def restore_httpd(stack):
    yield
    stack.restart_httpd()


def test_health_reuses_a_recent_check_and_0_checks_every_call(api, stack, restore_httpd):
    stack.restart_httpd(extra_conf="DockpayHealthCache 60")
    assert api.get("/health", key=None).json()["docker"] == "ok"
    stack.stop_docker()
    try:
        # the memo answers (no ping for 60 s): the check is not repeated on every call
        for _ in range(3):
            assert api.get("/health", key=None).json()["docker"] == "ok"
        stack.restart_httpd(extra_conf="DockpayHealthCache 0")
        r = api.get("/health", key=None)
        assert r.status_code == 503 and r.json()["docker"] == "down"
    finally:
        stack.start_docker()
    assert api.get("/health", key=None).json()["docker"] == "ok"   # checked again at once


def test_payment_pages_are_reused_until_a_payment_changes_in_any_child(api, stack, restore_httpd):
    stack.restart_httpd(extra_conf="DockpayPaymentsCache 60\n" + TWO_CHILDREN)
    assert len(children(stack)) == 2
    page = {"status": "prepared", "limit": 100}
    for _ in range(30):                     # warm both children's memo of this page
        fresh_get(stack, "/payments", page)
    # a write the server cannot see (another server, or SQL): the memo may answer without it
    outside = new_mu("outside")
    stack.sql("INSERT INTO payments (merchant_uid, status, created_at, updated_at) "
              "VALUES (%s, 'prepared', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))", outside)
    seen = [outside in listed(stack, page) for _ in range(20)]
    assert not all(seen), "no answer came from the memo"
    # a payment prepared through the API: every child asks the database again at once
    mu = new_mu("memo")
    assert api.post("/payments/prepare", json={"merchant_uid": mu, "amount": 4321}).status_code == 201
    for _ in range(20):
        items = listed(stack, page)
        assert mu in items and outside in items
    # a status changed by a webhook (in a transaction) ends the memo of the 'paid' page too
    paid = {"status": "paid", "limit": 100}
    for _ in range(10):
        fresh_get(stack, "/payments", paid)
    mu2, _imp = prepared_and_paid(api, stack, amount=2500, webhook=True)
    wait_for(lambda: stack.sql("SELECT status FROM payments WHERE merchant_uid = %s", mu2)[0][0] == "paid",
             10, "the webhook to mark the payment paid")
    for _ in range(20):
        assert mu2 in listed(stack, paid)


def test_payment_pages_follow_outside_writes_within_the_default_second(api, stack):
    page = {"status": "prepared", "limit": 100}
    fresh_get(stack, "/payments", page)
    outside = new_mu("outside")
    stack.sql("INSERT INTO payments (merchant_uid, status, created_at, updated_at) "
              "VALUES (%s, 'prepared', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))", outside)
    t0 = time.time()
    wait_for(lambda: outside in listed(stack, page), 5, "the page to show an outside write")
    assert time.time() - t0 < 2.5
