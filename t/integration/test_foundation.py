"""Foundation: health, auth, routing errors, body limits, request ids, audit, config checks."""
import os
import re
import subprocess
import time

import pytest

from conftest import assert_problem
from harness import wait_for


def test_health_reports_each_dependency(api):
    # a test before may just have brought a dependency back (each process reuses its last
    # check for DockpayHealthCache, 1 s by default)
    wait_for(lambda: api.get("/health", key=None).status_code == 200, 3, "/health to say 200")
    r = api.get("/health", key=None)
    assert r.status_code == 200, r.text
    body = r.json()
    rec = body.pop("reconciler")   # the reconciler's state (issue 14; test_reconcile.py)
    assert body == {"status": "ok", "docker": "ok", "database": "ok", "portone": "configured"}
    assert rec["enabled"] is True and isinstance(rec["events_pending"], int)
    assert r.headers["Content-Type"].startswith("application/json")


def test_system_version_end_to_end(api, stack):
    r = api.get("/system/version")
    assert r.status_code == 200, r.text
    mine = r.json()
    status, direct = stack.docker_api("GET", "/version")
    assert status == 200
    assert mine["ApiVersion"] == direct["ApiVersion"] and mine["Version"] == direct["Version"]


def test_no_key_is_401_with_challenge(api):
    r = api.get("/system/version", key=None)
    assert_problem(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer dpk_not_a_key", "Basic YWRtaW46YWRtaW4=", "Bearer ", "dpk_x"])
def test_bad_credentials_are_401(api, header):
    r = api.get("/system/version", key=None, headers={"Authorization": header})
    assert_problem(r, 401, "unauthorized")


def test_missing_scope_is_403(api, stack):
    r = api.get("/system/version", key=stack.keys["payments_read"])
    body = assert_problem(r, 403, "insufficient_scope")
    assert "docker:read" in body["detail"]
    assert api.get("/system/version", key=stack.keys["docker_read"]).status_code == 200


def test_unknown_route_is_404_problem(api):
    assert_problem(api.get("/no/such/thing"), 404, "not_found")
    assert_problem(api.get("/no/such/thing", key=None), 404, "not_found")


def test_wrong_method_is_405_with_allow(api):
    r = api.put("/containers")
    assert_problem(r, 405, "method_not_allowed")
    allow = {m.strip() for m in r.headers["Allow"].split(",")}
    assert {"GET", "POST", "HEAD"} <= allow
    r = api.get("/containers/abc/start")
    assert_problem(r, 405)
    assert r.headers["Allow"] == "POST"


def test_body_over_limit_is_413(api):
    r = api.post("/payments/prepare", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                 headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "body_too_large")


def test_malformed_json_is_400_naming_where(api):
    r = api.post("/payments/prepare", data='{"merchant_uid": "a",\n "amount": }',
                 headers={"Content-Type": "application/json"})
    body = assert_problem(r, 400, "malformed_json")
    assert "line 2" in body["detail"]


def test_wrong_content_type_is_415(api):
    r = api.post("/payments/prepare", data="merchant_uid=a&amount=1",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415, "unsupported_media_type")


def test_request_id_is_echoed_or_generated(api, stack):
    r = api.get("/health", key=None, headers={"X-Request-Id": "trace-abc.123"})
    assert r.headers["X-Request-Id"] == "trace-abc.123"
    r = api.get("/health", key=None, headers={"X-Request-Id": "bad id\twith space"})
    assert r.headers["X-Request-Id"] != "bad id\twith space" and len(r.headers["X-Request-Id"]) == 32
    r = api.get("/nope", key=None)
    rid = r.headers["X-Request-Id"]
    time.sleep(0.2)
    assert rid in stack.access_log()


def test_writes_leave_an_audit_row(api, stack):
    r = api.post("/containers/doesnotexist-xyz/start", headers={"X-Request-Id": "audit-test-1"})
    assert r.status_code == 404
    rows = stack.sql("SELECT key_name, method, path, status FROM audit_log WHERE request_id = %s", "audit-test-1")
    assert rows == [("admin", "POST", "/containers/doesnotexist-xyz/start", "404")]
    api.get("/system/version", headers={"X-Request-Id": "audit-test-2"})
    assert stack.sql("SELECT COUNT(*) FROM audit_log WHERE request_id = %s", "audit-test-2") == [("0",)]


def test_openapi_document_is_served(api):
    r = api.get("/openapi.json", key=None)
    assert r.status_code == 200
    assert r.json()["openapi"].startswith("3.1")


@pytest.mark.allow_log(r"dbd|DBD|mysql|MySQL|database")
def test_database_down_is_503_then_recovers(api, stack):
    stack.stop_db()
    try:
        # each process reuses its last check for DockpayHealthCache (1 s by default)
        t0 = time.time()
        wait_for(lambda: api.get("/health", key=None).status_code == 503, 5, "/health to say 503")
        assert time.time() - t0 < 5
        r = api.get("/health", key=None)
        assert r.status_code == 503 and r.json()["database"] == "down"
    finally:
        stack.start_db()
    for _ in range(20):
        if api.get("/health", key=None).status_code == 200:
            break
        time.sleep(0.5)
    assert api.get("/health", key=None).json()["database"] == "ok"


def test_docker_down_is_503_fast_then_recovers(api, stack):
    stack.stop_docker()
    try:
        t0 = time.time()
        r = api.get("/system/version")
        assert time.time() - t0 < 1.5
        assert_problem(r, 503, "docker_unavailable")
        assert r.headers.get("Retry-After")
        wait_for(lambda: api.get("/health", key=None).json()["docker"] == "down", 3,
                 "/health to say docker down (within DockpayHealthCache)")
    finally:
        stack.start_docker()
    assert api.get("/system/version").status_code == 200


@pytest.mark.parametrize("directive", [
    "DockpayMaxBody lots", "DockpayDockerEndpoint tcp://1.2.3.4:2375", "DockpayPortOneURL ftp://x",
    "DockpayWebhookAllow not-an-ip", "DockpayPolicyAllow everything", "DockpayMaxStreams 0",
    "DockpayHealthCache 61", "DockpayPaymentsCache -1",
])
def test_bad_directive_fails_config_test_naming_it(stack, tmp_path, directive):
    r = stack.config_test(tmp_path, directive)
    assert r.returncode != 0
    assert directive.split()[0] in (r.stdout + r.stderr)


def _config_table():
    """The rows of handlers/dp_conf.def, read by tools/gen-config-doc.py's parser, and the
    documented error of each directive ({name: text}) from docs/configuration.md."""
    import importlib.util
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    spec = importlib.util.spec_from_file_location("gen_config_doc", os.path.join(top, "tools", "gen-config-doc.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    rows = gen.read_rows(os.path.join(top, "handlers", "dp_conf.def"))
    errors = {}
    for line in open(os.path.join(top, "docs", "configuration.md"), encoding="utf-8"):
        m = re.match(r"^\| `(Dockpay\w+)` \|.* \| `([^`]+)` \|$", line.rstrip("\n"))
        if m:
            errors[m.group(1)] = m.group(2)
    return gen, rows, errors


def test_documented_range_and_flag_errors_are_what_apachectl_says(stack, tmp_path):
    """For every number and On/Off directive of the table, a value just outside its range (or
    not On/Off) fails `apache2 -t` with exactly the message docs/configuration.md lists."""
    gen, rows, errors = _config_table()
    checked = 0
    for row in rows:
        if row["type"] in ("INT", "SECS", "SIZE"):
            bad = [str(int(row["max"]) + 1), str(int(row["min"]) - 1)]
        elif row["type"] == "FLAG":
            bad = ["maybe"]
        else:
            continue
        for value in bad:
            r = stack.config_test(tmp_path, "%s %s" % (row["name"], value))
            expected = errors[row["name"]].replace("VALUE", value)
            assert r.returncode != 0 and expected in r.stdout + r.stderr, (expected, r.stderr[-500:])
            checked += 1
    assert checked >= 20


def test_table_defaults_pass_config_test(stack, tmp_path):
    """Every default of the table, written as a directive, is accepted (post_config parses the
    same text with the same parser)."""
    gen, rows, _ = _config_table()
    lines = ["%s %s" % (r["name"], gen.literal(r["default"])) for r in rows if gen.literal(r["default"]) is not None]
    assert len(lines) >= 25
    r = stack.config_test(tmp_path, "\n".join(lines))
    assert r.returncode == 0, r.stderr[-2000:]


def test_good_config_passes_config_test(stack):
    r = subprocess.run(["apache2", "-t", "-f", stack.s.path("httpd", "httpd.conf")], env=stack.s.httpd_env(),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.allow_log(r"PortOne is not configured")
def test_undefined_env_var_for_portone_key_means_not_configured(api, stack):
    # httpd keeps "${VAR}" literally (with a warning) when VAR is undefined: never send that
    stack.restart_httpd(extra_conf="DockpayPortOneKey ${DP_SURELY_UNDEFINED_VARIABLE}")
    try:
        assert api.get("/health", key=None).json()["portone"] == "not configured"
        r = api.post("/payments/prepare", json={"merchant_uid": "env-test-1", "amount": 1000})
        assert_problem(r, 503, "portone_not_configured")
    finally:
        stack.restart_httpd()
    assert api.get("/health", key=None).json()["portone"] == "configured"
