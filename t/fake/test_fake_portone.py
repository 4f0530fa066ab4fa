"""Tests of t/fake_portone.py (the PortOne V1 fake), run with:

    /usr/bin/python3 -m pytest t/fake
"""

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fake_portone.py")
KEY, SECRET = "test_imp_key", "test-imp-secret-DO-NOT-LOG-1234567890"
CARD = "5361-1234-5678-4321"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def start_fake(tmp_path, *extra):
    port_file = tmp_path / "port"
    log = tmp_path / "fake.log"
    proc = subprocess.Popen([sys.executable, FAKE, "--host", "127.0.0.1", "--port", "0",
                             "--port-file", str(port_file), "--imp-key", KEY,
                             "--imp-secret", SECRET, "--log", str(log), *extra])
    for _ in range(100):
        if port_file.exists():
            return proc, int(port_file.read_text()), log
        if proc.poll() is not None:
            raise RuntimeError("fake exited with %s" % proc.returncode)
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("fake did not start")


def stop_fake(proc):
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=10)


class Client:
    """One keep-alive connection to the fake."""

    def __init__(self, port, https_ctx=None):
        if https_ctx:
            self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=https_ctx,
                                                    timeout=30)
        else:
            self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token = None

    def raw(self, method, path, body=None, headers=None, form=False):
        headers = dict(headers or {})
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body, doseq=True).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        text = resp.read().decode()
        return resp, json.loads(text) if text else None

    def get_token(self):
        resp, env = self.raw("POST", "/users/getToken", {"imp_key": KEY, "imp_secret": SECRET})
        assert resp.status == 200, env
        self.token = env["response"]["access_token"]
        return env["response"]

    def api(self, method, path, body=None, form=False, auth=True):
        """-> (http status, envelope)."""
        if auth and self.token is None:
            self.get_token()
        headers = {"Authorization": "Bearer " + self.token} if auth else {}
        resp, env = self.raw(method, path, body, headers, form)
        assert resp.getheader("Content-Type") == "application/json; charset=UTF-8"
        assert set(env) == {"code", "message", "response"}
        return resp.status, env

    def ok(self, method, path, body=None, **kw):
        status, env = self.api(method, path, body, **kw)
        assert (status, env["code"]) == (200, 0), env
        return env["response"]

    def ctl(self, method, path, body=None):
        resp, out = self.raw(method, "/__control/" + path, body if body is not None else
                             ({} if method == "POST" else None))
        assert resp.status == 200, out
        return out


class Hooks:
    """A tiny webhook receiver."""

    def __init__(self):
        self.received, self.status = [], 200
        hooks = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers["Content-Length"])).decode()
                ctype = self.headers["Content-Type"]
                body = json.loads(data) if "json" in ctype else dict(urllib.parse.parse_qsl(data))
                hooks.received.append((self.path, ctype, body))
                out = b'{"ok":true}'
                self.send_response(hooks.status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def hooks():
    h = Hooks()
    yield h
    h.server.shutdown()


@pytest.fixture(scope="module")
def fake(tmp_path_factory, hooks):
    tmp = tmp_path_factory.mktemp("fake")
    proc, port, log = start_fake(tmp, "--webhook-url", hooks.url)
    yield {"port": port, "log": log, "proc": proc}
    assert stop_fake(proc) == 0
    assert "crashed" not in log.read_text()          # no handler raised unexpectedly


@pytest.fixture
def c(fake, hooks):
    cl = Client(fake["port"])
    cl.ctl("POST", "reset")
    hooks.received.clear()
    hooks.status = 200
    yield cl
    cl.conn.close()


def approve(c, mu, amount, **kw):
    return c.ctl("POST", "approve", dict(merchant_uid=mu, amount=amount, **kw))["payment"]


def issue_key(c, cu, card=CARD, **kw):
    return c.api("POST", "/subscribe/customers/" + cu,
                 dict(card_number=card, expiry="2031-07", birth="900101", pwd_2digit="12", **kw))


# --------------------------------------------------------------------------
# tokens and auth
# --------------------------------------------------------------------------

def test_token_same_until_expiry(c):
    t1 = c.get_token()
    assert set(t1) == {"access_token", "now", "expired_at"}
    assert 1795 <= t1["expired_at"] - t1["now"] <= 1800
    t2 = c.get_token()
    assert (t2["access_token"], t2["expired_at"]) == (t1["access_token"], t1["expired_at"])


def test_token_form_body_and_errors(c):
    resp, env = c.raw("POST", "/users/getToken", {"imp_key": KEY, "imp_secret": SECRET}, form=True)
    assert resp.status == 200 and env["code"] == 0
    resp, env = c.raw("POST", "/users/getToken", {"imp_key": KEY, "imp_secret": "wrong"})
    assert resp.status == 401 and env["code"] == -1 and env["response"] is None
    resp, env = c.raw("POST", "/users/getToken", {"imp_key": KEY})
    assert resp.status == 400 and env["message"] == "imp_key, imp_secret 파라메터가 누락되었습니다."


def test_token_extension_with_short_ttl(c):
    c.ctl("POST", "set_token_ttl", {"seconds": 30})
    t1 = c.get_token()
    assert t1["expired_at"] - t1["now"] <= 30
    t2 = c.get_token()                       # < 60 s left: extended by exactly 300 s
    assert t2["access_token"] == t1["access_token"]
    assert t2["expired_at"] == t1["expired_at"] + 300
    t3 = c.get_token()                       # plenty left now: unchanged
    assert (t3["access_token"], t3["expired_at"]) == (t2["access_token"], t2["expired_at"])


def test_token_expiry_gives_401_then_new_token(c):
    c.ctl("POST", "set_token_ttl", {"seconds": 1})
    t1 = c.get_token()
    time.sleep(1.1)
    status, env = c.api("GET", "/banks")
    assert (status, env) == (401, {"code": -1, "message": "Unauthorized", "response": None})
    t2 = c.get_token()
    assert t2["access_token"] != t1["access_token"]
    c.ctl("POST", "set_token_ttl", {"seconds": 1800})
    c.get_token()
    assert c.api("GET", "/banks")[0] == 200


def test_expire_tokens(c):
    t1 = c.get_token()
    assert c.api("GET", "/cards")[0] == 200
    c.ctl("POST", "expire_tokens")
    assert c.api("GET", "/cards")[0] == 401
    assert c.get_token()["access_token"] != t1["access_token"]
    assert c.api("GET", "/cards")[0] == 200


def test_auth_header_forms(c):
    tok = c.get_token()["access_token"]
    for headers in ({"Authorization": "Bearer " + tok}, {"Authorization": tok},
                    {"X-ImpTokenHeader": tok}):
        resp, env = c.raw("GET", "/banks/004", headers=headers)
        assert resp.status == 200 and env["response"] == {"code": "004", "name": "KB국민은행"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"X-ImpTokenHeader": "nope"}):
        resp, env = c.raw("GET", "/banks/004", headers=headers)
        assert resp.status == 401 and env == {"code": -1, "message": "Unauthorized",
                                              "response": None}
        assert resp.getheader("WWW-Authenticate") == "Bearer"


# --------------------------------------------------------------------------
# prepare, lookup
# --------------------------------------------------------------------------

def test_prepare(c):
    assert c.ok("POST", "/payments/prepare", {"merchant_uid": "o1", "amount": 1000}) == \
        {"merchant_uid": "o1", "amount": 1000, "currency": None}
    status, env = c.api("POST", "/payments/prepare/", {"merchant_uid": "o1", "amount": 1000})
    assert (status, env["code"], env["response"]) == (200, 1, None)
    assert env["message"] == "결제정보 사전등록에 실패하였습니다(이미 등록된 merchant_uid입니다)."
    assert c.ok("GET", "/payments/prepare/o1")["amount"] == 1000
    assert c.ok("PUT", "/payments/prepare", {"merchant_uid": "o1", "amount": "2000"},
                form=True)["amount"] == 2000
    status, env = c.api("GET", "/payments/prepare/nope")
    assert (status, env["code"], env["message"]) == (404, -1, "사전등록된 결제정보가 존재하지 않습니다.")
    assert c.api("PUT", "/payments/prepare", {"merchant_uid": "nope", "amount": 1})[0] == 404


def test_validation(c):
    status, env = c.api("POST", "/payments/prepare", {"merchant_uid": "o1"})
    assert (status, env["code"]) == (400, -1) and env["message"].startswith("파라미터 누락:")
    assert "amount" in env["message"]
    status, env = c.api("POST", "/payments/prepare", {"merchant_uid": "o1", "amount": "abc"})
    assert (status, env["code"]) == (400, -1) and "amount must be a number" in env["message"]
    status, env = c.api("POST", "/payments/prepare", {"merchant_uid": "o1", "amount": True})
    assert status == 400
    status, env = c.api("POST", "/vbanks", {"merchant_uid": "v", "amount": 1, "vbank_code": "004",
                                            "vbank_due": "tomorrow"})
    assert status == 400 and "vbank_due" in env["message"]
    status, env = c.api("GET", "/no/such/route")
    assert (status, env["code"]) == (404, -1)
    resp, env = c.raw("POST", "/payments/prepare", headers={"Content-Type": "application/json",
                                                            "Authorization": c.token})
    assert resp.status == 400
    c.conn.request("POST", "/payments/prepare", body=b"{not json",
                   headers={"Content-Type": "application/json", "Authorization": c.token})
    resp = c.conn.getresponse()
    assert resp.status == 400 and json.loads(resp.read())["code"] == -1


def test_approve_and_lookups(c):
    p = approve(c, "o2", 5000, buyer_name="홍길동")
    assert p["imp_uid"].startswith("imp_") and len(p["imp_uid"]) == 16
    got = c.ok("GET", "/payments/" + p["imp_uid"])
    assert got["status"] == "paid" and got["amount"] == 5000 and got["paid_at"] > 0
    assert got["cancelled_at"] == 0 and got["failed_at"] == 0 and got["sandbox"] is False
    assert got["buyer_name"] == "홍길동" and got["cancel_history"] == []
    assert c.ok("GET", "/payments/find/o2")["imp_uid"] == p["imp_uid"]
    assert c.ok("GET", "/payments/find/o2/paid/")["imp_uid"] == p["imp_uid"]
    status, env = c.api("GET", "/payments/find/o2/ready")
    assert status == 404 and env["message"] == "존재하지 않는 결제정보입니다."
    status, env = c.api("GET", "/payments/imp_000000000000")
    assert (status, env["code"], env["message"]) == (404, -1, "존재하지 않는 결제정보입니다.")
    p2 = approve(c, "o2", 5000, status="failed")
    page = c.ok("GET", "/payments/findAll/o2")
    assert page["total"] == 2 and page["previous"] == 0 and page["next"] == 0
    assert c.ok("GET", "/payments/findAll/o2/failed")["list"][0]["imp_uid"] == p2["imp_uid"]
    assert c.ok("GET", "/payments/status/all?limit=1")["next"] == 2
    assert [x["imp_uid"] for x in c.ok("GET", "/payments/status/paid")["list"]] == [p["imp_uid"]]
    assert c.api("GET", "/payments/status/bogus")[0] == 400
    status, env = c.api("GET", "/payments?imp_uid[]=%s&imp_uid[]=imp_1&merchant_uid[]=o2"
                        % p["imp_uid"])
    assert status == 207 and len(env["response"]) == 2
    status, env = c.api("GET", "/payments?imp_uid[]=" + p["imp_uid"])
    assert status == 200 and env["response"][0]["imp_uid"] == p["imp_uid"]
    assert c.api("GET", "/payments?imp_uid[]=imp_1")[0] == 404


# --------------------------------------------------------------------------
# cancel
# --------------------------------------------------------------------------

def test_partial_and_full_cancel(c, hooks):
    p = approve(c, "o3", 10000)
    uid = p["imp_uid"]
    status, env = c.api("POST", "/payments/cancel", {"imp_uid": uid, "amount": 3000,
                                                     "checksum": 9999})
    assert (status, env["code"], env["response"]) == (200, 1, None)
    assert "checksum" in env["message"]
    r = c.ok("POST", "/payments/cancel", {"imp_uid": uid, "amount": 3000, "checksum": 10000,
                                          "reason": "partial"})
    assert r["status"] == "paid" and r["cancel_amount"] == 3000 and r["cancelled_at"] == 0
    assert len(r["cancel_history"]) == 1
    h = r["cancel_history"][0]
    assert set(h) == {"pg_tid", "amount", "cancelled_at", "reason", "cancellation_id",
                      "receipt_url"} and h["amount"] == 3000 and h["reason"] == "partial"
    status, env = c.api("POST", "/payments/cancel", {"imp_uid": uid, "amount": 8000})
    assert env["code"] == 1                                      # more than the remainder
    r = c.ok("POST", "/payments/cancel", {"merchant_uid": "o3", "checksum": 7000,
                                          "enable_webhook": "true"}, form=True)
    assert r["status"] == "cancelled" and r["cancel_amount"] == 10000 and r["cancelled_at"] > 0
    ids = [h["cancellation_id"] for h in r["cancel_history"]]
    assert len(set(ids)) == 2
    status, env = c.api("POST", "/payments/cancel", {"imp_uid": uid})
    assert (env["code"], env["message"]) == (1, "이미 전액취소된 주문입니다.")
    status, env = c.api("POST", "/payments/cancel", {"imp_uid": "imp_1", "merchant_uid": "o3"})
    assert (env["code"], env["message"]) == (1, "취소할 결제건이 존재하지 않습니다.")
    status, env = c.api("POST", "/payments/cancel", {"reason": "x"})
    assert env["code"] == 1 and env["message"].endswith("지정해주셔야합니다.")
    for _ in range(50):                         # the cancel webhook is sent asynchronously
        if hooks.received:
            break
        time.sleep(0.05)
    assert hooks.received[-1][2] == {"imp_uid": uid, "merchant_uid": "o3", "status": "cancelled",
                                     "cancellation_id": ids[1]}


def test_concurrent_full_refunds_exactly_one_succeeds(fake, c):
    p = approve(c, "o4", 7000)
    c.get_token()
    clients = [Client(fake["port"]) for _ in range(20)]
    for cl in clients:
        cl.token = c.token
    barrier = threading.Barrier(len(clients))

    def refund(cl):
        barrier.wait()
        return cl.api("POST", "/payments/cancel", {"imp_uid": p["imp_uid"], "checksum": 7000})

    with ThreadPoolExecutor(len(clients)) as ex:
        results = list(ex.map(refund, clients))
    codes = sorted(env["code"] for _, env in results)
    assert codes == [0] + [1] * 19
    got = c.ok("GET", "/payments/" + p["imp_uid"])
    assert got["cancel_amount"] == 7000 and len(got["cancel_history"]) == 1


# --------------------------------------------------------------------------
# virtual accounts
# --------------------------------------------------------------------------

def test_vbank_issue_deposit_and_revoke(c, hooks):
    due = int(time.time()) + 86400
    v = c.ok("POST", "/vbanks", {"merchant_uid": "v1", "amount": 30000, "vbank_code": "BK04",
                                 "vbank_due": due, "vbank_holder": "홍길동", "pg": "nice.nictest04m"})
    assert v["pay_method"] == "vbank" and v["status"] == "ready" and v["vbank_code"] == "004"
    assert v["vbank_name"] == "KB국민은행" and v["vbank_num"] and v["vbank_date"] == due
    assert v["vbank_issued_at"] > 0 and v["paid_at"] == 0 and v["pg_id"] == "nictest04m"
    for _ in range(50):
        if hooks.received:
            break
        time.sleep(0.05)
    assert hooks.received[0][2] == {"imp_uid": v["imp_uid"], "merchant_uid": "v1",
                                    "status": "ready"}
    status, env = c.api("POST", "/payments/cancel", {"imp_uid": v["imp_uid"]})
    assert env["code"] == 1                                   # a ready vbank cannot be cancelled
    out = c.ctl("POST", "deposit", {"imp_uid": v["imp_uid"]})
    assert out["webhook_status"] == 200 and out["payment"]["status"] == "paid"
    assert hooks.received[-1][2]["status"] == "paid"
    assert c.ok("GET", "/payments/" + v["imp_uid"])["paid_at"] > 0
    assert c.api("DELETE", "/vbanks/" + v["imp_uid"])[0] == 400    # not ready any more
    status, env = c.api("POST", "/vbanks", {"merchant_uid": "v1", "amount": 1, "vbank_code": "88",
                                            "vbank_due": due})
    assert env["code"] == 1                                   # merchant_uid already paid
    v2 = c.ok("POST", "/vbanks", {"merchant_uid": "v2", "amount": 100, "vbank_code": "88",
                                  "vbank_due": due})
    assert v2["vbank_code"] == "088"
    assert c.ok("PUT", "/vbanks/" + v2["imp_uid"], {"amount": 200})["amount"] == 200
    r = c.ok("DELETE", "/vbanks/" + v2["imp_uid"])
    assert r["status"] == "cancelled" and r["cancelled_at"] > 0
    assert c.api("DELETE", "/vbanks/imp_1")[0] == 404
    card = approve(c, "o5", 10)
    assert c.api("PUT", "/vbanks/" + card["imp_uid"], {"amount": 1})[0] == 400


# --------------------------------------------------------------------------
# billing keys and non-authenticated payments
# --------------------------------------------------------------------------

def test_billing_key(c, fake):
    status, env = issue_key(c, "cust1", customer_name="김철수")
    assert (status, env["code"]) == (200, 0)
    cu = env["response"]
    assert cu["card_number"] == "536112******4321" and cu["card_name"] and cu["card_code"]
    assert cu["customer_name"] == "김철수" and cu["sandbox"] is False
    assert cu["inserted"] > 0 and cu["pg_provider"] and cu["pg_id"]
    state = json.dumps(c.ctl("GET", "state"))
    for secret in ("5361-1234-5678-4321", "5361123456784321", "2031-07", "900101"):
        assert secret not in state
    assert c.ok("GET", "/subscribe/customers/cust1")["card_number"] == "536112******4321"
    status, env = issue_key(c, "cust2", card="4111-1111-1111-0000")
    assert (status, env["code"], env["message"]) == (200, -1, "카드정보 인증에 실패하였습니다.")
    status, env = c.api("GET", "/subscribe/customers/cust2")
    assert (status, env["code"]) == (404, -1)
    assert env["message"] == "요청하신 customer_uid(cust2)로 등록된 정보를 찾을 수 없습니다."
    status, env = c.api("GET", "/subscribe/customers?customer_uid[]=cust1&customer_uid[]=cust2")
    assert status == 207 and [x["customer_uid"] for x in env["response"]] == ["cust1"]
    status, env = c.api("POST", "/subscribe/customers/cust3", {"expiry": "2031-07"})
    assert status == 400 and env["message"] == "파라미터 누락: card_number"
    assert c.ok("DELETE", "/subscribe/customers/cust1")["customer_uid"] == "cust1"
    assert c.api("GET", "/subscribe/customers/cust1")[0] == 404
    log = fake["log"].read_text()
    assert "5361123456784321" not in log and "5678-4321" not in log and "2031-07" not in log


def test_again_and_onetime(c):
    issue_key(c, "cust1", customer_email="a@example.com")
    p = c.ok("POST", "/subscribe/payments/again", {"customer_uid": "cust1", "merchant_uid": "a1",
                                                   "amount": 9900, "name": "월 구독"})
    assert p["status"] == "paid" and p["channel"] == "api" and p["customer_uid"] == "cust1"
    assert p["customer_uid_usage"] == "payment" and p["card_number"] == "536112******4321"
    assert p["buyer_email"] == "a@example.com"
    status, env = c.api("POST", "/subscribe/payments/again", {"customer_uid": "nobody",
                                                              "merchant_uid": "a2",
                                                              "amount": 1, "name": "x"})
    assert env["code"] == -1 and "등록되지 않은 구매자입니다." in env["message"]
    status, env = c.api("POST", "/subscribe/payments/again", {"customer_uid": "cust1",
                                                              "merchant_uid": "a3", "amount": 1})
    assert status == 400 and env["message"] == "파라미터 누락: name"
    o = c.ok("POST", "/subscribe/payments/onetime", {"merchant_uid": "ot1", "amount": 500,
                                                     "card_number": CARD, "expiry": "2031-01"})
    assert o["status"] == "paid" and o["card_number"] == "536112******4321"
    status, env = c.api("POST", "/subscribe/payments/onetime", {
        "merchant_uid": "ot2", "amount": 500, "card_number": "1234-5678-9012-0000",
        "expiry": "2031-01"})
    assert env["code"] == -1 and "카드정보 인증에 실패하였습니다." in env["message"]


# --------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------

def test_schedule_unschedule_run(c, hooks):
    now = int(time.time())
    sched = [{"merchant_uid": "s1", "schedule_at": now + 3600, "amount": 1000, "name": "1회차"},
             {"merchant_uid": "s2", "schedule_at": now + 7200, "amount": 1000, "name": "2회차"},
             {"merchant_uid": "s3", "schedule_at": now + 9000, "amount": 1000, "name": "3회차"}]
    status, env = c.api("POST", "/subscribe/payments/schedule",
                        {"customer_uid": "cust1", "schedules": sched})
    assert (env["code"], env["message"]) == (1, "등록된 고객정보가 없습니다.")
    issue_key(c, "cust1")
    res = c.ok("POST", "/subscribe/payments/schedule/", {"customer_uid": "cust1",
                                                         "schedules": sched})
    assert [r["schedule_status"] for r in res] == ["scheduled"] * 3
    r = res[0]
    assert r["imp_uid"] is None and r["executed_at"] == 0 and r["revoked_at"] == 0
    assert r["payment_status"] is None and r["customer_uid"] == "cust1" and r["amount"] == 1000
    status, env = c.api("POST", "/subscribe/payments/schedule",
                        {"customer_uid": "cust1", "schedules": sched[:1]})
    assert env["code"] == 1                                                  # duplicate
    status, env = c.api("POST", "/subscribe/payments/schedule", {
        "customer_uid": "cust1",
        "schedules": [{"merchant_uid": "old", "schedule_at": now - 10, "amount": 1}]})
    assert env["code"] == 1                                                  # in the past
    # form-encoded, PHP-style brackets
    r = c.ok("POST", "/subscribe/payments/schedule", {
        "customer_uid": "cust1", "schedules[0][merchant_uid]": "s4",
        "schedules[0][schedule_at]": now + 100, "schedules[0][amount]": 5}, form=True)
    assert r[0]["merchant_uid"] == "s4" and r[0]["amount"] == 5
    assert c.ok("GET", "/subscribe/payments/schedule/s2")["schedule_at"] == now + 7200
    assert c.api("GET", "/subscribe/payments/schedule/zzz")[0] == 404

    revoked = c.ok("POST", "/subscribe/payments/unschedule",
                   {"customer_uid": "cust1", "merchant_uid": ["s3"]})
    assert [(x["merchant_uid"], x["schedule_status"]) for x in revoked] == [("s3", "revoked")]
    assert revoked[0]["revoked_at"] > 0
    status, env = c.api("POST", "/subscribe/payments/unschedule",
                        {"customer_uid": "cust1", "merchant_uid": "s3"})
    assert (env["code"], env["message"]) == (1, "취소할 예약결제 기록이 존재하지 않습니다.")

    out = c.ctl("POST", "run_schedule", {"merchant_uid": "s1"})
    assert out["payment"]["status"] == "paid" and out["webhook_status"] == 200
    assert out["payment"]["customer_uid_usage"] == "payment.scheduled"
    assert hooks.received[-1][2] == {"imp_uid": out["imp_uid"], "merchant_uid": "s1",
                                     "status": "paid"}
    s1 = c.ok("GET", "/subscribe/payments/schedule/s1")
    assert (s1["schedule_status"], s1["payment_status"], s1["imp_uid"]) == \
        ("executed", "paid", out["imp_uid"]) and s1["executed_at"] > 0
    out = c.ctl("POST", "run_schedule", {"merchant_uid": "s2", "fail": True})
    assert out["payment"]["status"] == "failed" and out["payment"]["fail_reason"]
    assert hooks.received[-1][2]["status"] == "failed"

    page = c.ok("GET", "/subscribe/payments/schedule/customers/cust1?from=%d&to=%d"
                % (now, now + 10000))
    assert page["total"] == 4 and [x["merchant_uid"] for x in page["list"]] == \
        ["s3", "s2", "s1", "s4"]
    page = c.ok("GET", "/subscribe/payments/schedule/customers/cust1?schedule_from=%d"
                "&schedule_to=%d&schedule-status=executed" % (now, now + 10000))
    assert page["total"] == 2
    page = c.ok("GET", "/subscribe/payments/schedule?schedule_from=%d&schedule_to=%d"
                "&schedule_status=scheduled" % (now, now + 10000))
    assert [x["merchant_uid"] for x in page["list"]] == ["s4"]
    status, env = c.api("GET", "/subscribe/payments/schedule/customers/cust1")
    assert status == 400 and env["message"].startswith("파라미터 누락:")
    left = c.ok("POST", "/subscribe/payments/unschedule", {"customer_uid": "cust1"})
    assert [x["merchant_uid"] for x in left] == ["s4"]


# --------------------------------------------------------------------------
# failure injection, counters, connections
# --------------------------------------------------------------------------

def test_fail_next_and_delay_next(c):
    c.get_token()
    c.ctl("POST", "fail_next", {"path_prefix": "/banks", "status": 503, "count": 2})
    assert c.api("GET", "/cards")[0] == 200
    for _ in range(2):
        status, env = c.api("GET", "/banks")
        assert status == 503 and env["code"] == -1 and env["response"] is None
    assert c.api("GET", "/banks")[0] == 200
    c.ctl("POST", "fail_next", {"code": 1, "message": "PG 점검중"})
    status, env = c.api("GET", "/banks")
    assert (status, env["code"], env["message"]) == (200, 1, "PG 점검중")
    c.ctl("POST", "delay_next", {"path_prefix": "/cards", "seconds": 0.6})
    t0 = time.monotonic()
    assert c.api("GET", "/cards")[0] == 200
    assert time.monotonic() - t0 >= 0.6
    t0 = time.monotonic()
    c.api("GET", "/cards")
    assert time.monotonic() - t0 < 0.5
    c.ctl("POST", "fail_next", {"path_prefix": "/cards", "disconnect": True})
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        c.api("GET", "/cards")


def test_counts_and_keepalive_connections(fake, c):
    c.ctl("POST", "reset_counts")
    one = Client(fake["port"])
    one.get_token()
    for _ in range(3):
        assert one.api("GET", "/payments/imp_1")[0] == 404
    one.ok("GET", "/banks")
    counts = one.ctl("GET", "counts")
    assert counts == {"POST /users/getToken": 1, "GET /payments/{imp_uid}": 3,
                      "GET /banks": 1, "connections": 1}
    one.conn.close()


def test_many_concurrent_requests(fake, c):
    c.get_token()
    tok = c.token

    def one(i):
        conn = http.client.HTTPConnection("127.0.0.1", fake["port"], timeout=60)
        conn.request("GET", "/cards/361", headers={"Authorization": tok})
        r = conn.getresponse()
        body = json.loads(r.read())
        conn.close()
        return r.status, body["response"]["code"]

    with ThreadPoolExecutor(200) as ex:
        results = list(ex.map(one, range(1000)))
    assert results == [(200, "361")] * 1000


# --------------------------------------------------------------------------
# webhooks
# --------------------------------------------------------------------------

def test_control_webhook_json_and_form(c, hooks):
    out = c.ctl("POST", "webhook", {"imp_uid": "imp_1", "merchant_uid": "m1", "status": "paid"})
    assert out["ok"] and out["status"] == 200 and out["body"] == '{"ok":true}'
    path, ctype, body = hooks.received[-1]
    assert path == "/hook" and ctype == "application/json"
    assert body == {"imp_uid": "imp_1", "merchant_uid": "m1", "status": "paid"}
    hooks.status = 503
    out = c.ctl("POST", "webhook", {"url": hooks.url + "?x=1", "imp_uid": "imp_2",
                                    "merchant_uid": "m2", "status": "cancelled",
                                    "cancellation_id": "cx", "form": True})
    assert out["status"] == 503
    path, ctype, body = hooks.received[-1]
    assert path == "/hook?x=1" and ctype == "application/x-www-form-urlencoded"
    assert body == {"imp_uid": "imp_2", "merchant_uid": "m2", "status": "cancelled",
                    "cancellation_id": "cx"}
    hooks.status = 200
    out = c.ctl("POST", "approve", {"merchant_uid": "w1", "amount": 10, "webhook": True})
    assert out["webhook_status"] == 200 and hooks.received[-1][2]["status"] == "paid"
    n = len(hooks.received)
    c.ctl("POST", "approve", {"merchant_uid": "w2", "amount": 10})          # no webhook asked
    assert len(hooks.received) == n
    c.ctl("POST", "set_webhook_url", {"url": hooks.url, "form": True})
    c.ctl("POST", "approve", {"merchant_uid": "w3", "amount": 10, "webhook": True})
    assert hooks.received[-1][1] == "application/x-www-form-urlencoded"
    assert len(c.ctl("GET", "state")["webhooks"]) >= 3


def test_log_has_no_secrets(fake, c):
    tok = c.get_token()["access_token"]
    c.ok("GET", "/banks")
    issue_key(c, "logcheck")
    log = fake["log"].read_text()
    assert "POST /users/getToken 200" in log
    assert SECRET not in log and tok not in log
    assert "5361123456784321" not in log and "5678-4321" not in log


# --------------------------------------------------------------------------
# TLS and process lifecycle (own fake processes)
# --------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "2",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    proc, port, _ = start_fake(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        cl = Client(port, https_ctx=ctx)
        t = cl.get_token()
        assert t["access_token"]
        assert cl.ok("GET", "/cards/366")["name"] == "신한카드"
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(str(cert))
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises((ssl.SSLError, ConnectionError)):
            Client(port, https_ctx=old).get_token()
        with pytest.raises((ssl.SSLError, ConnectionError)):        # unknown CA is refused
            Client(port, https_ctx=ssl.create_default_context()).get_token()
        cl.conn.close()
    finally:
        assert stop_fake(proc) == 0


def test_sigterm_and_port_file(tmp_path):
    proc, port, log = start_fake(tmp_path)
    with socket.create_connection(("127.0.0.1", port)):
        pass
    assert stop_fake(proc) == 0
    assert "stopped" in log.read_text()
