"""Networks: create (with IPAM), inspect, list, connect/disconnect a running container, delete
(409 while attached), the host-network refusal and body validation."""
import pytest

from conftest import assert_problem


def cleanup(stack, containers=(), networks=()):
    for c in containers:
        stack.docker("rm", "-f", c, check=False)
    for n in networks:
        stack.docker("network", "rm", n, check=False)


def test_network_lifecycle_with_a_running_container(api, stack):
    cleanup(stack, ["dpnet-c1"], ["dpnet-a", "dpnet-b"])
    try:
        r = api.post("/networks", json={"name": "dpnet-a"})
        assert r.status_code == 201, r.text
        r = api.post("/networks", json={"name": "dpnet-b", "driver": "bridge", "internal": True,
                                        "labels": {"team": "qa"}, "subnet": "10.77.0.0/24",
                                        "gateway": "10.77.0.1"})
        assert r.status_code == 201, r.text
        net_id = r.json()["id"]
        assert len(net_id) == 64 and "warning" in r.json()
        assert_problem(api.post("/networks", json={"name": "dpnet-b"}), 409)

        r = api.get("/networks/dpnet-b")
        assert r.status_code == 200, r.text
        info = r.json()
        assert info["Id"] == net_id and info["Internal"] is True
        assert info["Labels"] == {"team": "qa", "dockpay.managed": "true", "dockpay.key": "admin"}
        assert info["IPAM"]["Config"][0]["Subnet"] == "10.77.0.0/24"
        assert info["IPAM"]["Config"][0]["Gateway"] == "10.77.0.1"
        names = [n["Name"] for n in api.get("/networks").json()["items"]]
        assert "dpnet-a" in names and "dpnet-b" in names

        stack.docker("run", "-d", "--name", "dpnet-c1", "--network", "dpnet-a", "local/busybox:test", "sleep", "300")
        r = api.post("/networks/dpnet-b/connect", json={"container": "dpnet-c1", "aliases": ["web"],
                                                        "ipv4_address": "10.77.0.9"})
        assert r.status_code == 200, r.text
        assert r.json() == {"changed": True}
        st, c = stack.docker_api("GET", "/containers/dpnet-c1/json")
        ep = c["NetworkSettings"]["Networks"]["dpnet-b"]
        assert ep["IPAddress"] == "10.77.0.9" and "web" in ep["Aliases"]
        # connecting again changes nothing
        r = api.post("/networks/dpnet-b/connect", json={"container": "dpnet-c1"})
        assert r.status_code == 200 and r.json() == {"changed": False}, r.text

        # in use: the engine's 403 becomes 409 network_in_use
        assert_problem(api.delete("/networks/dpnet-b"), 409, "network_in_use")

        r = api.post("/networks/dpnet-b/disconnect", json={"container": "dpnet-c1", "force": False})
        assert r.status_code == 200 and r.json() == {"changed": True}, r.text
        st, c = stack.docker_api("GET", "/containers/dpnet-c1/json")
        assert "dpnet-b" not in c["NetworkSettings"]["Networks"]

        r = api.delete("/networks/dpnet-b")
        assert r.status_code == 204, r.text
        assert_problem(api.get("/networks/dpnet-b"), 404, "network_not_found")
        rows = stack.sql("SELECT target, status FROM audit_log WHERE method='DELETE' AND path='/networks/dpnet-b' "
                         "ORDER BY id DESC LIMIT 1")
        assert rows == [("dpnet-b", "204")]
    finally:
        cleanup(stack, ["dpnet-c1"], ["dpnet-a", "dpnet-b"])


def test_connect_to_host_network_is_refused(api, stack):
    cleanup(stack, ["dpnet-c2"], ["dpnet-h"])
    try:
        api.post("/networks", json={"name": "dpnet-h"})
        stack.docker("run", "-d", "--name", "dpnet-c2", "--network", "dpnet-h", "local/busybox:test", "sleep", "300")
        assert_problem(api.post("/networks/host/connect", json={"container": "dpnet-c2"}), 403, "policy_denied")
        host_id = api.get("/networks/host").json()["Id"]
        assert_problem(api.post(f"/networks/{host_id}/connect", json={"container": "dpnet-c2"}), 403,
                       "policy_denied")
    finally:
        cleanup(stack, ["dpnet-c2"], ["dpnet-h"])


def test_unknown_network_and_container(api, stack):
    assert_problem(api.get("/networks/no-such-net"), 404, "network_not_found")
    assert_problem(api.delete("/networks/no-such-net"), 404, "network_not_found")
    assert_problem(api.post("/networks/no-such-net/connect", json={"container": "x"}), 404)
    assert_problem(api.get("/networks/bad name"), 404)


@pytest.mark.parametrize("body,status", [
    ({}, 400),
    ({"name": 5}, 400),
    ({"name": "x", "bogus": 1}, 400),
    ({"name": "x", "internal": "yes"}, 400),
    ({"name": "x", "labels": {"a": 1}}, 400),
    ({"name": "bad name"}, 422),
    ({"name": "x", "subnet": "10.1.0.0/33"}, 422),
    ({"name": "x", "subnet": "10.1.0.0"}, 422),
    ({"name": "x", "gateway": "10.1.0.1"}, 422),
    ({"name": "x", "subnet": "10.1.0.0/16", "gateway": "fd00::1"}, 422),
    ({"name": "x", "driver": "macvlan"}, 403),
])
def test_create_validation(api, body, status):
    assert_problem(api.post("/networks", json=body), status)


def test_connect_validation(api):
    assert_problem(api.post("/networks/bridge/connect", json={}), 400)
    assert_problem(api.post("/networks/bridge/connect", json={"container": "c", "aliases": "a"}), 400)
    assert_problem(api.post("/networks/bridge/connect", json={"container": "c", "ipv4_address": "fd00::1"}), 422)
    assert_problem(api.post("/networks/bridge/disconnect", json={"container": "c", "force": "no"}), 400)
    assert_problem(api.post("/networks/bridge/disconnect", json={"container": "c", "aliases": []}), 400)
