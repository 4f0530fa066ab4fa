"""The event-fed container list (DockpayContainerCache, default On): after changes made by any
client (the docker CLI here, outside the API), GET /containers equals the engine's own list
(ids and State, filters included) within a short retry; changes made through the API show at
once; while the engine is down the list is a 503, never stale data. Correctness, not timing
(bench/ measures the freshness)."""
import json
import time
import urllib.parse

from conftest import assert_problem
from containers_util import IMAGE, create, made, uniq  # noqa: F401

RETRY = 2.0   # seconds a list may take to follow a change made outside the API


def docker_filters(params):
    """The engine's query for API list parameters (what the pass-through sends)."""
    params = list(params.items()) if isinstance(params, dict) else list(params or [])
    all_ = "1"
    filters = {}
    for k, v in params:
        if k == "all":
            all_ = "1" if v in ("true", "1") else "0"
        elif v:
            filters.setdefault(k, []).append(v)
    q = f"/containers/json?all={all_}"
    if filters:
        q += "&filters=" + urllib.parse.quote(json.dumps(filters))
    return q


def engine_view(stack, params=None):
    st, body = stack.docker_api("GET", docker_filters(params))
    assert st == 200, body
    return [(c["Id"], c["State"]) for c in body]


def api_view(api, params=None):
    r = api.get("/containers", params=params)
    assert r.status_code == 200, r.text
    return [(i["Id"], i["State"]) for i in r.json()["items"]]


def assert_follows(api, stack, params=None, timeout=RETRY):
    """GET /containers equals the engine's list within timeout (both asked again each round)."""
    end = time.time() + timeout
    while True:
        mine, theirs = api_view(api, params), engine_view(stack, params)
        if mine == theirs:
            return mine
        if time.time() > end:
            assert mine == theirs, f"list with {params} differs from the engine's after {timeout} s"
        time.sleep(0.02)


def views(tag, name):
    return [None, {"all": "false"}, {"label": f"suite={tag}"}, [("label", f"suite={tag}"), ("status", "running")],
            [("label", f"suite={tag}"), ("status", "exited"), ("status", "paused")], {"name": name},
            {"name": f"^{name}$", "all": "false"}, [("label", "suite"), ("label", "dockpay.managed=true")]]


def test_list_follows_cli_changes_with_filters(api, stack, made):
    tag, name = uniq("wt"), uniq("wcli")
    made.containers += [name, name + "-b"]

    def check():
        for p in views(tag, name):
            assert_follows(api, stack, p)

    check()
    stack.docker("create", "--name", name, "--label", f"suite={tag}", IMAGE, "sleep", "300")
    check()
    stack.docker("start", name)
    check()
    stack.docker("pause", name)
    check()
    stack.docker("unpause", name)
    check()
    stack.docker("stop", "-t", "0", name)
    check()
    stack.docker("rename", name, name + "-b")
    check()
    assert_follows(api, stack, {"name": name + "-b"})
    stack.docker("rm", "-f", name + "-b")
    check()
    assert name + "-b" not in {n for i in api.get("/containers").json()["items"] for n in i["Names"]}


def test_list_follows_bursts_and_short_lived_containers(api, stack, made):
    tag = uniq("wb")
    names = [uniq("wburst") for _ in range(5)]
    made.containers += names
    for n in names:
        stack.docker("run", "-d", "--name", n, "--label", f"suite={tag}", IMAGE, "sh", "-c", "sleep 0.3")
    assert_follows(api, stack, {"label": f"suite={tag}"})
    time.sleep(0.5)                                  # they exit by themselves (die without stop)
    assert_follows(api, stack, {"label": f"suite={tag}"})
    assert {s for _, s in api_view(api, {"label": f"suite={tag}"})} == {"exited"}
    stack.docker("run", "--rm", "--label", f"suite={tag}", IMAGE, "true")   # create..destroy
    stack.docker("rm", "-f", *names)
    assert_follows(api, stack, {"label": f"suite={tag}"})
    assert api_view(api, {"label": f"suite={tag}"}) == []


def test_changes_through_the_api_show_at_once(api, stack, made):
    tag = uniq("wapi")
    c = create(api, made, labels={"suite": tag})
    # no retry: the API call itself makes this process's next list ask for a fresh load
    assert api_view(api, {"label": f"suite={tag}"}) == [(c["id"], "created")]
    assert api.post(f"/containers/{c['id']}/start").status_code == 200
    assert api_view(api, {"label": f"suite={tag}"}) == [(c["id"], "running")]
    assert api.post(f"/containers/{c['id']}/stop", params={"t": "0"}).status_code == 200
    assert api_view(api, {"label": f"suite={tag}"}) == [(c["id"], "exited")]
    assert api.delete(f"/containers/{c['id']}").status_code == 204
    assert api_view(api, {"label": f"suite={tag}"}) == []


def test_answer_is_the_pass_through_answer(api, stack, made):
    """Same bytes with the cache on and off (apart from the Status text, which may lag)."""
    tag = uniq("wsame")
    for i in range(3):
        create(api, made, start=(i != 1), labels={"suite": tag, "n": str(i)})
    params = {"label": f"suite={tag}"}
    assert_follows(api, stack, params)
    on = api.get("/containers", params=params)
    stack.restart_httpd(extra_conf="DockpayContainerCache Off")
    try:
        off = api.get("/containers", params=params)
        assert off.status_code == on.status_code == 200
        assert off.headers["Content-Type"] == on.headers["Content-Type"]
        assert off.headers.get("Cache-Control") == on.headers.get("Cache-Control") == "no-store"

        def strip(items):
            return [{k: v for k, v in i.items() if k != "Status"} for i in items]
        assert strip(on.json()["items"]) == strip(off.json()["items"])
        assert_follows(api, stack, params)           # the pass-through follows trivially
        assert_problem(api.get("/containers", params={"all": "maybe"}), 400, "bad_query")
    finally:
        stack.restart_httpd()
    assert_follows(api, stack, params)
    assert_problem(api.get("/containers", params={"all": "maybe"}), 400, "bad_query")


def test_filters_only_docker_decides_still_work(api, stack, made):
    tag = uniq("wre")
    c = create(api, made, start=True, labels={"suite": tag})
    # a real regular expression and an invalid status are left to the engine
    r = api.get("/containers", params=[("label", f"suite={tag}"), ("name", "d[a-z]+-" + c["name"][4:])])
    assert r.status_code == 200 and [i["Id"] for i in r.json()["items"]] == [c["id"]]
    assert api.get("/containers", params={"status": "sleeping"}).status_code == 400


def test_engine_down_never_stale_then_follows_again(api, stack, made):
    tag = uniq("wdown")
    name = uniq("wdn")
    made.containers.append(name)
    stack.docker("run", "-d", "--name", name, "--label", f"suite={tag}", IMAGE, "sleep", "300")
    assert_follows(api, stack, {"label": f"suite={tag}"})
    stack.stop_docker()
    try:
        for _ in range(5):
            assert_problem(api.get("/containers"), 503, "docker_unavailable")
            assert_problem(api.get("/containers", params={"label": f"suite={tag}"}), 503, "docker_unavailable")
            time.sleep(0.1)
    finally:
        stack.start_docker()
    # the engine stopped the container with itself; the list says what the engine says now
    assert_follows(api, stack, {"label": f"suite={tag}"}, timeout=5)
    assert_follows(api, stack)
    stack.docker("start", name)
    assert_follows(api, stack, {"label": f"suite={tag}"})
    assert api_view(api, {"label": f"suite={tag}"})[0][1] == "running"
