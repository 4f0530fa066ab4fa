"""System: info, df, prune (defaults, flags, validation) and the events stream (NDJSON, SSE,
a self-ending stream with until, the stream cap)."""
import json
import threading
import time

import requests

from conftest import assert_problem


def test_info_and_df_shapes(api, stack):
    r = api.get("/system/info")
    assert r.status_code == 200, r.text
    info = r.json()
    for k in ("Containers", "Images", "ServerVersion", "Driver", "NCPU", "MemTotal"):
        assert k in info
    assert info["Driver"] == "vfs"
    r = api.get("/system/df")
    assert r.status_code == 200, r.text
    df = r.json()
    for k in ("LayersSize", "Images", "Containers", "Volumes"):
        assert k in df
    assert any("local/busybox:test" in (i.get("RepoTags") or []) for i in df["Images"])


def test_prune_removes_a_stopped_container(api, stack):
    cid = stack.docker("create", "--name", "dp-prune-me", "--network", "none", "local/busybox:test", "true").strip()
    r = api.post("/system/prune", json={"images": False, "networks": False})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"containers", "space_reclaimed"}
    assert cid in body["containers"]["ContainersDeleted"]
    assert isinstance(body["space_reclaimed"], int)
    assert stack.docker_api("GET", "/containers/dp-prune-me/json")[0] == 404


def test_prune_defaults_and_validation(api):
    r = api.post("/system/prune")
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"containers", "images", "networks", "space_reclaimed"}
    r = api.post("/system/prune", json={"containers": False, "images": False, "networks": False,
                                        "volumes": True, "build_cache": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"volumes", "build_cache", "space_reclaimed"}
    assert "SpaceReclaimed" in body["build_cache"]
    assert_problem(api.post("/system/prune", json={"bogus": True}), 400)
    assert_problem(api.post("/system/prune", json={"images": "yes"}), 400)


def create_later(stack, name, delay=1.0):
    def run():
        time.sleep(delay)
        stack.docker("create", "--name", name, "--network", "none", "local/busybox:test", "true")
    t = threading.Thread(target=run)
    t.start()
    return t


def test_events_stream_ndjson_sees_a_create_then_client_leaves(api, stack):
    name = "dp-events-ndjson"
    stack.docker("rm", "-f", name, check=False)
    r = api.get("/system/events", params={"type": "container"}, stream=True, timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/x-ndjson")
    t = create_later(stack, name)
    seen = None
    deadline = time.time() + 20
    for line in r.iter_lines():
        if not line:
            continue
        ev = json.loads(line)
        if ev.get("Action") == "create" and ev["Actor"]["Attributes"].get("name") == name:
            seen = ev
            break
        assert time.time() < deadline
    r.close()  # the client goes away
    t.join()
    assert seen and seen["Type"] == "container"
    stack.docker("rm", "-f", name)


def test_events_stream_sse(api, stack):
    name = "dp-events-sse"
    stack.docker("rm", "-f", name, check=False)
    r = api.get("/system/events", headers={"Accept": "text/event-stream"}, stream=True, timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    t = create_later(stack, name)
    found = False
    for line in r.iter_lines(decode_unicode=True):
        if line and line.startswith("data: "):
            ev = json.loads(line[6:])
            if ev.get("Action") == "create" and ev["Actor"]["Attributes"].get("name") == name:
                found = True
                break
    r.close()
    t.join()
    assert found
    stack.docker("rm", "-f", name)


def test_events_with_until_end_by_themselves(api, stack):
    since = int(time.time()) - 1
    name = "dp-events-until"
    stack.docker("rm", "-f", name, check=False)
    stack.docker("create", "--name", name, "--network", "none", "local/busybox:test", "true")
    until = int(time.time()) + 1
    r = api.get("/system/events", params={"since": since, "until": until, "type": "container"}, timeout=30)
    assert r.status_code == 200, r.text
    events = [json.loads(l) for l in r.text.splitlines() if l.strip()]
    assert any(e.get("Action") == "create" and e["Actor"]["Attributes"].get("name") == name for e in events)
    stack.docker("rm", "-f", name)


def test_events_validation(api):
    assert_problem(api.get("/system/events", params={"type": "bogus"}), 422)
    assert_problem(api.get("/system/events", params={"since": "1 2"}), 422)


def test_events_stream_cap_and_release(api, stack):
    """DockpayMaxStreams is 8 in the test config: the 9th stream is 503; closed streams free slots."""
    open_ = []
    try:
        for _ in range(8):
            r = requests.get(stack.base_url + "/system/events", stream=True, timeout=30,
                             headers={"Authorization": f"Bearer {stack.keys['admin']}"})
            assert r.status_code == 200
            open_.append(r)
        r = api.get("/system/events")
        body = assert_problem(r, 503, "too_many_streams")
        assert r.headers.get("Retry-After")
    finally:
        for r in open_:
            r.close()
    deadline = time.time() + 15
    while True:
        r = api.get("/system/events", params={"since": int(time.time()) - 1, "until": int(time.time())},
                    timeout=10)
        if r.status_code == 200:
            break
        assert time.time() < deadline, "stream slots were not released"
        time.sleep(0.5)
