"""Ownership and quotas (issue 11): a non-admin key sees and acts only on what it created.
The attacker is stack.keys["docker_write2"]; the victims are objects made by
stack.keys["docker_write"], by admin and by the docker CLI directly (owned by nobody). Every
refusal is checked for its status and code AND for an unchanged engine."""
import json
import time

import pytest

from attack_util import assert_engine_unchanged, engine_snapshot, refused
from conftest import assert_problem
from containers_util import IMAGE, uniq

OWNERS = ["docker_write", "admin", "cli"]


class World:
    """What the module's tests attack: per owner a running container, a stopped container,
    an unused volume and an unused network, plus the attacker's own of each."""

    def __init__(self, api, stack):
        self.api, self.stack = api, stack
        self.t0 = int(time.time()) - 1
        self.containers, self.stopped, self.volumes, self.networks = {}, {}, {}, {}
        for owner in OWNERS + ["own"]:
            self.containers[owner] = self.container(owner, start=True)
            self.stopped[owner] = self.container(owner, start=False)
            self.volumes[owner] = self.volume(owner)
            self.networks[owner] = self.network(owner)

    def key(self, owner):
        return self.stack.keys["docker_write2" if owner == "own" else owner]

    def container(self, owner, start):
        name = uniq("dpown")
        if owner == "cli":
            args = ["run", "-d"] if start else ["create"]
            self.stack.docker(*args, "--name", name, IMAGE, "sleep", "3600")
            cid = self.stack.docker("inspect", "-f", "{{.Id}}", name).strip()
        else:
            r = self.api.post("/containers", key=self.key(owner), params={"start": str(start).lower()},
                              json={"image": IMAGE, "name": name, "cmd": ["sleep", "3600"]})
            assert r.status_code == 201, r.text
            cid = r.json()["id"]
        return {"name": name, "id": cid}

    def volume(self, owner):
        name = uniq("dpownv")
        if owner == "cli":
            self.stack.docker("volume", "create", name)
        else:
            r = self.api.post("/volumes", key=self.key(owner), json={"name": name})
            assert r.status_code == 201, r.text
        return name

    def network(self, owner):
        name = uniq("dpownn")
        if owner == "cli":
            self.stack.docker("network", "create", name)
        else:
            r = self.api.post("/networks", key=self.key(owner), json={"name": name})
            assert r.status_code == 201, r.text
        return name

    def cleanup(self):
        for c in list(self.containers.values()) + list(self.stopped.values()):
            self.stack.docker("rm", "-f", c["id"], check=False)
        for v in self.volumes.values():
            self.stack.docker("volume", "rm", "-f", v, check=False)
        for n in self.networks.values():
            self.stack.docker("network", "rm", n, check=False)


@pytest.fixture(scope="module")
def world(stack):
    from conftest import Api
    api = Api(stack)
    w = World(api, stack)
    yield w
    w.cleanup()
    api.session.close()


def attacker(stack):
    return stack.keys["docker_write2"]


def exists(stack, kind, name):
    args = {"container": ["inspect", "--type", "container"], "volume": ["volume", "inspect"],
            "network": ["network", "inspect"]}[kind]
    return stack.docker(*args, name, check=False).strip() not in ("", "[]")


# --------------------------------------------------------------------------------------------
# containers


def test_container_list_shows_only_own(api, stack, world):
    for params in [{}, {"all": "true"}, {"label": "dockpay.key=docker_write"}, {"name": "dpown"}]:
        r = api.get("/containers", key=attacker(stack), params=params)
        assert r.status_code == 200, r.text
        ids = {c["Id"] for c in r.json()["items"]}
        for owner in OWNERS:
            assert world.containers[owner]["id"] not in ids and world.stopped[owner]["id"] not in ids
        if "label" not in params:
            assert world.containers["own"]["id"] in ids
            assert all(c["Labels"].get("dockpay.key") == "docker_write2" for c in r.json()["items"])


def test_container_list_relay_without_cache_shows_only_own(api, stack, world):
    stack.restart_httpd(extra_conf="DockpayContainerCache Off")
    try:
        r = api.get("/containers", key=attacker(stack))
        assert r.status_code == 200, r.text
        ids = {c["Id"] for c in r.json()["items"]}
        assert world.containers["own"]["id"] in ids and world.stopped["own"]["id"] in ids
        assert not ids & {world.containers[o]["id"] for o in OWNERS}
        assert all(c["Labels"].get("dockpay.key") == "docker_write2" for c in r.json()["items"])
    finally:
        stack.restart_httpd()


CONTAINER_OPS = [("GET", ""), ("GET", "/logs"), ("GET", "/logs?follow=true"), ("GET", "/stats"),
                 ("POST", "/start"), ("POST", "/stop?t=0"), ("POST", "/restart?t=0"), ("POST", "/kill"),
                 ("POST", "/pause"), ("POST", "/unpause"), ("DELETE", "?force=true")]


@pytest.mark.parametrize("owner", OWNERS)
@pytest.mark.parametrize("method,suffix", CONTAINER_OPS)
def test_foreign_container_is_404(api, stack, world, owner, method, suffix):
    target = world.stopped[owner] if suffix in ("/start", "/unpause") else world.containers[owner]
    before = engine_snapshot(stack)
    for ref in (target["id"], target["name"]):
        r = api.request(method, f"/containers/{ref}{suffix}", key=attacker(stack), timeout=30)
        refused(stack, r, 404, "container_not_found")
    assert_engine_unchanged(stack, before)


def test_foreign_container_404_is_the_same_as_missing(api, stack, world):
    missing = assert_problem(api.get("/containers/dpown-no-such", key=attacker(stack)), 404, "container_not_found")
    foreign = assert_problem(api.get(f"/containers/{world.containers['docker_write']['name']}",
                                     key=attacker(stack)), 404, "container_not_found")
    assert missing["title"] == foreign["title"] and missing["code"] == foreign["code"]
    assert "docker_write" not in foreign["detail"]


def test_owner_and_admin_manage_their_view(api, stack, world):
    c = world.containers["docker_write"]
    owner = stack.keys["docker_write"]
    assert api.get(f"/containers/{c['name']}", key=owner).status_code == 200
    assert api.get(f"/containers/{c['id']}/logs", key=owner).status_code == 200
    assert api.get(f"/containers/{c['id']}/stats", key=owner).status_code == 200
    r = api.post(f"/containers/{c['id']}/pause", key=owner)
    assert r.status_code == 200 and r.json()["changed"] is True, r.text
    r = api.post(f"/containers/{c['id']}/unpause", key=owner)
    assert r.status_code == 200 and r.json()["changed"] is True, r.text
    ids = {x["Id"] for x in api.get("/containers", key=owner).json()["items"]}
    assert c["id"] in ids and world.containers["own"]["id"] not in ids
    # admin sees everything: every owner's containers and the CLI's
    ids = {x["Id"] for x in api.get("/containers").json()["items"]}
    assert {world.containers[o]["id"] for o in OWNERS + ["own"]} <= ids
    assert api.get(f"/containers/{world.containers['cli']['id']}").status_code == 200
    # a read-only key owns nothing and sees nothing
    r = api.get("/containers", key=stack.keys["docker_read"])
    assert r.status_code == 200 and r.json()["items"] == [], r.text


# --------------------------------------------------------------------------------------------
# volumes and networks


@pytest.mark.parametrize("owner", OWNERS)
def test_foreign_volume_is_404(api, stack, world, owner):
    name = world.volumes[owner]
    names = {v["Name"] for v in api.get("/volumes", key=attacker(stack)).json()["items"]}
    assert name not in names and world.volumes["own"] in names
    before = engine_snapshot(stack)
    refused(stack, api.get(f"/volumes/{name}", key=attacker(stack)), 404, "volume_not_found")
    refused(stack, api.delete(f"/volumes/{name}?force=true", key=attacker(stack)), 404, "volume_not_found")
    # creating a volume of the same name must not hand the other's volume over
    refused(stack, api.post("/volumes", key=attacker(stack), json={"name": name}), 409, "volume_exists")
    assert_engine_unchanged(stack, before)


@pytest.mark.parametrize("owner", OWNERS)
def test_foreign_network_is_404(api, stack, world, owner):
    name = world.networks[owner]
    names = {n["Name"] for n in api.get("/networks", key=attacker(stack)).json()["items"]}
    assert name not in names and world.networks["own"] in names
    assert "bridge" not in names   # the engine's own networks belong to nobody
    before = engine_snapshot(stack)
    refused(stack, api.get(f"/networks/{name}", key=attacker(stack)), 404, "network_not_found")
    refused(stack, api.delete(f"/networks/{name}", key=attacker(stack)), 404, "network_not_found")
    assert_engine_unchanged(stack, before)


def test_owner_sees_its_volume_and_network_labelled(api, stack, world):
    r = api.get(f"/volumes/{world.volumes['own']}", key=attacker(stack))
    assert r.status_code == 200 and r.json()["Labels"]["dockpay.key"] == "docker_write2", r.text
    r = api.get(f"/networks/{world.networks['own']}", key=attacker(stack))
    assert r.status_code == 200 and r.json()["Labels"]["dockpay.key"] == "docker_write2", r.text
    assert api.get(f"/volumes/{world.volumes['cli']}").status_code == 200          # admin: all
    assert api.get(f"/networks/{world.networks['docker_write']}").status_code == 200


@pytest.mark.parametrize("owner", OWNERS)
def test_connect_foreign_container_to_own_network(api, stack, world, owner):
    before = engine_snapshot(stack)
    r = api.post(f"/networks/{world.networks['own']}/connect", key=attacker(stack),
                 json={"container": world.containers[owner]["name"]})
    refused(stack, r, 404, "container_not_found")
    assert_engine_unchanged(stack, before)


@pytest.mark.parametrize("owner", OWNERS)
def test_connect_own_container_to_foreign_network(api, stack, world, owner):
    before = engine_snapshot(stack)
    r = api.post(f"/networks/{world.networks[owner]}/connect", key=attacker(stack),
                 json={"container": world.containers["own"]["name"]})
    refused(stack, r, 404, "network_not_found")
    assert_engine_unchanged(stack, before)


@pytest.mark.parametrize("owner", OWNERS)
def test_disconnect_both_directions(api, stack, world, owner):
    # the CLI joins a foreign container to the attacker's network and the attacker's container
    # to a foreign network; the attacker may part neither
    own_net, foreign_net = world.networks["own"], world.networks[owner]
    foreign_c, own_c = world.containers[owner]["name"], world.containers["own"]["name"]
    stack.docker("network", "connect", own_net, foreign_c)
    stack.docker("network", "connect", foreign_net, own_c)
    try:
        before = engine_snapshot(stack)
        r = api.post(f"/networks/{own_net}/disconnect", key=attacker(stack), json={"container": foreign_c})
        refused(stack, r, 404, "container_not_found")
        r = api.post(f"/networks/{foreign_net}/disconnect", key=attacker(stack), json={"container": own_c})
        refused(stack, r, 404, "network_not_found")
        assert_engine_unchanged(stack, before)
    finally:
        stack.docker("network", "disconnect", "-f", own_net, foreign_c, check=False)
        stack.docker("network", "disconnect", "-f", foreign_net, own_c, check=False)


def test_connect_own_to_own_works(api, stack, world):
    net, c = world.networks["own"], world.containers["own"]["name"]
    r = api.post(f"/networks/{net}/connect", key=attacker(stack), json={"container": c})
    assert r.status_code == 200 and r.json()["changed"] is True, r.text
    r = api.post(f"/networks/{net}/disconnect", key=attacker(stack), json={"container": c})
    assert r.status_code == 200 and r.json()["changed"] is True, r.text


# --------------------------------------------------------------------------------------------
# create into foreign networks and volumes


@pytest.mark.parametrize("owner", OWNERS + ["missing"])
def test_create_into_foreign_network_is_refused(api, stack, world, owner):
    net = world.networks.get(owner, "dpown-no-such-net")
    before = engine_snapshot(stack)
    r = api.post("/containers", key=attacker(stack), json={"image": IMAGE, "name": uniq("dpown"), "network": net})
    refused(stack, r, 403, "policy_denied", "HostConfig.NetworkMode")
    r = api.post("/containers", key=attacker(stack), json={"name": uniq("dpown"), "docker": {
        "Image": IMAGE, "NetworkingConfig": {"EndpointsConfig": {net: {}}}}})
    refused(stack, r, 403, "policy_denied", "NetworkingConfig")
    # Docker merges every spelling of NetworkingConfig: the foreign one must not hide behind another
    r = api.post("/containers", key=attacker(stack), json={"name": uniq("dpown"), "docker": {
        "Image": IMAGE, "networkingConfig": {"EndpointsConfig": {net: {}}},
        "NetworkingConfig": {"EndpointsConfig": {world.networks["own"]: {}}}}})
    refused(stack, r, 403, "policy_denied", "NetworkingConfig")
    assert_engine_unchanged(stack, before)


@pytest.mark.parametrize("owner", OWNERS)
def test_create_with_foreign_named_volume_is_refused(api, stack, world, owner):
    vol = world.volumes[owner]
    before = engine_snapshot(stack)
    r = api.post("/containers", key=attacker(stack),
                 json={"image": IMAGE, "name": uniq("dpown"), "volumes": [f"{vol}:/data"]})
    refused(stack, r, 403, "policy_denied", "HostConfig.Binds")
    r = api.post("/containers", key=attacker(stack), json={"name": uniq("dpown"), "docker": {
        "Image": IMAGE, "HostConfig": {"Mounts": [{"Type": "volume", "Source": vol, "Target": "/data"}]}}})
    refused(stack, r, 403, "policy_denied", "HostConfig.Mounts")
    assert_engine_unchanged(stack, before)


@pytest.mark.parametrize("owner", OWNERS)
def test_create_linking_a_foreign_container_is_refused(api, stack, world, owner):
    # a legacy link would hand the new container the other's environment and address
    victim = world.containers[owner]["name"]
    before = engine_snapshot(stack)
    r = api.post("/containers", key=attacker(stack), json={"name": uniq("dpown"), "docker": {
        "Image": IMAGE, "HostConfig": {"Links": [f"{victim}:db"]}}})
    refused(stack, r, 403, "policy_denied", "HostConfig.Links")
    assert_engine_unchanged(stack, before)


def test_create_with_own_network_and_new_volume_labels_the_volume(api, stack, world):
    name, vol = uniq("dpown"), uniq("dpownv")
    try:
        r = api.post("/containers", key=attacker(stack), json={
            "image": IMAGE, "name": name, "cmd": ["true"], "network": world.networks["own"],
            "volumes": [f"{vol}:/data"]})
        assert r.status_code == 201, r.text
        r = api.get(f"/volumes/{vol}", key=attacker(stack))
        assert r.status_code == 200, r.text
        assert r.json()["Labels"]["dockpay.key"] == "docker_write2"
        assert_problem(api.get(f"/volumes/{vol}", key=stack.keys["docker_write"]), 404, "volume_not_found")
    finally:
        stack.docker("rm", "-f", name, check=False)
        stack.docker("volume", "rm", "-f", vol, check=False)


# --------------------------------------------------------------------------------------------
# events, prune, df


def test_events_show_only_own_objects(api, stack, world):
    # every owner's containers were created and started after world.t0
    time.sleep(1)
    r = api.get("/system/events", key=attacker(stack),
                params={"since": str(world.t0), "until": str(int(time.time()))}, timeout=30)
    assert r.status_code == 200, r.text
    events = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    ids = {(e.get("Actor") or {}).get("ID") for e in events}
    assert world.containers["own"]["id"] in ids
    for owner in OWNERS:
        assert world.containers[owner]["id"] not in ids and world.stopped[owner]["id"] not in ids
    assert all((e.get("Actor") or {}).get("Attributes", {}).get("dockpay.key") == "docker_write2"
               for e in events), events[:3]
    # with a type filter too (both filters reach the engine)
    r = api.get("/system/events", key=attacker(stack), timeout=30,
                params={"since": str(world.t0), "until": str(int(time.time())), "type": "container"})
    assert r.status_code == 200, r.text
    typed = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    assert typed and all(e["Type"] == "container" for e in typed)
    assert world.containers["own"]["id"] in {(e.get("Actor") or {}).get("ID") for e in typed}
    assert all(e["Actor"]["Attributes"].get("dockpay.key") == "docker_write2" for e in typed)
    # admin sees the others'
    r = api.get("/system/events", params={"since": str(world.t0), "until": str(int(time.time()))}, timeout=30)
    ids = {(json.loads(l).get("Actor") or {}).get("ID") for l in r.text.splitlines() if l.strip()}
    assert world.containers["cli"]["id"] in ids and world.containers["docker_write"]["id"] in ids


def test_prune_leaves_others_objects(api, stack, world):
    mine = world.container("own", start=False)
    my_vol, my_net = world.volume("own"), world.network("own")
    r = api.post("/system/prune", key=attacker(stack),
                 json={"containers": True, "networks": True, "volumes": True, "images": True})
    assert r.status_code == 200, r.text
    for owner in OWNERS:
        assert exists(stack, "container", world.stopped[owner]["id"]), owner
        assert exists(stack, "volume", world.volumes[owner]), owner
        assert exists(stack, "network", world.networks[owner]), owner
    # its own unused objects went
    assert not exists(stack, "container", mine["id"])
    assert not exists(stack, "volume", my_vol)
    assert not exists(stack, "network", my_net)
    # the world's own objects are gone too now: make them again for later tests
    world.stopped["own"] = world.container("own", start=False)
    world.volumes["own"] = world.volume("own")
    world.networks["own"] = world.network("own")


def test_prune_build_cache_is_admin_only(api, stack):
    before = engine_snapshot(stack)
    r = api.post("/system/prune", key=attacker(stack), json={"build_cache": True})
    refused(stack, r, 403, "policy_denied", "build_cache")
    assert_engine_unchanged(stack, before)


def test_df_shows_only_own(api, stack, world):
    r = api.get("/system/df", key=attacker(stack))
    assert r.status_code == 200, r.text
    df = r.json()
    cids = {c["Id"] for c in df["Containers"]}
    vols = {v["Name"] for v in df["Volumes"]}
    assert world.containers["own"]["id"] in cids and world.volumes["own"] in vols
    for owner in OWNERS:
        assert world.containers[owner]["id"] not in cids and world.volumes[owner] not in vols
    assert df["BuildCache"] == [] and "LayersSize" not in df
    r = api.get("/system/df")   # admin: everything
    assert world.containers["cli"]["id"] in {c["Id"] for c in r.json()["Containers"]}


# --------------------------------------------------------------------------------------------
# quotas (the harness's docker_quota key: containers=2 memory=96m volumes=1)


@pytest.fixture
def quota_made(stack):
    made = {"containers": [], "volumes": []}
    yield made
    for c in made["containers"]:
        stack.docker("rm", "-f", c, check=False)
    for v in made["volumes"]:
        stack.docker("volume", "rm", "-f", v, check=False)


def qcreate(api, stack, made, memory="32m", raw=False):
    name = uniq("dpq")
    made["containers"].append(name)
    if raw:
        body = {"name": name, "docker": {"Image": IMAGE, "Cmd": ["sleep", "60"],
                                         "HostConfig": {"Memory": 32 * 1024 * 1024}}}
    else:
        body = {"image": IMAGE, "name": name, "cmd": ["sleep", "60"]}
        if memory:
            body["memory"] = memory
    return api.post("/containers", key=stack.keys["docker_quota"], json=body)


def test_quota_containers(api, stack, quota_made):
    assert qcreate(api, stack, quota_made).status_code == 201
    assert qcreate(api, stack, quota_made, raw=True).status_code == 201
    before = engine_snapshot(stack)
    for raw in (False, True):
        body = refused(stack, qcreate(api, stack, quota_made, raw=raw), 403, "quota_exceeded")
        assert body["quota"] == "containers" and body["used"] == 2 and body["limit"] == 2, body
        assert "containers" in body["detail"] and "2" in body["detail"]
    assert_engine_unchanged(stack, before)
    # stopped containers count too; removing one frees a place
    stack.docker("rm", "-f", quota_made["containers"][0])
    assert qcreate(api, stack, quota_made).status_code == 201


def test_quota_memory(api, stack, quota_made):
    assert qcreate(api, stack, quota_made, memory="64m").status_code == 201
    before = engine_snapshot(stack)
    body = refused(stack, qcreate(api, stack, quota_made, memory="64m"), 403, "quota_exceeded")
    assert body["quota"] == "memory" and body["used"] == 64 * 1024 * 1024 and body["limit"] == 96 * 1024 * 1024
    # a container without a memory limit gets the create policy's default (512m), over the quota
    body = refused(stack, qcreate(api, stack, quota_made, memory=None), 403, "quota_exceeded")
    assert body["quota"] == "memory" and body["requested"] == 512 * 1024 * 1024, body
    assert_engine_unchanged(stack, before)
    assert qcreate(api, stack, quota_made, memory="32m").status_code == 201   # 96m exactly


def test_quota_volumes(api, stack, quota_made):
    v1, v2 = uniq("dpqv"), uniq("dpqv")
    quota_made["volumes"] += [v1, v2]
    r = api.post("/volumes", key=stack.keys["docker_quota"], json={"name": v1})
    assert r.status_code == 201, r.text
    before = engine_snapshot(stack)
    body = refused(stack, api.post("/volumes", key=stack.keys["docker_quota"], json={"name": v2}), 403,
                   "quota_exceeded")
    assert body["quota"] == "volumes" and body["used"] == 1 and body["limit"] == 1, body
    # a named volume a container create would make counts as well
    name = uniq("dpq")
    quota_made["containers"].append(name)
    r = api.post("/containers", key=stack.keys["docker_quota"],
                 json={"image": IMAGE, "name": name, "memory": "16m", "volumes": [f"{v2}:/data"]})
    body = refused(stack, r, 403, "quota_exceeded")
    assert body["quota"] == "volumes"
    assert_engine_unchanged(stack, before)


def test_quota_concurrent_creates_do_not_overshoot(api, stack, quota_made):
    # six creates at once by one key with containers=2: the check and the create are serialised
    from concurrent.futures import ThreadPoolExecutor
    from conftest import Api

    def one(_):
        a = Api(stack)
        try:
            return qcreate(a, stack, quota_made, memory="16m")
        finally:
            a.session.close()

    with ThreadPoolExecutor(max_workers=6) as ex:
        results = list(ex.map(one, range(6)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 201, 403, 403, 403, 403], [r.text for r in results]
    for r in results:
        if r.status_code == 403:
            assert r.json()["code"] == "quota_exceeded" and r.json()["quota"] == "containers"
    st, cs = stack.docker_api("GET", '/containers/json?all=1&filters={"label":["dockpay.key=docker_quota"]}')
    assert st == 200 and len(cs) == 2, cs


def test_quota_concurrent_creates_on_two_servers_do_not_overshoot(api, stack, quota_made):
    # with one of its two containers made, the key sends eight creates at once, half to each of
    # two httpd servers on one database (as to the processes of one server): each server alone
    # would count one used and let one through; the key's lock is in the database, so one passes.
    # Four rounds (the one that passed is removed after each), as one round may not overlap.
    import threading
    from conftest import Api
    from second_server import second_server

    assert qcreate(api, stack, quota_made, memory="16m").status_code == 201
    first = quota_made["containers"][-1]
    listed = '/containers/json?all=1&filters={"label":["dockpay.key=docker_quota"]}'
    with second_server(stack) as two:
        for _ in range(4):
            go = threading.Barrier(8)
            results = [None] * 8

            def one(i):
                name = uniq("dpq")
                quota_made["containers"].append(name)
                body = {"image": IMAGE, "name": name, "cmd": ["sleep", "60"], "memory": "16m"}
                a = Api(stack)
                go.wait()
                try:
                    if i % 2:
                        results[i] = two.post("/containers", body, key=stack.keys["docker_quota"])
                    else:
                        results[i] = a.post("/containers", key=stack.keys["docker_quota"], json=body)
                finally:
                    a.session.close()

            ts = [threading.Thread(target=one, args=(i,)) for i in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            codes = sorted(r.status_code for r in results)
            st, cs = stack.docker_api("GET", listed)
            assert codes == [201] + [403] * 7, ([r.text for r in results], [c["Names"] for c in cs])
            for r in results:
                if r.status_code == 403:
                    assert r.json()["code"] == "quota_exceeded" and r.json()["quota"] == "containers"
            assert st == 200 and len(cs) == 2, cs
            for c in cs:
                if c["Names"] != ["/" + first]:
                    stack.docker("rm", "-f", c["Id"])


def test_server_default_quota_applies_to_non_admin_keys_only(api, stack, world, quota_made):
    stack.restart_httpd(extra_conf="DockpayQuotaContainers 1\nDockpayQuotaMemory unlimited")
    try:
        before = engine_snapshot(stack)
        r = api.post("/containers", key=attacker(stack), json={"image": IMAGE, "name": uniq("dpq")})
        body = refused(stack, r, 403, "quota_exceeded")
        assert body["quota"] == "containers" and body["limit"] == 1 and body["used"] >= 2, body
        assert_engine_unchanged(stack, before)
        # the key's own line wins over the server default (docker_quota: containers=2)
        assert qcreate(api, stack, quota_made).status_code == 201
        assert qcreate(api, stack, quota_made).status_code == 201
        # admin keys have no quota unless their own line sets one (admin owns more than one)
        for _ in range(2):
            name = uniq("dpq")
            quota_made["containers"].append(name)
            r = api.post("/containers", json={"image": IMAGE, "name": name, "cmd": ["true"]})
            assert r.status_code == 201, r.text
    finally:
        stack.restart_httpd()


@pytest.mark.parametrize("directive", [
    "DockpayQuotaContainers -1", "DockpayQuotaContainers many", "DockpayQuotaMemory lots",
    "DockpayQuotaCpus 2000", "DockpayQuotaCpus 0.5.1", "DockpayQuotaVolumes 1e3",
])
def test_bad_quota_directive_fails_config_test_naming_it(stack, tmp_path, directive):
    r = stack.config_test(tmp_path, directive)
    assert r.returncode != 0
    assert directive.split()[0] in (r.stdout + r.stderr)


def test_good_quota_directives_pass_config_test(stack, tmp_path):
    r = stack.config_test(tmp_path, (
        "\nDockpayQuotaContainers 0\nDockpayQuotaMemory 8g\nDockpayQuotaCpus 0.5\nDockpayQuotaVolumes unlimited\n"))
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------------------------------------------
# Compose project membership is read from com.docker.compose.* labels: no caller may set them
# (a container labelled with another key's project name would make that project look foreign)

@pytest.mark.parametrize("route,body", [
    ("/containers", {"image": IMAGE, "cmd": ["true"], "labels": {"com.docker.compose.project": "victim"}}),
    ("/containers", {"docker": {"Image": IMAGE, "Cmd": ["true"],
                                "Labels": {"com.docker.compose.project": "victim"}}}),
    ("/containers", {"docker": {"Image": IMAGE, "Cmd": ["true"],
                                "Labels": {"COM.DOCKER.COMPOSE.service": "web"}}}),
    ("/volumes", {"name": "dpx-lbl-vol", "labels": {"com.docker.compose.project": "victim"}}),
    ("/networks", {"name": "dpx-lbl-net", "labels": {"com.docker.compose.network": "default"}}),
])
def test_compose_labels_are_reserved(api, stack, route, body):
    before = engine_snapshot(stack)
    refused(stack, api.post(route, json=body, key=attacker(stack)), 403, "policy_denied", "com.docker.compose")
    assert_engine_unchanged(stack, before)
