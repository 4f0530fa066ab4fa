"""The PortOne client inside httpd: token sharing and refresh, 401 retry, upstream failures,
timeouts, and secrets kept out of logs and the database."""
import threading
import time

import pytest

from payments_util import api_calls, assert_problem, new_mu, settle

# the fake's call counts and fail/delay rules are this module's measure: no reconcile pass runs
pytestmark = pytest.mark.usefixtures("quiet_reconciler")


@pytest.fixture
def paid(api, stack):
    a = stack.fake("POST", "/__control/approve", {"merchant_uid": new_mu(), "amount": 100})
    assert api.get(f"/payments/{a['imp_uid']}").status_code == 200     # the client holds a token now
    return a["imp_uid"]


def test_expired_token_is_refreshed_transparently(api, stack, paid):
    stack.fake("POST", "/__control/expire_tokens")
    settle(stack)   # no background apply of an earlier event runs into the counts
    stack.fake("POST", "/__control/reset_counts")
    r = api.get(f"/payments/{paid}")
    assert r.status_code == 200 and r.json()["imp_uid"] == paid
    counts = api_calls(stack)
    assert counts["POST /users/getToken"] == 1
    assert counts["GET /payments/{imp_uid}"] == 2     # the 401, then the retry


def lookups(stack, imp, n, workers):
    from conftest import Api
    results, lock = [], threading.Lock()

    def run(count):
        a = Api(stack)
        for _ in range(count):
            s = a.get(f"/payments/{imp}").status_code
            with lock:
                results.append(s)
    threads = [threading.Thread(target=run, args=(n // workers,)) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_many_threads_fetch_one_token(api, stack):
    imp = stack.fake("POST", "/__control/approve", {"merchant_uid": new_mu(), "amount": 100})["imp_uid"]
    stack.restart_httpd()                    # a fresh process: no token yet
    settle(stack)   # no background apply of an earlier event runs into the counts
    stack.fake("POST", "/__control/reset_counts")
    results = lookups(stack, imp, 200, 40)
    assert results == [200] * 200
    counts = api_calls(stack)
    assert counts["POST /users/getToken"] == 1, counts
    assert counts["GET /payments/{imp_uid}"] == 200
    # connections are reused (far fewer than calls)
    assert stack.fake("GET", "/__control/counts")["connections"] <= 64


def test_many_threads_after_expiry_fetch_one_token(api, stack, paid):
    stack.fake("POST", "/__control/expire_tokens")
    settle(stack)   # no background apply of an earlier event runs into the counts
    stack.fake("POST", "/__control/reset_counts")
    assert lookups(stack, paid, 120, 30) == [200] * 120
    assert api_calls(stack)["POST /users/getToken"] == 1


def test_portone_down_is_503(api, stack, paid):
    stack.stop_fake()
    try:
        body = assert_problem(api.get(f"/payments/{paid}"), 503, "portone_unavailable")
        assert "detail" in body
        assert_problem(api.post("/payments/prepare", json={"merchant_uid": new_mu(), "amount": 10}),
                       503, "portone_unavailable")
    finally:
        stack.start_fake()
    # the restarted fake knows no token and no payment: the client fetches a new token
    assert_problem(api.get(f"/payments/{paid}"), 404, "portone_not_found")


def test_slow_portone_is_504_within_the_timeout(api, stack, paid):
    stack.fake("POST", "/__control/delay_next", {"seconds": 6, "path_prefix": "/payments/"})
    t0 = time.time()
    assert_problem(api.get(f"/payments/{paid}"), 504, "portone_timeout")
    assert time.time() - t0 < 4.5          # DockpayPortOneTimeout 3
    time.sleep(3)                          # let the fake's delayed handler finish


def test_portone_errors_map(api, stack, paid):
    stack.fake("POST", "/__control/fail_next", {"path_prefix": "/payments/", "status": 500})
    assert_problem(api.get(f"/payments/{paid}"), 502, "portone_error")
    stack.fake("POST", "/__control/fail_next", {"path_prefix": "/payments/", "code": -1,
                                                "message": "PG refused"})
    body = assert_problem(api.get(f"/payments/{paid}"), 422, "portone_rejected")
    assert body["detail"] == "PG refused" and body["portone_code"] == -1
    stack.fake("POST", "/__control/fail_next", {"path_prefix": "/payments/", "code": 1,
                                                "message": "이미 처리된 요청입니다"})
    body = assert_problem(api.get(f"/payments/{paid}"), 409, "portone_conflict")
    assert body["portone_code"] == 1
    stack.fake("POST", "/__control/fail_next", {"path_prefix": "/payments/", "status": 401, "count": 2})
    assert_problem(api.get(f"/payments/{paid}"), 502, "portone_auth_failed")
    assert api.get(f"/payments/{paid}").status_code == 200


@pytest.mark.allow_log(r"PortOne refused the configured key")
def test_wrong_credentials_are_502(api, stack, paid):
    stack.restart_httpd(extra_conf='DockpayPortOneSecret "wrong-secret"')
    try:
        assert_problem(api.get(f"/payments/{paid}"), 502, "portone_auth_failed")
    finally:
        stack.restart_httpd()
    assert api.get(f"/payments/{paid}").status_code == 200


def test_secrets_never_leak(api, stack, paid):
    secret, key = stack.portone["secret"], stack.portone["key"]
    api.post("/payments/prepare", json={"merchant_uid": new_mu(), "amount": 10})
    log = stack.error_log() + stack.access_log()
    assert secret not in log and key not in log
    dump = stack.mysql_root("SELECT * FROM payments; SELECT * FROM webhook_events; "
                            "SELECT * FROM payment_cancellations; SELECT * FROM audit_log;", "dockpay")
    assert secret not in dump and key not in dump
    r = api.get(f"/payments/{paid}")
    assert secret not in r.text and "access_token" not in r.text
