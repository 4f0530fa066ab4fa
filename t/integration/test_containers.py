"""Containers through Apache: lifecycle (create, start, logs, stats, stop, restart, kill,
pause, delete), idempotent actions, list filters, Env hiding, 404s, 400/422 validation,
raw bodies, ?pull=, managed-only mode."""
import json

import pytest

from conftest import assert_problem
from containers_util import IMAGE, create, log_texts, made, names, uniq, wait_for  # noqa: F401


def state(stack, name):
    return json.loads(stack.docker("inspect", name))[0]["State"]


def test_lifecycle(api, stack, made):
    c = create(api, made, cmd=["sh", "-c", "echo hello-dockpay; sleep 300"], env={"A": "1"},
               labels={"team": "qa"}, memory="64m", cpus=0.5, restart="no")
    cid, name = c["id"], c["name"]
    assert len(cid) == 64 and name == made.containers[-1] and c["warnings"] == []
    info = json.loads(stack.docker("inspect", cid))[0]
    assert info["Config"]["Labels"]["dockpay.managed"] == "true"
    assert info["Config"]["Labels"]["dockpay.key"] == "admin"
    assert info["Config"]["Labels"]["team"] == "qa"
    assert info["HostConfig"]["Memory"] == 64 * 1024 * 1024 and info["HostConfig"]["NanoCpus"] == 500000000

    r = api.post(f"/containers/{name}/start")
    assert r.status_code == 200 and r.json() == {"changed": True}, r.text
    r = api.post(f"/containers/{name}/start")
    assert r.status_code == 200 and r.json() == {"changed": False}, r.text
    assert wait_for(lambda: "hello-dockpay" in log_texts(api, name), what="the printed line")

    r = api.get(f"/containers/{cid}/stats")
    assert r.status_code == 200, r.text
    s = r.json()
    assert "cpu_stats" in s and "memory_stats" in s
    summary = s["summary"]
    assert set(summary) == {"cpu_percent", "memory_usage", "memory_limit", "memory_percent", "net_rx", "net_tx",
                            "block_read", "block_write", "pids"}
    assert summary["pids"] >= 1 and summary["memory_limit"] == 64 * 1024 * 1024
    assert 0 <= summary["memory_percent"] <= 100 and summary["cpu_percent"] >= 0

    r = api.post(f"/containers/{name}/pause")
    assert r.status_code == 200 and r.json()["changed"] is True
    assert state(stack, name)["Status"] == "paused"
    assert_problem(api.post(f"/containers/{name}/pause"), 409)
    assert api.post(f"/containers/{name}/unpause").json()["changed"] is True

    r = api.post(f"/containers/{name}/stop", params={"t": "1"})
    assert r.status_code == 200 and r.json() == {"changed": True}, r.text
    assert not state(stack, name)["Running"]
    assert api.post(f"/containers/{name}/stop", params={"t": "1"}).json() == {"changed": False}
    r = api.get(f"/containers/{cid}/stats")                 # stopped: zeros, no error
    assert r.status_code == 200 and r.json()["summary"]["cpu_percent"] == 0

    r = api.post(f"/containers/{name}/restart", params={"t": "1"})
    assert r.status_code == 200 and r.json() == {"changed": True}, r.text
    assert state(stack, name)["Running"]
    assert_problem(api.post(f"/containers/{name}/stop", params={"t": "x"}), 400, "bad_query")
    r = api.post(f"/containers/{name}/kill", params={"signal": "SIGKILL"})
    assert r.status_code == 200 and r.json()["changed"] is True
    wait_for(lambda: not state(stack, name)["Running"], what="the kill")
    assert_problem(api.post(f"/containers/{name}/kill"), 409)    # not running

    r = api.delete(f"/containers/{name}")
    assert r.status_code == 204, r.text
    assert name not in names(stack)
    assert_problem(api.get(f"/containers/{cid}"), 404, "container_not_found")
    rows = stack.sql("SELECT target, status FROM audit_log WHERE method='DELETE' AND target=%s", name)
    assert rows and rows[-1][1] == "204"


def test_create_and_start_in_one_call_and_delete_running(api, stack, made):
    c = create(api, made, start=True, cmd=["sleep", "300"])
    assert c["started"] is True and state(stack, c["id"])["Running"]
    assert_problem(api.delete(f"/containers/{c['id']}"), 409)     # running, no force
    r = api.delete(f"/containers/{c['id']}", params={"force": "true", "volumes": "true"})
    assert r.status_code == 204
    assert c["name"] not in names(stack)


def test_list_filters(api, stack, made):
    tag = uniq("lbl")
    a = create(api, made, start=True, cmd=["sleep", "300"], labels={"suite": tag})
    b = create(api, made, cmd=["true"], labels={"suite": tag})
    r = api.get("/containers", params={"label": f"suite={tag}"})
    assert r.status_code == 200, r.text
    assert {i["Id"] for i in r.json()["items"]} == {a["id"], b["id"]}
    r = api.get("/containers", params={"label": f"suite={tag}", "all": "false"})
    assert [i["Id"] for i in r.json()["items"]] == [a["id"]]
    r = api.get("/containers", params=[("label", f"suite={tag}"), ("status", "created")])
    assert [i["Id"] for i in r.json()["items"]] == [b["id"]]
    r = api.get("/containers", params=[("label", f"suite={tag}"), ("label", "dockpay.managed=true"),
                                       ("name", a["name"])])
    assert [i["Id"] for i in r.json()["items"]] == [a["id"]]
    assert_problem(api.get("/containers", params={"all": "maybe"}), 400, "bad_query")


def test_env_values_hidden_without_admin_scope(api, stack, made):
    c = create(api, made, key=stack.keys["docker_write"], env={"DB_PASSWORD": "hunter2", "MODE": "x=y"})
    # a read-only key owns nothing: it cannot see another key's container at all
    assert_problem(api.get(f"/containers/{c['id']}", key=stack.keys["docker_read"]), 404, "container_not_found")
    r = api.get(f"/containers/{c['id']}", key=stack.keys["docker_write"])   # the owner, not admin
    assert r.status_code == 200, r.text
    env = r.json()["Config"]["Env"]
    assert "DB_PASSWORD=***" in env and "MODE=***" in env
    assert "hunter2" not in r.text
    r = api.get(f"/containers/{c['name']}")                           # admin sees them
    assert "DB_PASSWORD=hunter2" in r.json()["Config"]["Env"]


def test_docker_read_key_cannot_create(api, stack, made):
    r = api.post("/containers", json={"image": IMAGE}, key=stack.keys["docker_read"])
    assert_problem(r, 403, "insufficient_scope")


@pytest.mark.parametrize("path", [
    "/containers/no-such-container", "/containers/..", "/containers/a%20b", "/containers/..%5Cimages",
    "/containers/%2E%2E",
    "/containers/-x", "/containers/" + "a" * 129,
])
def test_unknown_or_invalid_ids_are_404(api, path):
    assert_problem(api.get(path), 404)
    if path.count("/") == 2:
        for m, suffix in [("POST", "/start"), ("POST", "/stop"), ("POST", "/kill"), ("GET", "/logs"),
                          ("GET", "/stats")]:
            assert_problem(api.request(m, path + suffix), 404)
        assert_problem(api.delete(path), 404)


@pytest.mark.parametrize("body,field", [
    ({"ports": ["8080:x"]}, "ports[0]"),
    ({"ports": ["80", "99999:80"]}, "ports[1]"),
    ({"ports": ["127.0.0.1:8443:443/icmp"]}, "ports[0]"),
    ({"memory": "12q"}, "memory"),
    ({"memory": "1k"}, "memory"),
    ({"cpus": 0}, "cpus"),
    ({"volumes": ["data:relative"]}, "volumes[0]"),
    ({"volumes": ["data:/x:sideways"]}, "volumes[0]"),
    ({"restart": "sometimes"}, "restart"),
    ({"restart": "on-failure:x"}, "restart"),
    ({"env": ["NOVALUE"]}, "env[0]"),
    ({"name": "bad name"}, "name"),
])
def test_invalid_values_are_422_naming_the_field(api, stack, body, field):
    before = names(stack)
    r = api.post("/containers", json={"image": IMAGE, **body})
    p = assert_problem(r, 422, "invalid_value")
    assert p["field"] == field and field in p["detail"], p
    assert names(stack) == before


@pytest.mark.parametrize("body,status", [
    ({"image": IMAGE, "ports": "8080:80"}, 400),
    ({"image": IMAGE, "env": "A=B"}, 400),
    ({"image": IMAGE, "cmd": "echo hi"}, 400),
    ({"image": IMAGE, "cpus": "1"}, 400),
    ({"image": IMAGE, "privileged": True}, 400),          # unknown field
    ({"name": "x"}, 400),                                  # no image
])
def test_malformed_bodies_are_400(api, body, status):
    assert_problem(api.post("/containers", json=body), status)


def test_not_json_and_wrong_content_type(api):
    assert_problem(api.post("/containers", data="{", headers={"Content-Type": "application/json"}), 400)
    assert_problem(api.post("/containers", data="image=x", headers={"Content-Type": "text/plain"}), 415)


def test_name_conflict_and_missing_image(api, made):
    c = create(api, made)
    r = api.post("/containers", json={"image": IMAGE, "name": c["name"], "cmd": ["true"]})
    assert_problem(r, 409)
    assert_problem(api.post("/containers", json={"image": "local/nope:none", "name": uniq(), "cmd": ["true"]}), 404, "image_not_found")


def test_raw_body_and_tty_logs(api, stack, made):
    name = uniq()
    made.containers.append(name)
    r = api.post("/containers", params={"start": "true"}, json={"name": name, "docker": {
        "Image": IMAGE, "Tty": True, "Cmd": ["sh", "-c", "echo tty-line; sleep 300"],
        "HostConfig": {"Memory": 32 * 1024 * 1024}}})
    assert r.status_code == 201, r.text
    info = json.loads(stack.docker("inspect", name))[0]
    assert info["Config"]["Tty"] is True and info["Config"]["Labels"]["dockpay.managed"] == "true"
    assert wait_for(lambda: "tty-line" in log_texts(api, name), what="the TTY line")
    r = api.get(f"/containers/{name}/logs", headers={"Accept": "text/plain"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert "tty-line\n" in r.text


def test_pull_missing_image_first(api, stack, made):
    ref = f"localhost:5000/{uniq('pull')}:t1"
    stack.docker("tag", IMAGE, ref)
    stack.docker("push", ref)
    stack.docker("rmi", ref)
    try:
        c = create(api, made, image=ref, cmd=["true"], expect=404)         # not there, no ?pull
        assert c["code"] == "image_not_found"
        name = uniq()
        made.containers.append(name)
        r = api.post("/containers", params={"pull": "true"}, json={"image": ref, "name": name, "cmd": ["true"]})
        assert r.status_code == 201, r.text
        r = api.post("/containers", params={"pull": "true"},
                     json={"image": "localhost:5000/dpc-missing-repo:x", "name": uniq()})
        assert_problem(r, 404)
    finally:
        stack.docker("rm", "-f", *made.containers, check=False)
        stack.docker("rmi", "-f", ref, check=False)


def test_managed_only(api, stack, made):
    outside = uniq("cli")
    made.containers.append(outside)
    stack.docker("run", "-d", "--name", outside, IMAGE, "sleep", "300")
    stack.restart_httpd(extra_conf="DockpayManagedOnly On")
    try:
        mine = create(api, made, start=True, cmd=["sh", "-c", "echo managed; sleep 300"])
        ids = {i["Id"] for i in api.get("/containers").json()["items"]}
        assert mine["id"] in ids
        assert all(i["Labels"].get("dockpay.managed") == "true" for i in api.get("/containers").json()["items"])
        assert outside not in {n.lstrip("/") for i in api.get("/containers").json()["items"] for n in i["Names"]}
        for m, suffix in [("GET", ""), ("POST", "/stop"), ("POST", "/start"), ("POST", "/kill"), ("GET", "/logs"),
                          ("GET", "/stats"), ("DELETE", "")]:
            assert_problem(api.request(m, f"/containers/{outside}{suffix}"), 404, "container_not_found")
        assert state(stack, outside)["Running"]                 # untouched
        assert api.get(f"/containers/{mine['name']}").status_code == 200
        assert api.post(f"/containers/{mine['name']}/stop", params={"t": "0"}).json()["changed"] is True
        assert api.delete(f"/containers/{mine['name']}").status_code == 204
    finally:
        stack.restart_httpd()
    assert api.get(f"/containers/{outside}").status_code == 200
