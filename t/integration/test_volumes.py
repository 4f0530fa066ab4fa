"""Volumes through Apache: create (labels, driver options), list, inspect, 409 while in use,
delete, 404s and validation."""
from conftest import assert_problem
from containers_util import create, made, uniq  # noqa: F401


def test_volume_lifecycle(api, stack, made):
    name = uniq("vol")
    made.volumes.append(name)
    r = api.post("/volumes", json={"name": name, "labels": {"team": "qa"}, "driver": "local",
                                   "driver_opts": {"type": "tmpfs", "device": "tmpfs", "o": "size=10m"}})
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["Name"] == name and v["Driver"] == "local"
    assert v["Labels"]["team"] == "qa" and v["Labels"]["dockpay.managed"] == "true"
    assert v["Labels"]["dockpay.key"] == "admin"

    r = api.get("/volumes")
    assert r.status_code == 200 and isinstance(r.json()["warnings"], list)
    assert name in {x["Name"] for x in r.json()["items"]}
    r = api.get("/volumes", params={"label": "team=qa", "name": name})
    assert [x["Name"] for x in r.json()["items"]] == [name]
    assert api.get(f"/volumes/{name}").json()["Name"] == name

    c = create(api, made, volumes=[f"{name}:/data"])
    p = assert_problem(api.delete(f"/volumes/{name}"), 409, "volume_in_use")
    assert "in use" in p["detail"]
    assert api.delete(f"/containers/{c['id']}").status_code == 204
    r = api.delete(f"/volumes/{name}")
    assert r.status_code == 204, r.text
    assert name not in stack.docker("volume", "ls", "-q").split()
    assert_problem(api.get(f"/volumes/{name}"), 404, "volume_not_found")
    assert_problem(api.delete(f"/volumes/{name}"), 404, "volume_not_found")


def test_force_delete_and_generated_name(api, stack, made):
    r = api.post("/volumes", json={})
    assert r.status_code == 201, r.text
    name = r.json()["Name"]
    made.volumes.append(name)
    assert len(name) == 64
    r = api.delete(f"/volumes/{name}", params={"force": "true"})
    assert r.status_code == 204


def test_volume_validation(api, stack):
    before = stack.docker("volume", "ls", "-q")
    assert_problem(api.post("/volumes", json={"name": "bad name"}), 422, "invalid_value")
    assert_problem(api.post("/volumes", json={"name": "x"}), 422, "invalid_value")
    assert_problem(api.post("/volumes", json={"name": uniq(), "size": "1g"}), 400)
    assert_problem(api.post("/volumes", json={"name": uniq(), "labels": {"a": 1}}), 400)
    assert_problem(api.post("/volumes", json={"name": uniq(), "driver_opts": ["o=bind"]}), 400)
    assert_problem(api.post("/volumes", json={"name": 5}), 400)
    assert stack.docker("volume", "ls", "-q") == before
    for path in ["/volumes/no-such-volume", "/volumes/a%20b", "/volumes/..%5Ccontainers", "/volumes/-x"]:
        assert_problem(api.get(path), 404, "volume_not_found")
    assert_problem(api.get("/volumes", key=stack.keys["payments_read"]), 403, "insufficient_scope")
