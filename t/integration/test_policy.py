"""The fail-closed create policy through Apache: every refusal (raw and simple bodies, Binds
and Mounts, traversal, sockets, bind-volumes in disguise, other spellings of field names) is a
403 policy_denied naming the field, and nothing reaches Docker; relaxations by directive."""
import os

import pytest

from conftest import assert_problem
from containers_util import IMAGE, made, names, uniq, wait_for, log_texts  # noqa: F401

CMD = ["sleep", "300"]


def hc(**host_config):
    return {"docker": {"Image": IMAGE, "Cmd": CMD, "HostConfig": host_config}}


REFUSED = [
    (hc(Privileged=True), "HostConfig.Privileged"),
    (hc(NetworkMode="host"), "HostConfig.NetworkMode"),
    ({"image": IMAGE, "network": "host", "cmd": CMD}, "HostConfig.NetworkMode"),
    (hc(PidMode="host"), "HostConfig.PidMode"),
    (hc(IpcMode="host"), "HostConfig.IpcMode"),
    (hc(UTSMode="host"), "HostConfig.UTSMode"),
    (hc(UsernsMode="host"), "HostConfig.UsernsMode"),
    (hc(CgroupnsMode="host"), "HostConfig.CgroupnsMode"),
    (hc(PidMode="container:abc"), "HostConfig.PidMode"),
    (hc(CapAdd=["SYS_ADMIN"]), "HostConfig.CapAdd[0]"),
    (hc(CapAdd=["ALL"]), "HostConfig.CapAdd[0]"),
    (hc(Devices=[{"PathOnHost": "/dev/mem", "PathInContainer": "/dev/mem", "CgroupPermissions": "rwm"}]),
     "HostConfig.Devices"),
    (hc(DeviceRequests=[{"Driver": "nvidia", "Count": -1, "Capabilities": [["gpu"]]}]), "HostConfig.DeviceRequests"),
    (hc(DeviceCgroupRules=["c *:* rmw"]), "HostConfig.DeviceCgroupRules"),
    (hc(SecurityOpt=["seccomp=unconfined"]), "HostConfig.SecurityOpt[0]"),
    (hc(SecurityOpt=["apparmor=unconfined"]), "HostConfig.SecurityOpt[0]"),
    (hc(SecurityOpt=["label=disable"]), "HostConfig.SecurityOpt[0]"),
    (hc(MaskedPaths=[]), "HostConfig.MaskedPaths"),
    (hc(Sysctls={"kernel.shm_rmid_forced": "1"}), "HostConfig.Sysctls"),
    (hc(CgroupParent="/"), "HostConfig.CgroupParent"),
    (hc(VolumesFrom=["other"]), "HostConfig.VolumesFrom"),
    (hc(Binds=["/etc:/host-etc:ro"]), "HostConfig.Binds[0]"),
    (hc(Binds=["named:/data", "/:/host"]), "HostConfig.Binds[1]"),
    (hc(Binds=["/tmp/../etc:/x"]), "HostConfig.Binds[0]"),
    (hc(Binds=["/var/run/docker.sock:/var/run/docker.sock"]), "HostConfig.Binds[0]"),
    (hc(Binds=["/run/docker.sock:/s"]), "HostConfig.Binds[0]"),
    (hc(Binds=["/proc:/p"]), "HostConfig.Binds[0]"),
    (hc(Binds=["/sys:/s"]), "HostConfig.Binds[0]"),
    (hc(Binds=["/var/lib/docker:/d"]), "HostConfig.Binds[0]"),
    (hc(Binds=["/home:/h"]), "HostConfig.Binds[0]"),                    # no prefix allowed by default
    ({"image": IMAGE, "cmd": CMD, "volumes": ["/etc:/x:ro"]}, "HostConfig.Binds[0]"),
    (hc(Mounts=[{"Type": "bind", "Source": "/etc", "Target": "/x"}]), "HostConfig.Mounts[0].Source"),
    (hc(Mounts=[{"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/s"}]), "HostConfig.Mounts[0].Source"),
    (hc(Mounts=[{"Type": "tmpfs", "Target": "/t"}, {"Type": "bind", "Source": "//", "Target": "/h"}]),
     "HostConfig.Mounts[1].Source"),
    (hc(Mounts=[{"Type": "volume", "Source": "sneaky", "Target": "/x", "VolumeOptions": {"DriverConfig": {
        "Name": "local", "Options": {"type": "none", "o": "bind", "device": "/etc"}}}}]),
     "HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device"),
]


@pytest.mark.parametrize("body,field", REFUSED, ids=[f for _, f in REFUSED])
def test_refused_and_nothing_created(api, stack, body, field):
    name = uniq("pol")
    before = names(stack)
    r = api.post("/containers", json={**body, "name": name}, params={"start": "true"})
    p = assert_problem(r, 403, "policy_denied")
    assert p["field"] == field and field in p["detail"], p
    after = names(stack)
    assert name not in after and after == before
    assert "sneaky" not in stack.docker("volume", "ls", "-q").split()


@pytest.mark.parametrize("host_config,field", [
    ({"privileged": True}, "HostConfig.privileged"),                    # Docker would honour this spelling
    ({"Privileged": False, "PRIVILEGED": True}, "HostConfig.PRIVILEGED"),
    ({"binds": ["/etc:/x"]}, "HostConfig.binds"),
])
def test_other_spellings_of_policed_fields_are_refused(api, stack, host_config, field):
    before = names(stack)
    p = assert_problem(api.post("/containers", json={"name": uniq("pol"), "docker": {
        "Image": IMAGE, "Cmd": CMD, "HostConfig": host_config}}), 403, "policy_denied")
    assert p["field"] == field
    assert names(stack) == before


def test_raw_body_fails_closed(api, stack):
    before = names(stack)
    assert_problem(api.post("/containers", json={"docker": {}}), 400)
    assert_problem(api.post("/containers", json={"docker": None}), 400)
    assert_problem(api.post("/containers", data=b"", headers={"Content-Type": "application/json"}), 400)
    assert_problem(api.post("/containers", data=b'{"docker": {"Image": "x", "HostConfig": {"Privileged": tru',
                            headers={"Content-Type": "application/json"}), 400)
    dup = b'{"docker": {"Image": "%s", "HostConfig": {"Privileged": false, "Privileged": true}}}' % IMAGE.encode()
    assert_problem(api.post("/containers", data=dup, headers={"Content-Type": "application/json"}), 400)
    big = b'{"docker": {"Image": "%s", "Env": ["A=%s"]}}' % (IMAGE.encode(), b"x" * (2 * 1024 * 1024))
    assert_problem(api.post("/containers", data=big, headers={"Content-Type": "application/json"}), 413)
    assert names(stack) == before


def test_volume_create_bind_in_disguise(api, stack):
    name = uniq("vol")
    for opts in [{"type": "none", "o": "bind", "device": "/etc"},
                 {"o": "bind", "device": "/var/run"},
                 {"type": "ext4", "device": "/dev/sda1"}]:
        p = assert_problem(api.post("/volumes", json={"name": name, "driver_opts": opts}), 403, "policy_denied")
        assert p["field"] == "driver_opts.device"
    assert name not in stack.docker("volume", "ls", "-q").split()


def test_relaxations(api, stack, made):
    allowed = os.path.join(stack.tmp, "binds")
    os.makedirs(os.path.join(allowed, "app"), exist_ok=True)
    with open(os.path.join(allowed, "app", "hello.txt"), "w") as f:
        f.write("from-the-host\n")
    if not os.path.lexists(os.path.join(allowed, "evil")):
        os.symlink("/etc", os.path.join(allowed, "evil"))
    stack.restart_httpd(extra_conf=f"DockpayPolicyAllow privileged sysctls\nDockpayCapAllow NET_ADMIN\n"
                                   f"DockpayBindAllow {allowed}\n")
    try:
        def ok(body):
            name = uniq("rel")
            made.containers.append(name)
            r = api.post("/containers", json={**body, "name": name})
            assert r.status_code == 201, r.text
            return name

        ok(hc(Privileged=True))
        ok(hc(CapAdd=["NET_ADMIN"]))
        ok(hc(Sysctls={"net.ipv4.ip_unprivileged_port_start": "0"}))
        name = ok({"image": IMAGE, "cmd": ["cat", "/data/hello.txt"], "volumes": [f"{allowed}/app:/data:ro"]})
        assert api.post(f"/containers/{name}/start").status_code == 200
        assert wait_for(lambda: "from-the-host" in log_texts(api, name), what="the file from the host")
        ok(hc(Mounts=[{"Type": "bind", "Source": f"{allowed}/app", "Target": "/data", "ReadOnly": True}]))
        # still refused: outside the prefix, through it, the socket, a symlink out, other relaxations
        for body, field in [(hc(Binds=[f"{allowed}/../../etc:/x"]), "HostConfig.Binds[0]"),
                            (hc(Binds=[f"{allowed}/evil:/x"]), "HostConfig.Binds[0]"),
                            (hc(Binds=[f"{allowed}/app/docker.sock:/x"]), "HostConfig.Binds[0]"),
                            (hc(Binds=["/var/run/docker.sock:/x"]), "HostConfig.Binds[0]"),
                            (hc(CapAdd=["SYS_ADMIN"]), "HostConfig.CapAdd[0]"),
                            (hc(NetworkMode="host"), "HostConfig.NetworkMode")]:
            p = assert_problem(api.post("/containers", json={**body, "name": uniq("pol")}), 403, "policy_denied")
            assert p["field"] == field, p
        vol = uniq("bindvol")
        made.volumes.append(vol)
        r = api.post("/volumes", json={"name": vol, "driver_opts": {"type": "none", "o": "bind",
                                                                     "device": f"{allowed}/app"}})
        assert r.status_code == 201, r.text
    finally:
        stack.restart_httpd()
