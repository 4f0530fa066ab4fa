"""pytest fixtures for integration tests through a real httpd (see docs/DEVELOPING.md).
The services are started by `t/harness.py test`, which passes their folder in DP_STACK."""
import os
import re
import sys

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import Stack, docker_api  # noqa: E402

BAD_LOG = re.compile(r"\[[a-z_]*:?(error|crit|alert|emerg)\]")


def pytest_configure(config):
    config.addinivalue_line("markers", "allow_log(regex): error-log lines this test expects")


class TestStack:
    """The running stack plus helpers for tests."""

    def __init__(self, root):
        self.s = Stack.attach(root)

    def __getattr__(self, name):
        return getattr(self.s, name)

    @property
    def tmp(self):
        return self.s.root

    def docker_api(self, method, path, body=None, headers=None, timeout=60):
        return docker_api(self.s.docker_sock, method, path, body=body, headers=headers, timeout=timeout)

    def sql(self, query, *params):
        """Runs SQL in the test database as root; %s placeholders are quoted safely."""
        def q(v):
            if v is None:
                return "NULL"
            if isinstance(v, (int, float)):
                return str(v)
            return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"
        if params:
            query = query % tuple(q(p) for p in params)
        out = self.s.mysql_root(query, "dockpay")
        return [tuple(None if c == "NULL" else c for c in line.split("\t")) for line in out.splitlines()]

    def error_log(self):
        with open(self.s.path("httpd", "error.log"), errors="replace") as f:
            return f.read()

    def access_log(self):
        with open(self.s.path("httpd", "access.log"), errors="replace") as f:
            return f.read()

    def config_test(self, tmp_path, extra=""):
        """Runs `apache2 -t` on the test server's httpd.conf plus the lines extra (a copy in
        tmp_path); returns the CompletedProcess (returncode, stdout, stderr)."""
        import subprocess
        p = tmp_path / "test.conf"
        p.write_text(open(self.s.path("httpd", "httpd.conf")).read() + "\n" + extra + "\n")
        return subprocess.run(["apache2", "-t", "-f", str(p)], capture_output=True, text=True,
                              env=self.s.httpd_env())

    def restart_httpd(self, extra_conf=""):
        if os.environ.get("DP_VALGRIND") == "1":
            # ./dev memcheck measures one long-lived httpd -X: a restart would end its report
            pytest.skip("restarts httpd: skipped under valgrind (./dev memcheck)")
        self.s.restart_httpd(extra_conf)


@pytest.fixture(scope="session")
def stack():
    root = os.environ.get("DP_STACK")
    if not root:
        pytest.exit("run the integration tests through ./dev test (DP_STACK is not set)", 2)
    return TestStack(root)


# --- hardening: every response body the tests see is kept for the secret scan that
# t/harness.py (scan_secrets) runs after the suite: <root>/responses.log
def record_response(stack, method, path, r):
    try:
        body = r.content if r._content_consumed else b""   # never consume a stream=True body
        with open(stack.s.path("responses.log"), "ab") as f:
            f.write(f"=== {method} {path[:200]} -> {r.status_code}\n".encode("utf-8", "replace"))
            f.write(body[:1 << 20] + b"\n")
    except Exception:   # a streamed response the test reads itself: not recorded
        pass
# --- end hardening


class Api:
    """requests wrapper: paths below /api/v1, the admin key by default (key=None sends none)."""

    _DEFAULT = object()

    def __init__(self, stack):
        self.stack = stack
        self.session = requests.Session()

    def request(self, method, path, key=_DEFAULT, headers=None, **kw):
        h = dict(headers or {})
        if key is Api._DEFAULT:
            key = self.stack.keys["admin"]
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        kw.setdefault("timeout", 120)
        r = self.session.request(method, self.stack.base_url + path, headers=h, **kw)
        record_response(self.stack, method, path, r)
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)


@pytest.fixture
def api(stack):
    a = Api(stack)
    yield a
    a.session.close()


HOLDER = "test:quiet"


@pytest.fixture
def quiet_reconciler(stack):
    """Holds the reconciler's lease (migration 007) for the test, as a server that never runs a
    pass: no background lookup reaches the PortOne fake while the test counts the fake's calls or
    arms its fail/delay rules. Waits for a pass in progress to end (it releases the lease)."""
    import time
    take = ("UPDATE reconcile_lease SET holder = %s, expires_at = UTC_TIMESTAMP(6) + INTERVAL 900 SECOND "
            "WHERE name = 'dockpay-reconcile' AND (expires_at < UTC_TIMESTAMP(6) OR holder = %s); "
            "SELECT ROW_COUNT()")
    end = time.time() + 120
    while stack.sql(take, HOLDER, HOLDER)[-1][0] != "1":
        assert time.time() < end, "a reconcile pass held the lease for 120 s"
        time.sleep(0.1)
    yield
    stack.sql("UPDATE reconcile_lease SET expires_at = UTC_TIMESTAMP(6) WHERE name = 'dockpay-reconcile' "
              "AND holder = %s", HOLDER)


@pytest.fixture(autouse=True)
def no_unexpected_errors(request, stack):
    """Fails a test that made httpd log an unexpected [error]/[crit]/[alert]/[emerg] line."""
    path = stack.s.path("httpd", "error.log")
    start = os.path.getsize(path) if os.path.exists(path) else 0
    yield
    allowed = [re.compile(m.args[0]) for m in request.node.iter_markers("allow_log")]
    with open(path, errors="replace") as f:
        f.seek(start)
        new = f.read()
    bad = [l for l in new.splitlines() if BAD_LOG.search(l) and not any(a.search(l) for a in allowed)]
    assert not bad, "unexpected error-log lines:\n" + "\n".join(bad[:20])


def assert_problem(resp, status, code=None):
    """Asserts an RFC 9457 problem+json answer with the given status (and code)."""
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text[:500]}"
    assert resp.headers.get("Content-Type", "").startswith("application/problem+json"), resp.headers
    body = resp.json()
    assert body["status"] == status and body["title"] and "type" in body, body
    if code:
        assert body["code"] == code, body
    assert resp.headers.get("X-Request-Id")
    return body
