"""Dependencies down (beyond the foundation's clean stops): dockerd killed with SIGKILL, MariaDB
stopped under a DB-backed route, the PortOne fake unreachable or slow. Each must give a prompt
503/504 problem (never a hang, never a dead httpd) and recover once the dependency is back.
A 501 (a route without a handler) fails the case: httpd refuses to start with one anyway."""
import os
import signal
import time

import pytest

from conftest import assert_problem
from containers_util import IMAGE, uniq
from harness import pid_alive, read_pid, wait_for


def httpd_pid(stack):
    return read_pid(stack.s.path("httpd", "httpd.pid"))


def assert_implemented(r, what):
    """Every route of the table has a handler: a 501 here is a regression, never a skip."""
    assert r.status_code != 501, f"{what} answers 501"


def test_dockerd_sigkill_is_503_fast_then_recovers(api, stack):
    if not stack.s.own_docker:
        pytest.skip("uses the host's engine: not killing it")
    assert api.get("/system/version").status_code == 200
    hpid = httpd_pid(stack)
    dpid = read_pid(stack.s.path("docker", "pid"))
    assert dpid and pid_alive(dpid)
    os.kill(dpid, signal.SIGKILL)
    try:
        wait_for(lambda: not pid_alive(dpid), 10, "dockerd to die")
        for path in ["/system/version", "/containers", "/images", "/volumes", "/networks"]:
            t0 = time.time()
            r = api.get(path)
            took = time.time() - t0
            assert_implemented(r, f"GET {path}")
            assert_problem(r, 503, "docker_unavailable")
            assert took < 1.0, f"{path} took {took:.2f}s with dockerd dead"
        wait_for(lambda: api.get("/health", key=None).status_code == 503, 3, "/health to say 503")
        h = api.get("/health", key=None)
        assert h.status_code == 503 and h.json()["docker"] == "down"
        assert httpd_pid(stack) == hpid and pid_alive(hpid), "httpd's parent changed"
    finally:
        stack.start_docker()  # reaps what the killed engine left behind (containerd, pid files)
    wait_for(lambda: api.get("/system/version").status_code == 200, 30, "Docker routes to recover")
    assert api.get("/containers").status_code == 200
    wait_for(lambda: api.get("/health", key=None).json()["docker"] == "ok", 3, "/health to say docker ok")
    assert httpd_pid(stack) == hpid


@pytest.mark.allow_log(r"dbd|DBD|mysql|MySQL|database|MariaDB")
def test_database_stopped_db_routes_503_promptly_then_recover(api, stack):
    r = api.get("/payments")
    assert_implemented(r, "GET /payments")
    assert r.status_code == 200, r.text
    hpid = httpd_pid(stack)
    stack.stop_db()
    try:
        for i in range(2):   # the first call may find a pooled handle, the second a new one
            t0 = time.time()
            # a page no process has memoised (DockpayPaymentsCache), so it must ask the database
            r = api.get("/payments", params={"limit": 1, "page": 1000 + i})
            took = time.time() - t0
            assert took < 5, f"GET /payments took {took:.1f}s with the database down"
            assert_problem(r, 503)
            assert r.headers.get("Retry-After", "").isdigit(), r.headers
        # a key with a quota cannot create: its usage is counted under a lock in the database
        name = uniq("dpfq")
        r = api.post("/containers", key=stack.keys["docker_quota"],
                     json={"image": IMAGE, "name": name, "memory": "16m"})
        assert_problem(r, 503, "database_unavailable")
        assert stack.docker_api("GET", f"/containers/{name}/json")[0] == 404, "created without its quota"
    finally:
        stack.start_db()
    wait_for(lambda: api.get("/payments").status_code == 200, 30, "GET /payments to recover")
    assert httpd_pid(stack) == hpid


@pytest.mark.allow_log(r"[Pp]ort[Oo]ne|curl|connect|timed? ?out")
def test_portone_unreachable_is_503_then_recovers(api, stack):
    r = api.get("/payments/imp_fault_probe")
    assert_implemented(r, "GET /payments/{imp_uid}")
    stack.stop_fake()
    try:
        t0 = time.time()
        r = api.get("/payments/imp_fault_probe")
        took = time.time() - t0
        assert_problem(r, 503)
        assert took < 4, f"took {took:.1f}s with PortOne unreachable"
    finally:
        stack.start_fake()
    wait_for(lambda: api.get("/payments/imp_fault_probe").status_code == 404, 20, "PortOne routes to recover")


@pytest.mark.allow_log(r"[Pp]ort[Oo]ne|curl|timed? ?out|timeout")
def test_portone_slow_is_504_within_the_timeout(api, stack, quiet_reconciler):
    r = api.get("/payments/imp_fault_probe")
    assert_implemented(r, "GET /payments/{imp_uid}")
    stack.fake("POST", "/__control/delay_next", {"seconds": 6})
    t0 = time.time()
    r = api.get("/payments/imp_fault_probe")
    took = time.time() - t0
    assert_problem(r, 504)
    assert 2.5 <= took < 4.5, f"took {took:.1f}s (DockpayPortOneTimeout is 3)"
    time.sleep(3.5)   # let the fake's delayed answer finish before the next test
    assert api.get("/payments/imp_fault_probe").status_code == 404


@pytest.mark.allow_log(r"dbd|DBD|mysql|MySQL|database|MariaDB")
def test_database_restart_dead_pooled_handles_never_503(api, stack):
    """Issue 14 item 7: after a MariaDB restart every pooled mod_dbd handle is dead; a request
    must go past all of them to a live one instead of answering 503."""
    r = api.get("/payments")
    assert_implemented(r, "GET /payments")
    from concurrent.futures import ThreadPoolExecutor
    stack.restart_httpd(extra_conf="DockpayPaymentsCache 0\n")
    try:
        def dockpay_conns():
            out = stack.s.mysql_root("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                     "WHERE USER='dockpay';")
            return int(out.strip() or 0)

        # fill the pool (DBDMax 16): many concurrent calls, each asks the database
        with ThreadPoolExecutor(32) as ex:
            codes = list(ex.map(lambda i: api.get("/payments", params={"limit": 1, "page": 1 + i % 50})
                                .status_code, range(256)))
        assert set(codes) == {200}, codes
        pooled = dockpay_conns()
        assert pooled >= 4, f"only {pooled} pooled handles: the test would not prove anything"
        stack.stop_db()
        stack.start_db()
        # the database answers again; every pooled handle is now dead
        bad = []
        for i in range(40):
            r = api.get("/payments", params={"limit": 1, "page": 2000 + i})
            if r.status_code != 200:
                bad.append((i, r.status_code, r.text[:120]))
        with ThreadPoolExecutor(16) as ex:
            codes = list(ex.map(lambda i: api.get("/payments", params={"limit": 1, "page": 3000 + i})
                                .status_code, range(64)))
        assert not bad, f"{pooled} dead pooled handles; sequential calls that failed: {bad}"
        assert set(codes) == {200}, codes
    finally:
        if subprocess_db_down(stack):
            stack.start_db()
        stack.restart_httpd()


def subprocess_db_down(stack):
    import subprocess
    return subprocess.run(["mariadb-admin", "-S", stack.s.db_sock, "-u", "root", "ping"],
                          capture_output=True).returncode != 0
