#!/usr/bin/python3
"""fake_portone.py - a stateful fake of PortOne's (iamport) V1 REST API.

Used only by mod_dockpay's integration tests; the real API is never reachable
from the test machines.  Python 3 standard library only.

    /usr/bin/python3 t/fake_portone.py --host 127.0.0.1 --port 0 --port-file FILE \
        --imp-key KEY --imp-secret SECRET [--token-ttl 1800] \
        [--tls-cert CERT.pem --tls-key KEY.pem] [--webhook-url URL] [--log FILE]

Behaviour follows docs/portone-v1.md §1-§7.  Test-only
control routes live under /__control/ (see t/fake/README.md).

Secrets: the fake never logs request bodies, headers, tokens or imp_secret
(a log line is "time METHOD /path STATUS"), and it never keeps raw card data:
card numbers are masked on arrival, expiry/birth/pwd_2digit are dropped.
"""

import argparse
import copy
import hmac
import http.client
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# --------------------------------------------------------------------------
# Reference data (docs/portone-v1.md §7)
# --------------------------------------------------------------------------

BANKS = {
    "002": "KDB산업은행", "003": "IBK기업은행", "004": "KB국민은행", "005": "KEB외환은행",
    "007": "수협은행", "011": "NH농협은행", "012": "지역농축협", "020": "우리은행",
    "023": "SC제일은행", "027": "한국씨티은행", "031": "대구은행", "032": "부산은행",
    "034": "광주은행", "035": "제주은행", "037": "전북은행", "039": "경남은행",
    "045": "새마을금고", "048": "신협", "071": "우체국", "081": "하나은행",
    "088": "신한은행", "089": "케이뱅크", "090": "카카오뱅크", "092": "토스뱅크",
    "209": "유안타증권", "218": "현대증권", "230": "미래에셋증권", "238": "대우증권",
    "240": "삼성증권", "243": "한국투자증권", "247": "우리투자증권", "261": "교보증권",
    "262": "하이투자증권", "263": "HMC투자증권", "264": "키움증권", "265": "이트레이드증권",
    "266": "SK증권", "267": "대신증권", "268": "솔로몬투자증권", "269": "한화증권",
    "270": "하나대투증권", "278": "굿모닝신한증권", "279": "동부증권", "280": "유진투자증권",
    "287": "메리츠증권", "289": "NH투자증권", "290": "부국증권",
}

CARDS = {
    "361": "BC카드", "381": "KB국민카드", "367": "현대카드", "365": "삼성카드",
    "368": "롯데카드", "371": "NH농협카드", "041": "우리카드", "374": "하나카드",
    "045": "새마을금고", "373": "제주은행", "364": "광주은행", "366": "신한카드",
    "002": "KDB산업은행", "369": "수협", "048": "신협", "370": "씨티카드",
    "071": "우체국", "089": "케이뱅크", "372": "전북은행", "090": "카카오뱅크",
}

PAYMENT_STATUSES = ("ready", "paid", "cancelled", "failed")
SCHEDULE_STATUSES = ("scheduled", "executed", "revoked")

MSG_NO_PAYMENT = "존재하지 않는 결제정보입니다."
MSG_NO_PREPARE = "사전등록된 결제정보가 존재하지 않습니다."
MSG_DUP_PREPARE = "결제정보 사전등록에 실패하였습니다(이미 등록된 merchant_uid입니다)."
MSG_CANCEL_WHO = "imp_uid 또는 merchant_uid 중 하나는 지정해주셔야합니다."
MSG_CANCEL_NONE = "취소할 결제건이 존재하지 않습니다."
MSG_CANCEL_DONE = "이미 전액취소된 주문입니다."
MSG_CARD_AUTH = "카드정보 인증에 실패하였습니다."
MSG_NO_BUYER = "등록되지 않은 구매자입니다."
MSG_NO_CUSTOMER = "등록된 고객정보가 없습니다."
MSG_NO_UNSCHEDULE = "취소할 예약결제 기록이 존재하지 않습니다."
MSG_ALREADY_PAID = "이미 결제완료된 merchant_uid입니다."


class ApiError(Exception):
    """An error answered as a PortOne envelope."""

    def __init__(self, http_status, code, message):
        super().__init__(message)
        self.http_status, self.code, self.message = http_status, code, message


class ControlError(Exception):
    """An error answered by a control route: {"ok": false, "error": ...}."""

    def __init__(self, http_status, message):
        super().__init__(message)
        self.http_status, self.message = http_status, message


class Reply:
    """A successful envelope with a non-200 HTTP status (207) or a message."""

    def __init__(self, response, http_status=200, message=None):
        self.response, self.http_status, self.message = response, http_status, message


def not_found(message=MSG_NO_PAYMENT):
    return ApiError(404, -1, message)


def business(message, code=1):
    return ApiError(200, code, message)


# --------------------------------------------------------------------------
# Parameter parsing and validation
# --------------------------------------------------------------------------

def parse_form(text):
    """application/x-www-form-urlencoded with PHP-style brackets:
    a[]=1&a[]=2 -> {"a": ["1","2"]}; s[0][k]=v -> {"s": [{"k": "v"}]}."""
    root = {}
    for key, val in urllib.parse.parse_qsl(text, keep_blank_values=True):
        m = re.match(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$", key)
        segs = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2)) if m else [key]
        node = root
        for i, seg in enumerate(segs):
            if seg == "":
                seg = str(len(node))
            if i == len(segs) - 1:
                if seg in node and i == 0:      # repeated plain key -> list
                    old = node[seg]
                    node[seg] = (old if isinstance(old, list) else [old]) + [val]
                else:
                    node[seg] = val
            else:
                if not isinstance(node.get(seg), dict):
                    node[seg] = {}
                node = node[seg]
    return _listify(root)


def _listify(v):
    if isinstance(v, list):
        return [_listify(x) for x in v]
    if isinstance(v, dict):
        v = {k: _listify(x) for k, x in v.items()}
        if v and all(k.isdigit() for k in v):
            return [v[k] for k in sorted(v, key=int)]
    return v


TYPE_WORDS = {"string": "문자열", "number": "숫자", "integer": "정수", "boolean": "boolean",
              "array": "배열", "object": "객체"}


def type_error(name, typ):
    return ApiError(400, -1, "파라미터 타입 오류: %s 은(는) %s 형식이어야 합니다. (%s must be %s)"
                    % (name, TYPE_WORDS[typ], name, "an " + typ if typ[0] in "aeio" else "a " + typ))


NUM_RE = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def coerce(name, v, typ):
    if typ == "string":
        if isinstance(v, bool) or isinstance(v, (dict, list)):
            raise type_error(name, typ)
        return v if isinstance(v, str) else str(v)
    if typ in ("number", "integer"):
        if isinstance(v, bool):
            raise type_error(name, typ)
        if isinstance(v, str):
            if not NUM_RE.match(v):
                raise type_error(name, typ)
            v = float(v)
        if not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
            raise type_error(name, typ)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if typ == "integer" and not isinstance(v, int):
            raise type_error(name, typ)
        return v
    if typ == "boolean":
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false", "1", "0"):
            return v.lower() in ("true", "1")
        if isinstance(v, int) and v in (0, 1):
            return bool(v)
        raise type_error(name, typ)
    if typ == "array":
        if isinstance(v, str):
            if v.startswith("["):
                try:
                    v = json.loads(v)
                except ValueError:
                    raise type_error(name, typ)
            else:
                return [v]
        if not isinstance(v, list):
            raise type_error(name, typ)
        return v
    if typ == "object":
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                raise type_error(name, typ)
        if not isinstance(v, dict):
            raise type_error(name, typ)
        return v
    raise ValueError(typ)


def field(body, name, typ="string", required=False, default=None):
    v = body.get(name)
    if v is None or v == "":
        if required:
            raise ApiError(400, -1, "파라미터 누락: %s" % name)
        return default
    return coerce(name, v, typ)


def positive(name, v):
    if v is not None and v <= 0:
        raise ApiError(400, -1, "파라미터 오류: %s 은(는) 0보다 커야 합니다. (%s must be > 0)" % (name, name))
    return v


def qlist(query, name):
    return query.get(name + "[]", []) + query.get(name, [])


def qone(query, *names):
    for n in names:
        if query.get(n):
            return query[n][-1]
    return None


def qint(query, names, default=None, required=False, lo=None, hi=None):
    names = (names,) if isinstance(names, str) else names
    raw = qone(query, *names)
    if raw is None or raw == "":
        if required:
            raise ApiError(400, -1, "파라미터 누락: %s" % names[0])
        return default
    if not re.match(r"^-?\d+$", raw):
        raise type_error(names[0], "integer")
    v = int(raw)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ApiError(400, -1, "파라미터 오류: %s 의 범위가 올바르지 않습니다. (%s out of range)"
                       % (names[0], names[0]))
    return v


def paged(items, page, limit):
    start = (page - 1) * limit
    return {"total": len(items), "previous": page - 1 if page > 1 else 0,
            "next": page + 1 if start + limit < len(items) else 0,
            "list": items[start:start + limit]}


def normalise_bank(code):
    """2-digit, BKnn or 3-digit bank code -> KFTC 3-digit code."""
    code = (code or "").strip().upper()
    if re.fullmatch(r"BK\d\d", code):
        code = "0" + code[2:]
    elif re.fullmatch(r"\d\d", code):
        code = "0" + code
    return code if re.fullmatch(r"\d{3}", code) else None


def pg_of(body, default_provider, default_id):
    """The legacy `pg` parameter is "{pg_provider}" or "{pg_provider}.{MID}"."""
    pg = body.get("pg")
    if isinstance(pg, str) and pg:
        provider, _, mid = pg.partition(".")
        return provider, mid or default_id
    return default_provider, default_id


def notice_url(body):
    v = body.get("notice_url")
    if isinstance(v, list):
        v = v[0] if v else None
    return v if isinstance(v, str) and v else None


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------

class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.token_ttl = self.args.token_ttl
            self.webhook_url = self.args.webhook_url
            self.webhook_form = False
            self.token = None            # {"access_token", "expired_at"}
            self.payments = {}           # imp_uid -> payment (with private "_seq", "_updated")
            self.prepares = {}           # merchant_uid -> {merchant_uid, amount, currency}
            self.customers = {}          # customer_uid -> customer (masked card only)
            self.schedules = {}          # merchant_uid -> schedule
            self.webhooks = []           # log of webhooks sent
            self.fail_rules = []
            self.delay_rules = []
            self.seq = 0
            self.reset_counts()

    def reset_counts(self):
        with self.lock:
            self.counts = {}
            self.subject_counts = {}     # (route, imp_uid/merchant_uid/customer_uid) -> calls acted on
            self.connections = 0

    def next_seq(self):
        self.seq += 1
        return self.seq

    def new_imp_uid(self):
        while True:
            uid = "imp_%012d" % random.randrange(10 ** 12)
            if uid not in self.payments:
                return uid

    # -- tokens (docs/portone-v1.md §1.2) --
    def get_token(self, now):
        t = self.token
        if t and now < t["expired_at"]:
            if t["expired_at"] - now < 60:
                t["expired_at"] += 300
            return t
        self.token = {"access_token": secrets.token_hex(20),
                      "expired_at": int(now) + self.token_ttl}
        return self.token

    def token_valid(self, token):
        t = self.token
        return bool(token and t and hmac.compare_digest(token.encode(), t["access_token"].encode())
                    and time.time() < t["expired_at"])

    # -- test hooks --
    def take_rule(self, rules, path):
        for rule in rules:
            if path.startswith(rule["path_prefix"]):
                rule["count"] -= 1
                if rule["count"] <= 0:
                    rules.remove(rule)
                return dict(rule)
        return None


STATE = None        # set in main()
LOGGER = None


# --------------------------------------------------------------------------
# Rendering and creation of payments
# --------------------------------------------------------------------------

def public(obj):
    return copy.deepcopy({k: v for k, v in obj.items() if not k.startswith("_")})


def new_payment(st, merchant_uid, amount, now, **kw):
    """Create and store a payment; kw overrides any field."""
    imp_uid = st.new_imp_uid()
    p = {
        "imp_uid": imp_uid, "merchant_uid": merchant_uid, "pay_method": "card",
        "channel": "pc", "pg_provider": "html5_inicis", "emb_pg_provider": None,
        "pg_tid": "tid_%s" % secrets.token_hex(10), "pg_id": "INIpayTest",
        "sandbox": False, "escrow": False, "apply_num": "", "bank_code": None, "bank_name": None,
        "card_code": None, "card_name": None, "card_issuer_code": None, "card_issuer_name": None,
        "card_publisher_code": None, "card_publisher_name": None, "card_quota": 0,
        "card_number": None, "card_type": None,
        "vbank_code": None, "vbank_name": None, "vbank_num": None, "vbank_holder": None,
        "vbank_date": 0, "vbank_issued_at": 0,
        "name": None, "amount": amount, "cancel_amount": 0, "currency": "KRW",
        "buyer_name": None, "buyer_email": None, "buyer_tel": None, "buyer_addr": None,
        "buyer_postcode": None, "custom_data": None, "user_agent": "sorry_not_supported",
        "status": "paid", "started_at": now, "paid_at": 0, "failed_at": 0, "cancelled_at": 0,
        "fail_reason": None, "cancel_reason": None,
        "receipt_url": "https://fake-portone.invalid/receipts/%s" % imp_uid,
        "cancel_history": [], "deposit_history": [], "cancel_receipt_urls": [],
        "cash_receipt_issued": False, "customer_uid": None, "customer_uid_usage": None,
        "promotion": None,
    }
    p.update(kw)
    if p["pay_method"] == "card" and p["card_code"] is None and p["status"] != "failed":
        p.update(card_code="361", card_name=CARDS["361"], card_number="910020******1234",
                 card_type=0)
    if p["status"] == "paid":
        p["paid_at"] = p["paid_at"] or now
        if p["pay_method"] == "card":
            p["apply_num"] = p["apply_num"] or "%08d" % random.randrange(10 ** 8)
    elif p["status"] == "failed":
        p["failed_at"] = p["failed_at"] or now
        p["fail_reason"] = p["fail_reason"] or "[fake] 결제가 실패하였습니다."
    p["_seq"], p["_updated"] = st.next_seq(), now
    st.payments[imp_uid] = p
    return p


def copy_buyer(dst, body, customer=None):
    for f in ("name", "email", "tel", "addr", "postcode"):
        v = body.get("buyer_" + f)
        if (v is None or v == "") and customer:
            v = customer.get("customer_" + f)
        dst["buyer_" + f] = coerce("buyer_" + f, v, "string") if v not in (None, "") else None


SORT_FIELDS = {"started": "started_at", "paid": "paid_at", "updated": "_updated"}


def sort_payments(items, sorting):
    sorting = sorting or "-started"
    desc = sorting.startswith("-")
    key = SORT_FIELDS.get(sorting.lstrip("-"))
    if key is None:
        raise ApiError(400, -1, "지원되지 않는 정렬 기준입니다. (sorting: %s)" % sorting)
    return sorted(items, key=lambda p: (p[key], p["_seq"]), reverse=desc)


def payments_of_merchant(st, merchant_uid, status=None):
    if status is not None and status not in PAYMENT_STATUSES:
        raise ApiError(400, -1, "지원되지 않는 상태값입니다.")
    return [p for p in st.payments.values()
            if p["merchant_uid"] == merchant_uid and (status is None or p["status"] == status)]


def paid_exists(st, merchant_uid):
    return any(p["status"] == "paid" for p in payments_of_merchant(st, merchant_uid))


# --------------------------------------------------------------------------
# Webhooks
# --------------------------------------------------------------------------

def send_webhook(url, payload, form=False, timeout=10):
    """POST one webhook; returns (http_status, body_text). Raises OSError etc."""
    u = urllib.parse.urlsplit(url)
    conn_cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
    kwargs = {"context": ssl._create_unverified_context()} if u.scheme == "https" else {}
    conn = conn_cls(u.hostname, u.port, timeout=timeout, **kwargs)
    if form:
        data = urllib.parse.urlencode(payload).encode()
        ctype = "application/x-www-form-urlencoded"
    else:
        data = json.dumps(payload, ensure_ascii=False).encode()
        ctype = "application/json"
    try:
        conn.request("POST", (u.path or "/") + ("?" + u.query if u.query else ""), body=data,
                     headers={"Content-Type": ctype, "User-Agent": "fake-portone-webhook"})
        resp = conn.getresponse()
        return resp.status, resp.read(4096).decode("utf-8", "replace")
    finally:
        conn.close()


def deliver(st, url, payment, status, cancellation_id=None, form=None):
    """Send a webhook now (caller must not hold the lock); record it; return the HTTP status."""
    if not url:
        return None
    payload = {"imp_uid": payment["imp_uid"], "merchant_uid": payment["merchant_uid"],
               "status": status}
    if cancellation_id:
        payload["cancellation_id"] = cancellation_id
    form = st.webhook_form if form is None else form
    entry = dict(payload, url=url, form=form, sent_at=int(time.time()), http_status=None,
                 error=None)
    try:
        entry["http_status"], entry["body"] = send_webhook(url, payload, form)
    except Exception as e:                       # network errors are expected in tests
        entry["error"] = "%s: %s" % (type(e).__name__, e)
    with st.lock:
        st.webhooks.append(entry)
    LOGGER.write("webhook %s -> %s %s" % (status, url.split("?")[0],
                                          entry["http_status"] or entry["error"]))
    return entry["http_status"]


def deliver_async(st, url, payment, status, cancellation_id=None):
    if url:
        snapshot = {"imp_uid": payment["imp_uid"], "merchant_uid": payment["merchant_uid"]}
        threading.Thread(target=deliver, args=(st, url, snapshot, status, cancellation_id),
                         daemon=True).start()


# --------------------------------------------------------------------------
# /users/getToken
# --------------------------------------------------------------------------

def h_get_token(st, req):
    key, secret = req.body.get("imp_key"), req.body.get("imp_secret")
    if not key or not secret:
        raise ApiError(400, -1, "imp_key, imp_secret 파라메터가 누락되었습니다.")
    if not isinstance(key, str) or not isinstance(secret, str):
        raise ApiError(400, -1, "파라미터 타입 오류: imp_key, imp_secret 은(는) 문자열이어야 합니다.")
    ok_key = hmac.compare_digest(key.encode(), st.args.imp_key.encode())
    ok_secret = hmac.compare_digest(secret.encode(), st.args.imp_secret.encode())
    if not (ok_key and ok_secret):
        raise ApiError(401, -1, "Unauthorized")
    now = time.time()
    with st.lock:
        t = st.get_token(now)
        return {"access_token": t["access_token"], "now": int(now), "expired_at": t["expired_at"]}


# --------------------------------------------------------------------------
# Payments lookup
# --------------------------------------------------------------------------

def h_payment(st, req):
    with st.lock:
        p = st.payments.get(req.params["imp_uid"])
        if not p:
            raise not_found()
        return public(p)


def h_find(st, req):
    status = req.params.get("payment_status")
    with st.lock:
        items = payments_of_merchant(st, req.params["merchant_uid"], status)
        sorting = qone(req.query, "sorting") or "-started"
        if status and not qone(req.query, "sorting"):
            sorting = "-updated"                      # "the latest one in that status"
        items = sort_payments(items, sorting)
        if not items:
            raise not_found()
        return public(items[0])


def h_find_all(st, req):
    status = req.params.get("payment_status")
    page = qint(req.query, "page", 1, lo=1)
    limit = qint(req.query, "limit", 20, lo=1, hi=1000)
    with st.lock:
        items = sort_payments(payments_of_merchant(st, req.params["merchant_uid"], status),
                              qone(req.query, "sorting"))
        if not items:
            raise not_found()
        result = paged(items, page, limit)
        result["list"] = [public(p) for p in result["list"]]
        return result


def h_payments_multi(st, req):
    imp_uids, merchant_uids = qlist(req.query, "imp_uid"), qlist(req.query, "merchant_uid")
    if not imp_uids and not merchant_uids:
        raise ApiError(400, -1, "파라미터 누락: imp_uid[] 또는 merchant_uid[]")
    if len(imp_uids) + len(merchant_uids) > 100:
        raise ApiError(400, -1, "한번에 최대 100건까지 조회할 수 있습니다.")
    found, missing = [], []
    with st.lock:
        for uid in imp_uids:
            p = st.payments.get(uid)
            (found.append(public(p)) if p else missing.append(uid))
        for mu in merchant_uids:
            items = sort_payments(payments_of_merchant(st, mu), "-started")
            (found.append(public(items[0])) if items else missing.append(mu))
    if not found:
        raise not_found()
    if missing:
        return Reply(found, 207, "일부 결제정보를 찾을 수 없습니다: " + ", ".join(missing))
    return found


STATUS_TIME = {"ready": "started_at", "paid": "paid_at", "cancelled": "cancelled_at",
               "failed": "failed_at"}


def h_payments_by_status(st, req):
    status = req.params["payment_status"]
    if status not in PAYMENT_STATUSES + ("all",):
        raise ApiError(400, -1, "지원되지 않는 상태값입니다.")
    page = qint(req.query, "page", 1, lo=1)
    limit = qint(req.query, "limit", 20, lo=1, hi=1000)
    to = qint(req.query, "to", int(time.time()))
    frm = qint(req.query, "from", to - 90 * 86400)
    with st.lock:
        items = [p for p in st.payments.values()
                 if (status == "all" or p["status"] == status)
                 and frm <= p[STATUS_TIME[p["status"]]] <= to]
        items = sort_payments(items, qone(req.query, "sorting"))
        result = paged(items, page, limit)
        result["list"] = [public(p) for p in result["list"]]
        return result


# --------------------------------------------------------------------------
# Prepare (amount pre-registration)
# --------------------------------------------------------------------------

def prepare_fields(body):
    mu = field(body, "merchant_uid", required=True)
    amount = field(body, "amount", "number", required=True)
    if amount < 0:
        raise ApiError(400, -1, "파라미터 오류: amount 은(는) 0 이상이어야 합니다.")
    return {"merchant_uid": mu, "amount": amount, "currency": field(body, "currency")}


def h_prepare(st, req):
    rec = prepare_fields(req.body)
    with st.lock:
        if rec["merchant_uid"] in st.prepares:
            raise business(MSG_DUP_PREPARE)
        st.prepares[rec["merchant_uid"]] = rec
        return dict(rec)


def h_prepare_update(st, req):
    rec = prepare_fields(req.body)
    with st.lock:
        if rec["merchant_uid"] not in st.prepares:
            raise not_found(MSG_NO_PREPARE)
        st.prepares[rec["merchant_uid"]] = rec
        return dict(rec)


def h_prepare_get(st, req):
    with st.lock:
        rec = st.prepares.get(req.params["merchant_uid"])
        if not rec:
            raise not_found(MSG_NO_PREPARE)
        return dict(rec)


# --------------------------------------------------------------------------
# Cancel
# --------------------------------------------------------------------------

def h_cancel(st, req):
    b = req.body
    imp_uid, mu = field(b, "imp_uid"), field(b, "merchant_uid")
    amount = field(b, "amount", "number")
    checksum = field(b, "checksum", "number")
    reason = field(b, "reason") or ""
    for name in ("tax_free", "vat_amount"):
        field(b, name, "number")
    for name in ("refund_holder", "refund_bank", "refund_account", "refund_tel"):
        field(b, name)
    enable_webhook = field(b, "enable_webhook", "boolean", default=False)
    if not imp_uid and not mu:
        raise business(MSG_CANCEL_WHO)
    if amount is not None and amount < 0:
        raise business("취소요청금액은 0보다 커야 합니다. (amount must be positive)")
    now = int(time.time())
    with st.lock:                          # check-and-apply is atomic
        if imp_uid:
            p = st.payments.get(imp_uid)
        else:
            cands = sort_payments(payments_of_merchant(st, mu), "-started")
            p = next((c for c in cands if c["status"] == "paid"), cands[0] if cands else None)
        if not p:
            raise business(MSG_CANCEL_NONE)
        if p["status"] == "cancelled":
            raise business(MSG_CANCEL_DONE)
        if p["status"] != "paid":
            raise business("결제완료(paid) 상태의 결제건만 취소할 수 있습니다 (현재 상태: %s). "
                           "미입금 가상계좌는 DELETE /vbanks/{imp_uid} 로 발급취소하세요." % p["status"])
        remainder = p["amount"] - p["cancel_amount"]
        if checksum is not None and checksum != remainder:
            raise business("[취소실패] 취소가능잔액 검증(checksum)에 실패하였습니다. 요청 checksum: %s, "
                           "취소가능잔액: %s (checksum mismatch)" % (checksum, remainder))
        cancel = remainder if not amount else amount
        if cancel > remainder:
            raise business("취소요청금액(%s)이 취소가능잔액(%s)보다 큽니다." % (cancel, remainder))
        cid = "cancel_%s" % secrets.token_hex(8)
        entry = {"pg_tid": "ctid_%s" % secrets.token_hex(10), "amount": cancel,
                 "cancelled_at": now, "reason": reason, "cancellation_id": cid,
                 "receipt_url": "https://fake-portone.invalid/receipts/%s/%s" % (p["imp_uid"], cid)}
        p["cancel_history"].append(entry)
        p["cancel_receipt_urls"].append(entry["receipt_url"])
        p["cancel_amount"] = p["cancel_amount"] + cancel
        p["cancel_reason"] = reason
        p["_updated"] = now
        if p["cancel_amount"] >= p["amount"]:
            p["status"], p["cancelled_at"] = "cancelled", now
        result = public(p)
    if enable_webhook:
        deliver_async(st, st.webhook_url, result, "cancelled", cid)
    return result


# --------------------------------------------------------------------------
# Virtual accounts
# --------------------------------------------------------------------------

def vbank_fields(code, holder, due, now):
    return {"pay_method": "vbank", "status": "ready", "vbank_code": code,
            "vbank_name": BANKS[code], "vbank_num": "562-%04d-%06d" % (random.randrange(10 ** 4), random.randrange(10 ** 6)),
            "vbank_holder": holder or "(주)페이크상점", "vbank_date": due, "vbank_issued_at": now}


def h_vbank_create(st, req):
    b = req.body
    mu = field(b, "merchant_uid", required=True)
    amount = positive("amount", field(b, "amount", "number", required=True))
    raw_code = field(b, "vbank_code", required=True)
    due = field(b, "vbank_due", "integer", required=True)
    holder, name = field(b, "vbank_holder"), field(b, "name")
    field(b, "channel_key")
    code = normalise_bank(raw_code)
    if code not in BANKS:
        raise business("가상계좌 발급에 실패하였습니다: 지원하지 않는 은행코드입니다 (%s)." % raw_code, -1)
    now = int(time.time())
    if due <= now:
        raise business("가상계좌 입금기한(vbank_due)은 현재시각 이후여야 합니다.")
    provider, pg_id = pg_of(b, "nice", "nictest00m")
    with st.lock:
        if paid_exists(st, mu):
            raise business(MSG_ALREADY_PAID)
        p = new_payment(st, mu, amount, now, channel="api", pg_provider=provider, pg_id=pg_id,
                        name=name, custom_data=field(b, "custom_data"),
                        **vbank_fields(code, holder, due, now))
        copy_buyer(p, b)
        result = public(p)
    deliver_async(st, notice_url(b) or st.webhook_url, result, "ready")
    return result


def ready_vbank(st, imp_uid):
    p = st.payments.get(imp_uid)
    if not p:
        raise not_found()
    if p["pay_method"] != "vbank":
        raise ApiError(400, -1, "가상계좌 결제건이 아닙니다.")
    if p["status"] != "ready":
        raise ApiError(400, -1, "입금대기(ready) 상태의 가상계좌가 아닙니다 (현재 상태: %s)." % p["status"])
    return p


def h_vbank_modify(st, req):
    amount = positive("amount", field(req.body, "amount", "integer"))
    due = field(req.body, "vbank_due", "integer")
    with st.lock:
        p = ready_vbank(st, req.params["imp_uid"])
        if amount is not None:
            p["amount"] = amount
        if due is not None:
            p["vbank_date"] = due
        p["_updated"] = int(time.time())
        return public(p)


def h_vbank_revoke(st, req):
    now = int(time.time())
    with st.lock:
        p = ready_vbank(st, req.params["imp_uid"])
        p.update(status="cancelled", cancelled_at=now, cancel_reason="가상계좌 발급취소", _updated=now)
        return public(p)


# --------------------------------------------------------------------------
# Billing keys (subscribe/customers)
# --------------------------------------------------------------------------

CARD_RE = re.compile(r"^\d{4}-?\d{4}-?\d{4}-?\d{2,7}$")


def check_card(b):
    """Validates card data and returns the masked number and card company.
    The raw values are never stored or logged."""
    number = field(b, "card_number", required=True)
    expiry = field(b, "expiry", required=True)
    birth, pwd = field(b, "birth"), field(b, "pwd_2digit")
    field(b, "cvc")
    digits = re.sub(r"\D", "", number)
    m = re.fullmatch(r"(\d{4})-?(\d{2})", expiry)
    now = time.localtime()
    if (not CARD_RE.match(number) or digits.endswith("0000") or not m
            or not 1 <= int(m.group(2)) <= 12
            or (int(m.group(1)), int(m.group(2))) < (now.tm_year, now.tm_mon)
            or (birth is not None and not re.fullmatch(r"\d{6}|\d{10}", birth))
            or (pwd is not None and not re.fullmatch(r"\d{2}", pwd))):
        raise business(MSG_CARD_AUTH, -1)
    codes = sorted(CARDS)
    code = codes[int(digits[:6]) % len(codes)]
    masked = digits[:6] + "*" * (len(digits) - 10) + digits[-4:]
    return {"card_number": masked, "card_code": code, "card_name": CARDS[code], "card_type": 0}


def customer_json(c):
    return public(c)


def find_customer(st, cu):
    c = st.customers.get(cu)
    if not c:
        raise not_found("요청하신 customer_uid(%s)로 등록된 정보를 찾을 수 없습니다." % cu)
    return c


def issue_customer(st, cu, b, now, customer_prefix="customer_"):
    """Create/replace a billing key (caller holds the lock)."""
    card = check_card(b)
    provider, pg_id = pg_of(b, "html5_inicis", "INIBillTst")
    old = st.customers.get(cu)
    c = {"customer_uid": cu, "pg_provider": provider, "pg_id": pg_id, "sandbox": False,
         "customer_id": field(b, "customer_id"),
         "card_issuer_code": None, "card_issuer_name": None, "card_publisher_code": None,
         "card_publisher_name": None, "inserted": old["inserted"] if old else now, "updated": now}
    c.update(card)
    for f in ("name", "tel", "email", "addr", "postcode"):
        c["customer_" + f] = field(b, customer_prefix + f)
    st.customers[cu] = c
    return c


def h_customer_issue(st, req):
    with st.lock:
        return customer_json(issue_customer(st, req.params["customer_uid"], req.body,
                                            int(time.time())))


def h_customer_get(st, req):
    with st.lock:
        return customer_json(find_customer(st, req.params["customer_uid"]))


def h_customer_delete(st, req):
    with st.lock:
        c = find_customer(st, req.params["customer_uid"])
        del st.customers[c["customer_uid"]]
        return customer_json(c)


def h_customers_multi(st, req):
    uids = qlist(req.query, "customer_uid")
    if not uids:
        raise ApiError(400, -1, "파라미터 누락: customer_uid[]")
    with st.lock:
        found = [customer_json(st.customers[u]) for u in uids if u in st.customers]
        missing = [u for u in uids if u not in st.customers]
    if not found:
        raise not_found("요청하신 customer_uid(%s)로 등록된 정보를 찾을 수 없습니다." % ", ".join(missing))
    if missing:
        return Reply(found, 207, "일부 customer_uid를 찾을 수 없습니다: " + ", ".join(missing))
    return found


def h_customer_payments(st, req):
    page = qint(req.query, "page", 1, lo=1)
    with st.lock:
        find_customer(st, req.params["customer_uid"])
        items = sort_payments([p for p in st.payments.values()
                               if p["customer_uid"] == req.params["customer_uid"]], "-started")
        result = paged(items, page, 20)
        result["list"] = [public(p) for p in result["list"]]
        return result


# --------------------------------------------------------------------------
# Non-authenticated payments (again / onetime)
# --------------------------------------------------------------------------

def card_payment_fields(c):
    return {k: c[k] for k in ("card_code", "card_name", "card_number", "card_type",
                              "pg_provider", "pg_id")}


def h_again(st, req):
    b = req.body
    cu = field(b, "customer_uid", required=True)
    mu = field(b, "merchant_uid", required=True)
    amount = positive("amount", field(b, "amount", "number", required=True))
    name = field(b, "name", required=True)
    currency = field(b, "currency") or "KRW"
    quota = field(b, "card_quota", "integer", default=0)
    for n in ("tax_free", "vat_amount"):
        field(b, n, "number")
    now = int(time.time())
    with st.lock:
        c = st.customers.get(cu)
        if not c:
            raise business("[결제실패] " + MSG_NO_BUYER, -1)
        if paid_exists(st, mu):
            raise business(MSG_ALREADY_PAID)
        p = new_payment(st, mu, amount, now, channel="api", name=name, currency=currency,
                        card_quota=quota, customer_uid=cu, customer_uid_usage="payment",
                        custom_data=field(b, "custom_data"), **card_payment_fields(c))
        copy_buyer(p, b, c)
        return public(p)


def h_onetime(st, req):
    b = req.body
    mu = field(b, "merchant_uid", required=True)
    amount = positive("amount", field(b, "amount", "number", required=True))
    cu = field(b, "customer_uid")
    now = int(time.time())
    with st.lock:
        if paid_exists(st, mu):
            raise business(MSG_ALREADY_PAID)
        if cu:
            card = issue_customer(st, cu, b, now, customer_prefix="buyer_")
        else:
            card = check_card(b)
            card["pg_provider"], card["pg_id"] = pg_of(b, "html5_inicis", "INIBillTst")
        p = new_payment(st, mu, amount, now, channel="api", name=field(b, "name"),
                        currency=field(b, "currency") or "KRW",
                        card_quota=field(b, "card_quota", "integer", default=0),
                        customer_uid=cu, customer_uid_usage="payment" if cu else None,
                        custom_data=field(b, "custom_data"), **card_payment_fields(card))
        copy_buyer(p, b)
        return public(p)


# --------------------------------------------------------------------------
# Scheduled payments
# --------------------------------------------------------------------------

def schedule_json(st, s):
    out = public(s)
    p = st.payments.get(s["imp_uid"]) if s["imp_uid"] else None
    if p:
        out["payment_status"] = p["status"]          # paid -> cancelled after a refund
    return out


def h_schedule(st, req):
    b = req.body
    cu = field(b, "customer_uid", required=True)
    items = field(b, "schedules", "array", required=True)
    has_card = bool(b.get("card_number"))
    now = int(time.time())
    new = []
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise type_error("schedules[%d]" % i, "object")
        mu = field(it, "merchant_uid", required=True)
        at = field(it, "schedule_at", "integer", required=True)
        amount = positive("amount", field(it, "amount", "number", required=True))
        s = {"customer_uid": cu, "merchant_uid": mu, "imp_uid": None, "pg_provider": None,
             "pg_id": None, "customer_id": field(b, "customer_id"), "schedule_at": at,
             "executed_at": 0, "revoked_at": 0, "amount": amount,
             "currency": field(it, "currency") or "KRW", "name": field(it, "name"),
             "custom_data": field(it, "custom_data"), "schedule_status": "scheduled",
             "payment_status": None, "fail_reason": None,
             "promotion_id": field(it, "promotion_id"), "_notice_url": notice_url(it)}
        for f in ("name", "email", "tel", "addr", "postcode"):
            s["buyer_" + f] = field(it, "buyer_" + f)
        new.append(s)
    if not new:
        raise ApiError(400, -1, "파라미터 누락: schedules")
    with st.lock:                       # validate everything, then store everything
        if cu not in st.customers and not has_card:
            raise business(MSG_NO_CUSTOMER)
        seen = set()
        for s in new:
            mu, old = s["merchant_uid"], st.schedules.get(s["merchant_uid"])
            if mu in seen or (old and old["schedule_status"] != "revoked") or paid_exists(st, mu):
                raise business("이미 등록된 merchant_uid입니다 (%s). 예약결제 merchant_uid는 "
                               "중복될 수 없습니다." % mu)
            if s["schedule_at"] <= now:
                raise business("예약결제 시각(schedule_at)은 현재 시각 이후여야 합니다 (%s)." % mu)
            seen.add(mu)
        if cu not in st.customers:        # card data only matters without a billing key
            issue_customer(st, cu, b, now)
        c = st.customers[cu]
        for s in new:
            s["pg_provider"], s["pg_id"] = c["pg_provider"], c["pg_id"]
            for f in ("name", "email", "tel", "addr", "postcode"):
                s["buyer_" + f] = s["buyer_" + f] or c["customer_" + f]
            s["_seq"] = st.next_seq()
            st.schedules[s["merchant_uid"]] = s
        return [schedule_json(st, s) for s in new]


def h_unschedule(st, req):
    cu = field(req.body, "customer_uid", required=True)
    mus = field(req.body, "merchant_uid", "array")
    now = int(time.time())
    with st.lock:
        targets = [s for s in st.schedules.values()
                   if s["customer_uid"] == cu and s["schedule_status"] == "scheduled"
                   and (mus is None or s["merchant_uid"] in mus)]
        if not targets:
            raise business(MSG_NO_UNSCHEDULE)
        for s in targets:
            s["schedule_status"], s["revoked_at"] = "revoked", now
        return [schedule_json(st, s) for s in targets]


def h_schedule_get(st, req):
    with st.lock:
        s = st.schedules.get(req.params["merchant_uid"])
        if not s:
            raise not_found("예약결제 정보가 존재하지 않습니다.")
        return schedule_json(st, s)


def h_schedule_update(st, req):
    at = field(req.body, "schedule_at", "integer", required=True)
    with st.lock:
        s = st.schedules.get(req.params["merchant_uid"])
        if not s:
            raise not_found("예약결제 정보가 존재하지 않습니다.")
        if s["schedule_status"] != "scheduled":
            raise ApiError(400, -1, "예약(scheduled) 상태가 아닌 예약결제는 수정할 수 없습니다.")
        if at <= time.time():
            raise ApiError(400, -1, "예약결제 시각(schedule_at)은 현재 시각 이후여야 합니다.")
        s["schedule_at"] = at
        return schedule_json(st, s)


def list_schedules(st, req, customer_uid, from_names, to_names, status_names):
    frm = qint(req.query, from_names, required=True)
    to = qint(req.query, to_names, required=True)
    status = qone(req.query, *status_names)
    if status and status not in SCHEDULE_STATUSES:
        raise ApiError(400, -1, "지원되지 않는 상태값입니다.")
    page = qint(req.query, "page", 1, lo=1)
    limit = qint(req.query, "limit", 20, lo=1, hi=1000)
    oldest_first = qone(req.query, "sorting") == "scheduled"
    with st.lock:
        items = [s for s in st.schedules.values()
                 if (customer_uid is None or s["customer_uid"] == customer_uid)
                 and frm <= s["schedule_at"] < to
                 and (not status or s["schedule_status"] == status)]
        items.sort(key=lambda s: (s["schedule_at"], s["_seq"]), reverse=not oldest_first)
        result = paged(items, page, limit)
        result["list"] = [schedule_json(st, s) for s in result["list"]]
        return result


def h_schedules_of_customer(st, req):
    return list_schedules(st, req, req.params["customer_uid"], ("from", "schedule_from"),
                          ("to", "schedule_to"), ("schedule-status", "schedule_status"))


def h_schedules_range(st, req):
    return list_schedules(st, req, None, ("schedule_from", "from"), ("schedule_to", "to"),
                          ("schedule_status", "schedule-status"))


# --------------------------------------------------------------------------
# Code lists
# --------------------------------------------------------------------------

def code_list(table):
    return lambda st, req: [{"code": k, "name": v} for k, v in sorted(table.items())]


def code_one(table, what):
    def handler(st, req):
        code = req.params["code"]
        if code not in table:
            raise not_found("존재하지 않는 %s코드입니다. (%s)" % (what, code))
        return {"code": code, "name": table[code]}
    return handler


# --------------------------------------------------------------------------
# Control routes (test-only, no token)
# --------------------------------------------------------------------------

def cfield(body, name, typ="string", required=False, default=None):
    """field() for control routes: errors become ControlError(400)."""
    try:
        return field(body, name, typ, required, default)
    except ApiError as e:
        raise ControlError(400, e.message)


def c_approve(st, req):
    b = req.body
    mu = cfield(b, "merchant_uid", required=True)
    amount = cfield(b, "amount", "number", required=True)
    method = cfield(b, "pay_method", default="card")
    status = cfield(b, "status", default="paid")
    if status not in ("paid", "ready", "failed"):
        raise ControlError(400, "status must be paid, ready or failed")
    now = int(time.time())
    extra = {}
    if method == "vbank":
        code = normalise_bank(cfield(b, "vbank_code", default="004"))
        if code not in BANKS:
            raise ControlError(400, "unknown vbank_code")
        extra = vbank_fields(code, cfield(b, "vbank_holder"),
                             cfield(b, "vbank_due", "integer", default=now + 3 * 86400), now)
    extra.update(pay_method=method, status=status)
    for name in ("name", "currency", "custom_data", "fail_reason", "pg_provider", "pg_id",
                 "channel", "customer_uid"):
        if cfield(b, name) is not None:
            extra[name] = cfield(b, name)
    with st.lock:
        p = new_payment(st, mu, amount, now, **extra)
        copy_buyer(p, b)
        result = public(p)
    wh = None
    if cfield(b, "webhook", "boolean", default=False) and status != "failed":
        wh = deliver(st, notice_url(b) or st.webhook_url, result, status)
    return {"ok": True, "imp_uid": result["imp_uid"], "payment": result, "webhook_status": wh}


def c_deposit(st, req):
    imp_uid = cfield(req.body, "imp_uid", required=True)
    now = int(time.time())
    with st.lock:
        p = st.payments.get(imp_uid)
        if not p:
            raise ControlError(404, "no such payment")
        if p["pay_method"] != "vbank" or p["status"] != "ready":
            raise ControlError(409, "payment is not a ready vbank (status %s)" % p["status"])
        p.update(status="paid", paid_at=now, _updated=now)
        result = public(p)
    wh = None
    if cfield(req.body, "webhook", "boolean", default=True):
        wh = deliver(st, st.webhook_url, result, "paid")
    return {"ok": True, "payment": result, "webhook_status": wh}


def c_run_schedule(st, req):
    mu = cfield(req.body, "merchant_uid", required=True)
    fail = cfield(req.body, "fail", "boolean", default=False)
    now = int(time.time())
    with st.lock:
        s = st.schedules.get(mu)
        if not s:
            raise ControlError(404, "no such schedule")
        if s["schedule_status"] != "scheduled":
            raise ControlError(409, "schedule is %s" % s["schedule_status"])
        c = st.customers.get(s["customer_uid"])
        reason = None
        if fail or not c:
            reason = cfield(req.body, "fail_reason") or (
                "[fake] 카드 승인에 실패하였습니다." if c else MSG_NO_BUYER)
        fields = card_payment_fields(c) if c else {}
        p = new_payment(st, mu, s["amount"], now, channel="api", name=s["name"],
                        currency=s["currency"], custom_data=s["custom_data"],
                        customer_uid=s["customer_uid"], customer_uid_usage="payment.scheduled",
                        status="failed" if reason else "paid", fail_reason=reason, **fields)
        for f in ("name", "email", "tel", "addr", "postcode"):
            p["buyer_" + f] = s["buyer_" + f]
        s.update(schedule_status="executed", executed_at=now, imp_uid=p["imp_uid"],
                 payment_status=p["status"], fail_reason=reason)
        result, url = public(p), s["_notice_url"] or st.webhook_url
        sched = schedule_json(st, s)
    wh = None
    if cfield(req.body, "webhook", "boolean", default=True):
        wh = deliver(st, url, result, result["status"])
    return {"ok": True, "imp_uid": result["imp_uid"], "payment": result, "schedule": sched,
            "webhook_status": wh}


def _rule(b, extra):
    count = cfield(b, "count", "integer", default=1)
    if count < 1:
        raise ControlError(400, "count must be >= 1")
    rule = {"path_prefix": cfield(b, "path_prefix", default="/"), "count": count}
    rule.update(extra)
    return rule


def c_fail_next(st, req):
    b = req.body
    status = cfield(b, "status", "integer")
    code = cfield(b, "code", "integer")
    if status is not None and not 400 <= status <= 599:
        raise ControlError(400, "status must be a 4xx/5xx HTTP status")
    if status is None and code is None:
        status = 500
    rule = _rule(b, {"status": status or 200, "code": code if code is not None else -1,
                     "message": cfield(b, "message") or "[fake] injected failure",
                     "disconnect": cfield(b, "disconnect", "boolean", default=False)})
    with st.lock:
        st.fail_rules.append(rule)
    return {"ok": True, "rule": rule}


def c_delay_next(st, req):
    seconds = cfield(req.body, "seconds", "number", required=True)
    rule = _rule(req.body, {"seconds": seconds})
    with st.lock:
        st.delay_rules.append(rule)
    return {"ok": True, "rule": rule}


def c_set_token_ttl(st, req):
    seconds = cfield(req.body, "seconds", "integer", required=True)
    with st.lock:
        st.token_ttl = seconds
    return {"ok": True, "token_ttl": seconds}


def c_expire_tokens(st, req):
    with st.lock:
        if st.token:
            st.token["expired_at"] = min(st.token["expired_at"], int(time.time()))
    return {"ok": True}


def c_counts(st, req):
    subject = qone(req.query, "subject")
    with st.lock:
        if subject:
            return {route: n for (route, s), n in st.subject_counts.items() if s == subject}
        out = dict(st.counts)
        out["connections"] = st.connections
        return out


SUBJECT_KEYS = ("imp_uid", "merchant_uid", "customer_uid")


def subjects_of(params, body):
    """The orders and customers an API call names: path parameters, the body's top-level
    imp_uid/merchant_uid/customer_uid (strings or lists) and its schedules' merchant_uids."""
    out = {v for k, v in params.items() if k in SUBJECT_KEYS}
    if isinstance(body, dict):
        for k in SUBJECT_KEYS:
            v = body.get(k)
            for x in (v if isinstance(v, list) else [v]):
                if isinstance(x, str):
                    out.add(x)
        for s in body.get("schedules") or []:
            if isinstance(s, dict) and isinstance(s.get("merchant_uid"), str):
                out.add(s["merchant_uid"])
    return out


def c_reset_counts(st, req):
    st.reset_counts()
    return {"ok": True}


def c_reset(st, req):
    st.reset()
    return {"ok": True}


def c_webhook(st, req):
    b = req.body
    url = cfield(b, "url") or st.webhook_url
    if not url:
        raise ControlError(400, "no url given and no webhook URL configured")
    payload = {"imp_uid": cfield(b, "imp_uid", required=True),
               "merchant_uid": cfield(b, "merchant_uid", required=True),
               "status": cfield(b, "status", required=True)}
    if cfield(b, "cancellation_id"):
        payload["cancellation_id"] = cfield(b, "cancellation_id")
    form = cfield(b, "form", "boolean", default=False)
    try:
        status, body = send_webhook(url, payload, form)
    except Exception as e:
        return {"ok": False, "status": None, "error": "%s: %s" % (type(e).__name__, e)}
    with st.lock:
        st.webhooks.append(dict(payload, url=url, form=form, sent_at=int(time.time()),
                                http_status=status, body=body, error=None))
    return {"ok": True, "status": status, "body": body}


def c_state(st, req):
    with st.lock:
        return {"ok": True,
                "payments": [public(p) for p in sorted(st.payments.values(),
                                                       key=lambda p: p["_seq"])],
                "prepares": [dict(r) for r in st.prepares.values()],
                "customers": [customer_json(c) for c in st.customers.values()],
                "schedules": [schedule_json(st, s) for s in st.schedules.values()],
                "webhooks": copy.deepcopy(st.webhooks),
                "token_ttl": st.token_ttl, "webhook_url": st.webhook_url,
                "webhook_form": st.webhook_form}


def c_set_webhook_url(st, req):
    url = cfield(req.body, "url")
    with st.lock:
        st.webhook_url = url
        st.webhook_form = cfield(req.body, "form", "boolean", default=st.webhook_form)
    return {"ok": True, "url": url, "form": st.webhook_form}


# --------------------------------------------------------------------------
# Dispatch table: (method, path template, handler); templates are also the
# keys of /__control/counts.
# --------------------------------------------------------------------------

API_ROUTES = [
    ("POST", "/users/getToken", h_get_token),
    ("GET", "/payments/prepare/{merchant_uid}", h_prepare_get),
    ("POST", "/payments/prepare", h_prepare),
    ("PUT", "/payments/prepare", h_prepare_update),
    ("POST", "/payments/cancel", h_cancel),
    ("GET", "/payments/find/{merchant_uid}", h_find),
    ("GET", "/payments/find/{merchant_uid}/{payment_status}", h_find),
    ("GET", "/payments/findAll/{merchant_uid}", h_find_all),
    ("GET", "/payments/findAll/{merchant_uid}/{payment_status}", h_find_all),
    ("GET", "/payments/status/{payment_status}", h_payments_by_status),
    ("GET", "/payments/{imp_uid}", h_payment),
    ("GET", "/payments", h_payments_multi),
    ("POST", "/vbanks", h_vbank_create),
    ("PUT", "/vbanks/{imp_uid}", h_vbank_modify),
    ("DELETE", "/vbanks/{imp_uid}", h_vbank_revoke),
    ("GET", "/subscribe/customers", h_customers_multi),
    ("GET", "/subscribe/customers/{customer_uid}/payments", h_customer_payments),
    ("GET", "/subscribe/customers/{customer_uid}/schedules", h_schedules_of_customer),
    ("POST", "/subscribe/customers/{customer_uid}", h_customer_issue),
    ("GET", "/subscribe/customers/{customer_uid}", h_customer_get),
    ("DELETE", "/subscribe/customers/{customer_uid}", h_customer_delete),
    ("POST", "/subscribe/payments/again", h_again),
    ("POST", "/subscribe/payments/onetime", h_onetime),
    ("POST", "/subscribe/payments/unschedule", h_unschedule),
    ("POST", "/subscribe/payments/schedule", h_schedule),
    ("GET", "/subscribe/payments/schedule", h_schedules_range),
    ("GET", "/subscribe/payments/schedule/customers/{customer_uid}", h_schedules_of_customer),
    ("GET", "/subscribe/payments/schedule/{merchant_uid}", h_schedule_get),
    ("PUT", "/subscribe/payments/schedule/{merchant_uid}", h_schedule_update),
    ("GET", "/banks", code_list(BANKS)),
    ("GET", "/banks/{code}", code_one(BANKS, "은행")),
    ("GET", "/cards", code_list(CARDS)),
    ("GET", "/cards/{code}", code_one(CARDS, "카드사")),
]

CONTROL_ROUTES = [
    ("POST", "/__control/approve", c_approve),
    ("POST", "/__control/deposit", c_deposit),
    ("POST", "/__control/run_schedule", c_run_schedule),
    ("POST", "/__control/fail_next", c_fail_next),
    ("POST", "/__control/delay_next", c_delay_next),
    ("POST", "/__control/set_token_ttl", c_set_token_ttl),
    ("POST", "/__control/expire_tokens", c_expire_tokens),
    ("GET", "/__control/counts", c_counts),
    ("POST", "/__control/reset_counts", c_reset_counts),
    ("POST", "/__control/reset", c_reset),
    ("POST", "/__control/webhook", c_webhook),
    ("GET", "/__control/state", c_state),
    ("POST", "/__control/set_webhook_url", c_set_webhook_url),
]


def compile_routes(routes):
    out = []
    for method, template, handler in routes:
        rx = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        out.append((method, template, re.compile("^" + rx + "$"), handler))
    return out


API_TABLE = compile_routes(API_ROUTES)
CONTROL_TABLE = compile_routes(CONTROL_ROUTES)


def match(table, method, path):
    """-> (template, handler, params) or (None, None, allowed_methods)."""
    allowed = []
    for m, template, rx, handler in table:
        mt = rx.match(path)
        if mt:
            if m == method:
                return template, handler, {k: urllib.parse.unquote(v)
                                           for k, v in mt.groupdict().items()}
            allowed.append(m)
    return None, None, allowed


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------

class Request:
    def __init__(self, method, path, params, query, body, headers):
        self.method, self.path, self.params = method, path, params
        self.query, self.body, self.headers = query, body, headers


class Logger:
    def __init__(self, path):
        self.fh = open(path, "a", encoding="utf-8") if path else sys.stderr
        self.lock = threading.Lock()

    def write(self, line):
        with self.lock:
            self.fh.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), line))
            self.fh.flush()


MAX_BODY = 1 << 20


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-portone/1"
    timeout = 120                      # idle keep-alive connections are closed after this

    def setup(self):
        if self.server.ssl_ctx is not None:      # handshake in the worker thread
            self.request.settimeout(self.timeout)
            self.request = self.server.ssl_ctx.wrap_socket(self.request, server_side=True)
        with STATE.lock:
            STATE.connections += 1
        super().setup()

    def log_message(self, fmt, *args):          # the default logs the request line: not ours
        pass

    def log_error(self, fmt, *args):
        LOGGER.write("error %s" % (fmt % args).split("\n")[0][:200])

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    # -- I/O helpers --
    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    raise ValueError("body too large")
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def parse_body(self, raw):
        if not raw.strip():
            return {}
        ctype = self.headers.get("Content-Type", "").lower()
        text = raw.decode("utf-8", "replace")
        if "json" in ctype or (not ctype and text.lstrip()[:1] in "{["):
            try:
                body = json.loads(text)
            except ValueError:
                raise ApiError(400, -1, "요청 본문이 올바른 JSON이 아닙니다. (invalid JSON body)")
            if not isinstance(body, dict):
                raise ApiError(400, -1, "요청 본문은 JSON 객체여야 합니다. (body must be an object)")
            return {(k[:-2] if k.endswith("[]") else k): v for k, v in body.items()}
        return parse_form(text)

    def send_json(self, status, obj, extra_headers=()):
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra_headers:
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        LOGGER.write("%s %s %d" % (self.command, self.log_path, status))

    def send_envelope(self, status, code, message, response, extra_headers=()):
        self.send_json(status, {"code": code, "message": message, "response": response},
                       extra_headers)

    # -- dispatch --
    def dispatch(self):
        raw_path, _, qs = self.path.partition("?")
        path = raw_path.rstrip("/") or "/"
        self.log_path = path[:200]
        try:
            raw = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.send_envelope(400, -1, "잘못된 요청 본문입니다. (bad request body)", None)
            return
        query = urllib.parse.parse_qs(qs, keep_blank_values=True)
        if path.startswith("/__control/"):
            self.dispatch_control(path, query, raw)
        else:
            self.dispatch_api(path, query, raw)

    def dispatch_control(self, path, query, raw):
        template, handler, params = match(CONTROL_TABLE, self.command, path)
        try:
            if not handler:
                raise ControlError(405 if params else 404, "unknown control route")
            body = self.parse_body(raw) if raw else {}
            result = handler(STATE, Request(self.command, path, params, query, body, self.headers))
            self.send_json(200, result)
        except ControlError as e:
            self.send_json(e.http_status, {"ok": False, "error": e.message})
        except ApiError as e:
            self.send_json(400, {"ok": False, "error": e.message})
        except Exception:
            LOGGER.write("control handler crashed: " + traceback.format_exc().replace("\n", " | "))
            self.send_json(500, {"ok": False, "error": "internal error in fake"})

    def dispatch_api(self, path, query, raw):
        template, handler, params = match(API_TABLE, self.command, path)
        if not handler:
            if params:
                self.send_envelope(405, -1, "Method Not Allowed", None,
                                   [("Allow", ", ".join(sorted(set(params))))])
            else:
                self.send_envelope(404, -1, "Not Found: 존재하지 않는 API입니다.", None)
            return
        with STATE.lock:
            key = "%s %s" % (self.command, template)
            STATE.counts[key] = STATE.counts.get(key, 0) + 1
            delay = STATE.take_rule(STATE.delay_rules, path)
            fail = STATE.take_rule(STATE.fail_rules, path)
        if delay:
            time.sleep(delay["seconds"])
        if fail:
            if fail["disconnect"]:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                LOGGER.write("%s %s disconnect" % (self.command, self.log_path))
                return
            self.send_envelope(fail["status"], fail["code"], fail["message"], None)
            return
        try:
            if template != "/users/getToken" and not STATE.token_valid(self.token()):
                raise ApiError(401, -1, "Unauthorized")
            body = self.parse_body(raw) if self.command in ("POST", "PUT", "DELETE") else {}
            with STATE.lock:    # past authentication: PortOne acts on this call
                for s in subjects_of(params, body):
                    STATE.subject_counts[(key, s)] = STATE.subject_counts.get((key, s), 0) + 1
            result = handler(STATE, Request(self.command, path, params, query, body, self.headers))
            if isinstance(result, Reply):
                self.send_envelope(result.http_status, 0, result.message, result.response)
            else:
                self.send_envelope(200, 0, None, result)
        except ApiError as e:
            extra = [("WWW-Authenticate", "Bearer")] if e.http_status == 401 else []
            self.send_envelope(e.http_status, e.code, e.message, None, extra)
        except Exception:
            LOGGER.write("handler crashed: " + traceback.format_exc().replace("\n", " | "))
            self.send_envelope(500, -1, "[fake] internal error", None)

    def token(self):
        auth = self.headers.get("Authorization")
        if auth:
            auth = auth.strip()
            return auth[7:].strip() if auth[:7].lower() == "bearer " else auth
        return (self.headers.get("X-ImpTokenHeader") or "").strip() or None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    ssl_ctx = None

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        LOGGER.write("connection error: %s" % type(exc).__name__)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(description="Stateful fake of the PortOne V1 REST API")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--imp-key", required=True)
    ap.add_argument("--imp-secret", required=True)
    ap.add_argument("--token-ttl", type=int, default=1800)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--webhook-url")
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    return args


def main(argv=None):
    global STATE, LOGGER
    args = parse_args(argv)
    LOGGER = Logger(args.log)
    STATE = State(args)
    if ":" in args.host:
        Server.address_family = socket.AF_INET6
    server = Server((args.host, args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.ssl_ctx = ctx
    port = server.server_address[1]
    if args.port_file:
        tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOGGER.write("listening on %s:%d (%s)" % (args.host, port, "https" if args.tls_cert else "http"))
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        LOGGER.write("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
