"""Compose: up (through the configured docker-compose against the private engine), list,
inspect, stop/start/restart, down; the compose-file policy, project-name checks, a failing
up and the time limit."""
import json
import os
import time

import pytest

from conftest import assert_problem

YAML = """version: '2.4'
services:
  app:
    image: local/busybox:test
    command: sleep 300
"""


def down(api, project):
    api.delete(f"/compose/{project}", params={"t": "0"})


def test_compose_up_list_stop_start_down(api, stack):
    p = "dpc1"
    down(api, p)
    try:
        r = api.post("/compose", json={"project": p, "compose": YAML}, timeout=300)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["name"] == p and body["status"] == "running(1)" and body["services"] == ["app"]
        assert body["container_count"] == 1 and isinstance(body["output"], str)
        cfile = os.path.join(stack.tmp, "httpd", "compose", p, "docker-compose.yml")
        # the folder holds only the checked, normalised document (JSON), stamped with the key
        assert os.listdir(os.path.dirname(cfile)) == ["docker-compose.yml"]
        doc = json.load(open(cfile))
        assert doc["version"] == "2.4" and doc["services"]["app"]["image"] == "local/busybox:test"
        # stamped with the key and the create policy's defaults (512m, 1 CPU, 1024 PIDs)
        app = doc["services"]["app"]
        assert app["labels"] == {"dockpay.managed": "true", "dockpay.key": "admin",
                                 "dockpay.memory": str(512 * 1024 * 1024), "dockpay.nanocpus": "1000000000"}
        assert app["mem_limit"] == app["memswap_limit"] == 512 * 1024 * 1024
        assert app["cpus"] == 1.0 and app["pids_limit"] == 1024
        assert body["config_files"] == [cfile] and body["working_dir"] == os.path.dirname(cfile)

        items = api.get("/compose").json()["items"]
        mine = [i for i in items if i["name"] == p]
        assert mine and mine[0]["status"] == "running(1)" and mine[0]["container_count"] == 1

        r = api.get(f"/compose/{p}")
        assert r.status_code == 200, r.text
        d = r.json()
        assert len(d["containers"]) == 1 and d["containers"][0]["State"] == "running"
        assert [n["Name"] for n in d["networks"]] == [f"{p}_default"]

        r = api.post(f"/compose/{p}/stop", params={"t": "0"})
        assert r.status_code == 200, r.text
        res = r.json()
        assert res["project"] == p and len(res["results"]) == 1 and res["results"][0]["changed"] is True
        assert res["results"][0]["name"].startswith(p)
        assert api.get(f"/compose/{p}").json()["status"] == "exited(1)"
        assert api.post(f"/compose/{p}/stop").json()["results"][0]["changed"] is False

        r = api.post(f"/compose/{p}/start")
        assert r.status_code == 200 and r.json()["results"][0]["changed"] is True, r.text
        assert api.get(f"/compose/{p}").json()["status"] == "running(1)"
        r = api.post(f"/compose/{p}/restart", params={"t": "0"})
        assert r.status_code == 200 and r.json()["results"][0]["changed"] is True, r.text

        r = api.delete(f"/compose/{p}", params={"t": "0"})
        assert r.status_code == 200, r.text
        gone = r.json()
        assert len(gone["containers"]) == 1 and gone["networks"] == [f"{p}_default"] and gone["volumes"] == []
        assert_problem(api.get(f"/compose/{p}"), 404, "project_not_found")
        assert stack.docker_api("GET", f"/networks/{p}_default")[0] == 404
        rows = stack.sql("SELECT target FROM audit_log WHERE method='POST' AND path='/compose' ORDER BY id DESC LIMIT 1")
        assert rows == [(p,)]
    finally:
        down(api, p)


def test_down_with_volumes(api, stack):
    p = "dpc2"
    yaml = YAML + "    volumes:\n      - data:/data\nvolumes:\n  data: {}\n"
    try:
        r = api.post("/compose", json={"project": p, "compose": yaml}, timeout=300)
        assert r.status_code == 200, r.text
        assert [v["Name"] for v in r.json()["volumes"]] == [f"{p}_data"]
        r = api.delete(f"/compose/{p}", params={"t": "0", "volumes": "true"})
        assert r.status_code == 200, r.text
        assert r.json()["volumes"] == [f"{p}_data"]
        assert stack.docker_api("GET", f"/volumes/{p}_data")[0] == 404
    finally:
        down(api, p)
        stack.docker("volume", "rm", f"{p}_data", check=False)


@pytest.mark.parametrize("extra", [
    "    privileged: true\n",
    "    network_mode: host\n",
    "    pid: host\n",
    "    cap_add: [SYS_ADMIN]\n",
    "    devices:\n      - /dev/null:/dev/x\n",
    "    security_opt:\n      - seccomp:unconfined\n",
    "    sysctls:\n      net.core.somaxconn: 1024\n",
    "    volumes:\n      - /etc:/host-etc:ro\n",
    "    volumes:\n      - ./data:/data\n",
    "    volumes:\n      - ~/x:/x\n",
    "    env_file: .env\n",
    "    build: .\n",
])
def test_refused_compose_settings_run_nothing(api, stack, extra):
    p = "dpcpolicy"
    r = api.post("/compose", json={"project": p, "compose": YAML + extra})
    body = assert_problem(r, 403, "policy_denied")
    key = extra.strip().split(":")[0]
    assert body["field"].startswith(f"services.app.{key}") and body["detail"].startswith(body["field"]), body
    assert not os.path.exists(os.path.join(stack.tmp, "httpd", "compose", p))
    assert_problem(api.get(f"/compose/{p}"), 404)


@pytest.mark.parametrize("name", ["Bad", "_x", "-x", "a.b", "../x", "a" * 64, ""])
def test_invalid_project_name_is_422(api, name):
    r = api.post("/compose", json={"project": name, "compose": YAML})
    assert_problem(r, 422)


def test_up_validation(api):
    assert_problem(api.post("/compose", json={"project": "x"}), 400)
    assert_problem(api.post("/compose", json={"project": "x", "compose": 5}), 400)
    assert_problem(api.post("/compose", json={"project": "x", "compose": YAML, "extra": 1}), 400)
    assert_problem(api.get("/compose/Bad"), 404, "project_not_found")
    assert_problem(api.post("/compose/nothing-here/start"), 404, "project_not_found")
    assert_problem(api.delete("/compose/nothing-here"), 404, "project_not_found")


def test_failing_up_is_422_with_output(api, stack):
    p = "dpcfail"
    body = assert_problem(api.post("/compose", json={"project": p, "compose": "services: [not, a, mapping]\n"}),
                          422, "invalid_value")
    assert body["field"] == "services"
    assert not os.path.exists(os.path.join(stack.tmp, "httpd", "compose", p))
    # a file that passes the checks but fails in Compose (an image that cannot be pulled here)
    bad = YAML.replace("local/busybox:test", "local/dockpay-no-such-image:none")
    r = api.post("/compose", json={"project": p, "compose": bad}, timeout=300)
    body = assert_problem(r, 422, "compose_failed")
    assert body["output"]
    down(api, p)


def test_up_over_the_time_limit_is_504_and_kills_the_group(api, stack):
    """A stand-in compose command that never ends (it and a child sleep): DockpayComposeTimeout 1
    makes it a 504 with its output, and the whole process group is gone afterwards."""
    p = "dpcslow"
    script = os.path.join(stack.tmp, "httpd", "slow-compose.sh")
    with open(script, "w") as f:
        f.write('#!/bin/sh\necho "slow compose $*"\necho $$ > "$HOME/pid"\nsleep 60 &\necho $! > "$HOME/child"\n'
                'sleep 60\n')
    os.chmod(script, 0o755)
    stack.restart_httpd(extra_conf=f"DockpayComposeTimeout 1\nDockpayComposeCommand {script}")
    try:
        t0 = time.time()
        r = api.post("/compose", json={"project": p, "compose": YAML}, timeout=120)
        body = assert_problem(r, 504, "compose_timeout")
        assert time.time() - t0 < 15
        assert "slow compose -p dpcslow -f" in body["output"] and body["output"].rstrip().endswith("up -d")
        d = os.path.join(stack.tmp, "httpd", "compose", p)
        for f in ("pid", "child"):
            pid = int(open(os.path.join(d, f)).read())
            assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower() \
                or "\nState:\tZ" in open(f"/proc/{pid}/status").read(), f"{f} {pid} still runs"
    finally:
        stack.restart_httpd()
