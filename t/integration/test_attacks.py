"""Attacks on the container create allow-list, through Apache with the non-admin docker:write
key: legacy top-level HostConfig fields of the raw body, bad values inside HostConfig, other
spellings, duplicate keys and \\u escapes, NetworkingConfig extras, Mounts shapes, unbounded
resources, binds with '..', missing paths and a symlink planted between create and start.
Every refusal is a problem with its status and code, and the engine is left unchanged; the
positive cases show an ordinary service created both ways, started, with limits applied."""
import os
import secrets
import shutil

import pytest

from attack_util import assert_engine_unchanged, engine_snapshot, refused
from containers_util import IMAGE, made, uniq  # noqa: F401

CMD = ["sleep", "300"]
MiB = 1024 * 1024
GiB = 1024 * MiB


def raw(**fields):
    return {"Image": IMAGE, "Cmd": CMD, **fields}


def hc(**host_config):
    return raw(HostConfig=host_config)


def post_raw(api, stack, docker, key="docker_write", **params):
    return api.post("/containers", json={"name": uniq("atk"), "docker": docker}, key=stack.keys[key],
                    params=params or None)


def post_bytes(api, stack, text):
    return api.post("/containers", data=text.encode(), key=stack.keys["docker_write"],
                    headers={"Content-Type": "application/json"})


# (docker body, field named): each refused with 403 policy_denied
DENIED = [
    # the legacy embedded HostConfig: top-level fields Engine <= 24 honours
    (raw(Privileged=True), "Privileged"),
    (raw(Binds=["/:/host"]), "Binds"),
    (raw(PidMode="host"), "PidMode"),
    (raw(IpcMode="host"), "IpcMode"),
    (raw(UTSMode="host"), "UTSMode"),
    (raw(UsernsMode="host"), "UsernsMode"),
    (raw(NetworkMode="host"), "NetworkMode"),
    (raw(CapAdd=["SYS_ADMIN"]), "CapAdd"),
    (raw(SecurityOpt=["seccomp=unconfined"]), "SecurityOpt"),
    (raw(VolumesFrom=["victim"]), "VolumesFrom"),
    (raw(Runtime="io.containerd.runsc.v1"), "Runtime"),
    (raw(CgroupParent="/"), "CgroupParent"),
    (raw(Devices=[{"PathOnHost": "/dev/mem", "PathInContainer": "/dev/mem", "CgroupPermissions": "rwm"}]), "Devices"),
    (raw(Sysctls={"kernel.core_pattern": "|/tmp/x"}), "Sysctls"),
    (raw(Links=["victim:v"]), "Links"),
    (raw(LogConfig={"Type": "syslog", "Config": {"syslog-address": "udp://10.0.0.1:514"}}), "LogConfig"),
    (raw(Mounts=[{"Type": "bind", "Source": "/", "Target": "/host"}]), "Mounts"),
    (raw(PidsLimit=-1), "PidsLimit"),
    (raw(OomScoreAdj=-1000), "OomScoreAdj"),
    (raw(Memory=0, MemorySwap=-1), "Memory"),
    (raw(MacAddress="02:42:ac:11:00:02"), "MacAddress"),
    # inside HostConfig: values outside the list
    (hc(NetworkMode="container:victim"), "HostConfig.NetworkMode"),
    (hc(NetworkMode="HOST"), "HostConfig.NetworkMode"),
    (hc(PidMode="container:victim"), "HostConfig.PidMode"),
    (hc(IpcMode="container:victim"), "HostConfig.IpcMode"),
    (hc(UTSMode="host"), "HostConfig.UTSMode"),
    (hc(UsernsMode="host"), "HostConfig.UsernsMode"),
    (hc(CgroupnsMode="host"), "HostConfig.CgroupnsMode"),
    (hc(Links=["victim:db"]), "HostConfig.Links"),
    (hc(LogConfig={"Type": "syslog", "Config": {"syslog-address": "udp://10.0.0.1:514"}}), "HostConfig.LogConfig.Type"),
    (hc(LogConfig={"Type": "gelf", "Config": {"gelf-address": "udp://10.0.0.1:12201"}}), "HostConfig.LogConfig.Type"),
    (hc(LogConfig={"Type": "fluentd"}), "HostConfig.LogConfig.Type"),
    (hc(LogConfig={"Type": "json-file", "Config": {"fluentd-address": "10.0.0.1"}}),
     "HostConfig.LogConfig.Config.fluentd-address"),
    (hc(Runtime="io.containerd.runsc.v1"), "HostConfig.Runtime"),
    (hc(CgroupParent="/system.slice"), "HostConfig.CgroupParent"),
    (hc(Privileged=True), "HostConfig.Privileged"),
    (hc(CapAdd=["NET_ADMIN"]), "HostConfig.CapAdd[0]"),
    (hc(Capabilities=["CAP_SYS_ADMIN"]), "HostConfig.Capabilities[0]"),
    (hc(SecurityOpt=["no-new-privileges", "apparmor=unconfined"]), "HostConfig.SecurityOpt[1]"),
    (hc(MaskedPaths=[]), "HostConfig.MaskedPaths"),
    (hc(ReadonlyPaths=[]), "HostConfig.ReadonlyPaths"),
    (hc(Sysctls={"net.ipv4.ip_forward": "1"}), "HostConfig.Sysctls"),
    (hc(Devices=[{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda", "CgroupPermissions": "rwm"}]),
     "HostConfig.Devices"),
    (hc(DeviceCgroupRules=["c *:* rmw"]), "HostConfig.DeviceCgroupRules"),
    (hc(VolumesFrom=["victim:ro"]), "HostConfig.VolumesFrom"),
    (hc(ContainerIDFile="/etc/cron.d/x"), "HostConfig.ContainerIDFile"),
    (hc(KernelMemory=-1), "HostConfig.KernelMemory"),
    (hc(CpuQuota=-1), "HostConfig.CpuQuota"),
    (hc(BlkioDeviceWriteBps=[{"Path": "/dev/sda", "Rate": 1}]), "HostConfig.BlkioDeviceWriteBps"),
    (hc(PublishAllPorts=True), "HostConfig.PublishAllPorts"),
    (hc(PortBindings={"80/tcp": [{"HostIp": "", "HostPort": "22"}]}), "HostConfig.PortBindings.80/tcp[0]"),
    (hc(PortBindings={"80/tcp": [{"HostIp": "10.9.8.7", "HostPort": "8080"}]}), "HostConfig.PortBindings.80/tcp[0]"),
    (hc(Ulimits=[{"Name": "rtprio", "Soft": 99, "Hard": 99}]), "HostConfig.Ulimits[0].Name"),
    (hc(Ulimits=[{"Name": "nofile", "Soft": -1, "Hard": -1}]), "HostConfig.Ulimits[0].Soft"),
    (hc(RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 1000000}), "HostConfig.RestartPolicy.MaximumRetryCount"),
    (hc(VolumeDriver="evil-plugin"), "HostConfig.VolumeDriver"),
    # resources: unbounded or above the maximum
    (hc(PidsLimit=-1), "HostConfig.PidsLimit"),
    (hc(PidsLimit=0), "HostConfig.PidsLimit"),
    (hc(PidsLimit=1000000), "HostConfig.PidsLimit"),
    (hc(OomScoreAdj=-1000), "HostConfig.OomScoreAdj"),
    (hc(OomKillDisable=True), "HostConfig.OomKillDisable"),
    (hc(Memory=0, MemorySwap=-1), "HostConfig.MemorySwap"),
    (hc(Memory=256 * MiB, MemorySwap=-1), "HostConfig.MemorySwap"),
    (hc(Memory=256 * MiB, MemorySwap=512 * MiB), "HostConfig.MemorySwap"),
    (hc(Memory=64 * GiB), "HostConfig.Memory"),
    (hc(Memory=-1), "HostConfig.Memory"),
    (hc(NanoCpus=64 * 10**9), "HostConfig.NanoCpus"),
    (hc(ShmSize=64 * GiB), "HostConfig.ShmSize"),
    (hc(MemoryReservation=64 * GiB), "HostConfig.MemoryReservation"),
    # other spellings (Docker matches names case-insensitively)
    (raw(privileged=True), "privileged"),
    (raw(HOSTCONFIG={"Privileged": True}), "HOSTCONFIG"),
    (raw(hostConfig={"Binds": ["/:/h"]}), "hostConfig"),
    (hc(privileged=True), "HostConfig.privileged"),
    (hc(NETWORKMODE="host"), "HostConfig.NETWORKMODE"),
    (hc(Binds=[], binds=["/:/host"]), "HostConfig.binds"),
    (hc(Mounts=[{"type": "bind", "source": "/", "target": "/h"}]), "HostConfig.Mounts[0].type"),
    (raw(healthcheck={"Test": ["NONE"]}), "healthcheck"),
    # NetworkingConfig extras
    (raw(NetworkingConfig={"EndpointsConfig": {"host": {}}}), "NetworkingConfig.EndpointsConfig.host"),
    (raw(NetworkingConfig={"EndpointsConfig": {"container:victim": {}}}),
     "NetworkingConfig.EndpointsConfig.container:victim"),
    (raw(NetworkingConfig={"EndpointsConfig": {"bridge": {"Links": ["victim:v"]}}}),
     "NetworkingConfig.EndpointsConfig.bridge.Links"),
    (raw(NetworkingConfig={"EndpointsConfig": {"bridge": {"DriverOpts": {"com.docker.network.x": "y"}}}}),
     "NetworkingConfig.EndpointsConfig.bridge.DriverOpts"),
    (raw(NetworkingConfig={"EndpointsConfig": {}, "Extra": {}}), "NetworkingConfig.Extra"),
    # Mounts shapes
    (hc(Mounts=[{"Type": "bind", "Source": "/", "Target": "/host"}]), "HostConfig.Mounts[0].Source"),
    (hc(Mounts=[{"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/s"}]), "HostConfig.Mounts[0].Source"),
    (hc(Mounts=[{"Type": "volume", "Source": "sneaky", "Target": "/x", "VolumeOptions": {"DriverConfig": {
        "Name": "local", "Options": {"type": "none", "o": "bind", "device": "/etc"}}}}]),
     "HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device"),
    (hc(Mounts=[{"Type": "volume", "Source": "sneaky", "Target": "/x", "VolumeOptions": {"DriverConfig": {
        "Name": "local", "Options": {"type": "ext4", "device": "/dev/sda1"}}}}]),
     "HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device"),
    (hc(Mounts=[{"Type": "volume", "Source": "sneaky", "Target": "/x", "VolumeOptions": {"DriverConfig": {
        "Name": "local", "Options": {"type": "overlay", "o": "lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w"}}}}]),
     "HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.type"),
    (hc(Mounts=[{"Type": "npipe", "Source": "x", "Target": "/x"}]), "HostConfig.Mounts[0].Type"),
    (hc(Mounts=[{"Type": "cluster", "Source": "x", "Target": "/x"}]), "HostConfig.Mounts[0].Type"),
    (hc(Mounts=[{"Source": "/etc", "Target": "/x"}]), "HostConfig.Mounts[0].Type"),
    (hc(Mounts=[{"Type": "tmpfs", "Source": "/etc", "Target": "/t"}]), "HostConfig.Mounts[0].Source"),
    (hc(Mounts=[{"Type": "volume", "Source": "v1", "Target": "/v", "BindOptions": {"Propagation": "rprivate"}}]),
     "HostConfig.Mounts[0].BindOptions"),
    (hc(Mounts=[{"Type": "volume", "Source": "v1", "Target": "/v", "VolumeOptions": {"Subpath": "../../.."}}]),
     "HostConfig.Mounts[0].VolumeOptions.Subpath"),
    (hc(Mounts=[{"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 64 * GiB}}]),
     "HostConfig.Mounts[0].TmpfsOptions.SizeBytes"),
    (hc(Mounts=[{"Type": "volume", "Source": "v1", "Target": "/v/../../etc"}]), "HostConfig.Mounts[0].Target"),
    (hc(Binds=["/etc:/x"]), "HostConfig.Binds[0]"),
    (hc(Binds=["v1:/x:rshared"]), "HostConfig.Binds[0]"),
]


@pytest.mark.parametrize("docker,field", DENIED, ids=[f"{i:02d}-{f}" for i, (_, f) in enumerate(DENIED)])
def test_create_refused_engine_unchanged(api, stack, docker, field):
    before = engine_snapshot(stack)
    r = post_raw(api, stack, docker, start="true")
    p = refused(stack, r, 403, "policy_denied", field)
    assert p["field"] == field and field in p["detail"], p
    assert_engine_unchanged(stack, before)


# raw bytes: duplicate keys, \u escapes (the names Docker would decode)
RAW_BYTES = [
    ('{"docker": {"Image": "%s", "HostConfig": {"Privileged": false, "Privileged": true}}}', 400, "malformed_json", None),
    ('{"docker": {"Image": "%s", "HostConfig": {"NetworkMode": "bridge", "NetworkMode": "host"}}}', 400,
     "malformed_json", None),
    ('{"docker": {"Image": "%s", "HostConfig": {"\\u0050rivileged": true}}}', 403, "policy_denied",
     "HostConfig.Privileged"),
    ('{"docker": {"Image": "%s", "\\u0050rivileged": true}}', 403, "policy_denied", "Privileged"),
    ('{"docker": {"Image": "%s", "HostConfig": {"\\u0070rivileged": true}}}', 403, "policy_denied",
     "HostConfig.privileged"),
    ('{"docker": {"Image": "%s", "HostConfig": {"Sysctl\\u017f": {"a": "b"}}}}', 403, "policy_denied", None),
    ('{"docker": {"Image": "%s", "HostConfig": {"NetworkMode": "\\u0068ost"}}}', 403, "policy_denied",
     "HostConfig.NetworkMode"),
    ('{"docker": {"Image": "%s", "HostConfig": {"Privileged\\u0000": true}}}', 400, "malformed_json", None),
]


@pytest.mark.parametrize("text,status,code,field", RAW_BYTES, ids=[f"bytes-{i}" for i in range(len(RAW_BYTES))])
def test_raw_bytes_refused_engine_unchanged(api, stack, text, status, code, field):
    before = engine_snapshot(stack)
    r = post_bytes(api, stack, text % IMAGE)
    refused(stack, r, status, code, field)
    assert_engine_unchanged(stack, before)


def _inspect(stack, cid):
    st, info = stack.docker_api("GET", f"/containers/{cid}/json")
    assert st == 200, info
    return info


def test_simple_body_service_runs_with_limits(api, stack, made):
    vol = uniq("atkvol")
    made.volumes.append(vol)
    name = uniq("web")
    made.containers.append(name)
    port = 20000 + secrets.randbelow(20000)
    r = api.post("/containers", key=stack.keys["docker_write"], params={"start": "true"}, json={
        "image": IMAGE, "name": name, "cmd": CMD, "ports": [f"127.0.0.1:{port}:80"], "env": {"MODE": "prod"},
        "volumes": [f"{vol}:/data"], "restart": "unless-stopped", "labels": {"app": "web"},
        "memory": "256m", "cpus": 0.5})
    assert r.status_code == 201, r.text
    assert r.json()["started"] is True
    info = _inspect(stack, name)
    h = info["HostConfig"]
    assert info["State"]["Running"] is True
    assert h["Memory"] == 256 * MiB and h["MemorySwap"] == 256 * MiB
    assert h["NanoCpus"] == 500_000_000
    assert h["PidsLimit"] == 1024                       # the default, written in
    assert h["RestartPolicy"]["Name"] == "unless-stopped"
    assert h["Privileged"] is False and h["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    assert info["Config"]["Labels"]["app"] == "web" and info["Config"]["Labels"]["dockpay.managed"] == "true"
    assert any(m["Type"] == "volume" and m["Name"] == vol for m in info["Mounts"])


def test_raw_body_service_runs_with_defaults(api, stack, made):
    vol = uniq("atkvol")
    made.volumes.append(vol)
    name = uniq("webraw")
    made.containers.append(name)
    port = 20000 + secrets.randbelow(20000)
    r = api.post("/containers", key=stack.keys["docker_write"], params={"start": "true"}, json={"name": name, "docker": {
        "Image": IMAGE, "Cmd": CMD, "Env": ["MODE=prod"], "Labels": {"app": "web"},
        "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGTERM", "StopTimeout": 5,
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1_000_000_000, "Timeout": 1_000_000_000, "Retries": 3},
        "HostConfig": {
            "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]},
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "Mounts": [{"Type": "volume", "Source": vol, "Target": "/data"},
                       {"Type": "tmpfs", "Target": "/cache", "TmpfsOptions": {"SizeBytes": 8 * MiB}}],
            "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}},
            "CapDrop": ["NET_RAW"], "SecurityOpt": ["no-new-privileges"], "Init": True,
            "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]}}})
    assert r.status_code == 201, r.text
    info = _inspect(stack, name)
    h = info["HostConfig"]
    assert info["State"]["Running"] is True
    assert h["Memory"] == 512 * MiB and h["MemorySwap"] == 512 * MiB       # defaults
    assert h["NanoCpus"] == 1_000_000_000 and h["PidsLimit"] == 1024
    assert h["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert h["LogConfig"]["Type"] == "json-file" and h["SecurityOpt"] == ["no-new-privileges"]
    assert info["Config"]["Healthcheck"]["Test"] == ["CMD", "true"]
    assert info["Config"]["Labels"]["dockpay.key"] == "docker_write"


@pytest.fixture
def bind_dir(stack):
    d = os.path.join(stack.tmp, "atk-binds-" + secrets.token_hex(3))
    os.makedirs(os.path.join(d, "app"))
    os.chmod(d, 0o755)
    stack.restart_httpd(extra_conf=f"DockpayBindAllow {d}\n")
    yield d
    stack.restart_httpd()
    shutil.rmtree(d, ignore_errors=True)


def test_binds_dotdot_missing_and_symlinks_refused(api, stack, bind_dir):
    os.symlink("/etc", os.path.join(bind_dir, "evil"))
    cases = [
        (hc(Binds=[f"{bind_dir}/app/..:/x"]), "HostConfig.Binds[0]"),
        (hc(Binds=[f"{bind_dir}/app/../app:/x"]), "HostConfig.Binds[0]"),
        (hc(Binds=[f"{bind_dir}/../../etc:/x"]), "HostConfig.Binds[0]"),
        (hc(Binds=[f"{bind_dir}/not-yet:/x"]), "HostConfig.Binds[0]"),
        (hc(Binds=[f"{bind_dir}/evil:/x"]), "HostConfig.Binds[0]"),
        (hc(Mounts=[{"Type": "bind", "Source": f"{bind_dir}/not-yet", "Target": "/x"}]), "HostConfig.Mounts[0].Source"),
        (hc(Mounts=[{"Type": "bind", "Source": f"{bind_dir}/app/../evil", "Target": "/x"}]),
         "HostConfig.Mounts[0].Source"),
        (hc(Mounts=[{"Type": "volume", "Source": "sneaky2", "Target": "/x", "VolumeOptions": {"DriverConfig": {
            "Name": "local", "Options": {"type": "none", "o": "bind", "device": f"{bind_dir}/not-yet"}}}}]),
         "HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device"),
        ({"image": IMAGE, "cmd": CMD, "volumes": [f"{bind_dir}/not-yet:/x"]}, "HostConfig.Binds[0]"),
        # Docker's own restarts would mount the source again, past the start-time re-check
        (hc(Binds=[f"{bind_dir}/app:/x"], RestartPolicy={"Name": "always"}), "HostConfig.RestartPolicy.Name"),
        ({"image": IMAGE, "cmd": CMD, "volumes": [f"{bind_dir}/app:/x"], "restart": "unless-stopped"},
         "HostConfig.RestartPolicy.Name"),
    ]
    for body, field in cases:
        before = engine_snapshot(stack)
        if "image" in body:
            r = api.post("/containers", json={**body, "name": uniq("atk")}, key=stack.keys["docker_write"])
        else:
            r = post_raw(api, stack, body)
        p = refused(stack, r, 403, "policy_denied", field)
        assert p["field"] == field, p
        assert_engine_unchanged(stack, before)


def test_bind_is_sent_resolved(api, stack, made, bind_dir):
    os.symlink(os.path.join(bind_dir, "app"), os.path.join(bind_dir, "link"))
    name = uniq("atkb")
    made.containers.append(name)
    r = post_raw(api, stack, hc(Binds=[f"{bind_dir}/link:/data:ro"]))
    assert r.status_code == 201, r.text
    assert _inspect(stack, r.json()["id"])["HostConfig"]["Binds"] == [f"{bind_dir}/app:/data:ro"]
    made.containers.append(r.json()["id"])


def test_symlink_planted_between_create_and_start(api, stack, made, bind_dir):
    sub = os.path.join(bind_dir, "app", "sub")
    os.makedirs(sub)
    r = post_raw(api, stack, hc(Binds=[f"{sub}:/data"]))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    made.containers.append(cid)
    # another container (or the host) swaps the folder for a symlink out of the allow-list
    os.rmdir(sub)
    os.symlink("/etc", sub)
    before = engine_snapshot(stack)
    r = api.post(f"/containers/{cid}/start", key=stack.keys["docker_write"])
    refused(stack, r, 403, "policy_denied", "HostConfig.Binds[0]")
    assert_engine_unchanged(stack, before)
    assert _inspect(stack, cid)["State"]["Status"] == "created"


def test_symlink_planted_before_restart(api, stack, made, bind_dir):
    sub = os.path.join(bind_dir, "app", "sub2")
    os.makedirs(sub)
    r = post_raw(api, stack, hc(Mounts=[{"Type": "bind", "Source": sub, "Target": "/data"}]), start="true")
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    made.containers.append(cid)
    started_at = _inspect(stack, cid)["State"]["StartedAt"]
    os.rename(sub, sub + ".old")
    os.symlink("/etc", sub)
    before = engine_snapshot(stack)
    r = api.post(f"/containers/{cid}/restart", key=stack.keys["docker_write"])
    refused(stack, r, 403, "policy_denied", "Mounts[0]")
    assert_engine_unchanged(stack, before)
    assert _inspect(stack, cid)["State"]["StartedAt"] == started_at


def _host_network(stack):
    st, nets = stack.docker_api("GET", "/networks")
    assert st == 200, nets
    host = [n for n in nets if n["Driver"] == "host"]
    assert host, nets
    return host[0]


@pytest.mark.parametrize("how", ["id", "short-id", "mode-and-endpoint"])
def test_host_network_by_id_refused(api, stack, how):
    net = _host_network(stack)
    ref = net["Id"] if how != "short-id" else net["Id"][:12]
    body = hc(NetworkMode=ref)
    if how == "mode-and-endpoint":
        body = raw(NetworkingConfig={"EndpointsConfig": {ref: {}}})
    before = engine_snapshot(stack)
    r = post_raw(api, stack, body, start="true")
    refused(stack, r, 403, "policy_denied")
    assert_engine_unchanged(stack, before)


def test_directives_set_defaults_ceilings_publish_and_log_drivers(api, stack, made):
    stack.restart_httpd(extra_conf="DockpayMemoryLimit 64m 128m\nDockpayCpuLimit 0.5 1\nDockpayPidsLimit 50 100\n"
                                   "DockpayPublishAllow 127.0.0.1:30000-30010\nDockpayLogDriverAllow none-such-driver\n")
    try:
        r = post_raw(api, stack, raw())
        assert r.status_code == 201, r.text
        made.containers.append(r.json()["id"])
        h = _inspect(stack, r.json()["id"])["HostConfig"]
        assert (h["Memory"], h["MemorySwap"], h["NanoCpus"], h["PidsLimit"]) == (64 * MiB, 64 * MiB, 500_000_000, 50)
        for body, field in [(hc(Memory=256 * MiB), "HostConfig.Memory"),
                            (hc(NanoCpus=2 * 10**9), "HostConfig.NanoCpus"),
                            (hc(PidsLimit=101), "HostConfig.PidsLimit"),
                            (hc(PortBindings={"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "30011"}]}),
                             "HostConfig.PortBindings.80/tcp[0]"),
                            (hc(PortBindings={"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "30001"}]}),
                             "HostConfig.PortBindings.80/tcp[0]"),
                            (hc(LogConfig={"Type": "syslog"}), "HostConfig.LogConfig.Type")]:
            before = engine_snapshot(stack)
            p = refused(stack, post_raw(api, stack, body), 403, "policy_denied", field)
            assert p["field"] == field, p
            assert_engine_unchanged(stack, before)
        r = post_raw(api, stack, hc(Memory=128 * MiB, PortBindings={"80/tcp": [{"HostIp": "127.0.0.1",
                                                                                  "HostPort": "30005"}]}))
        assert r.status_code == 201, r.text
        made.containers.append(r.json()["id"])
    finally:
        stack.restart_httpd()


@pytest.mark.parametrize("directive", [
    "DockpayMemoryLimit 1g 512m", "DockpayMemoryLimit 1k 1g", "DockpayMemoryLimit lots 1g",
    "DockpayCpuLimit 0 4", "DockpayCpuLimit 2 1", "DockpayPidsLimit -1 100", "DockpayPidsLimit 10 1.5",
    "DockpayPublishAllow 0.0.0.0", "DockpayPublishAllow 1.2.3:80", "DockpayPublishAllow 0.0.0.0:9-8",
    "DockpayLogDriverAllow bad;name",
])
def test_bad_policy_directive_fails_config_test(stack, tmp_path, directive):
    r = stack.config_test(tmp_path, directive)
    assert r.returncode != 0
    assert directive.split()[0] in (r.stdout + r.stderr)


def test_good_policy_directives_pass_config_test(stack, tmp_path):
    r = stack.config_test(tmp_path, (
        "\nDockpayMemoryLimit 512m 8g\nDockpayCpuLimit 1 4\nDockpayPidsLimit 1024 4096\n"
        "DockpayPublishAllow 0.0.0.0:1024-65535 127.0.0.1:1024-65535 [::]:1024-65535 [::1]:8080 *:9000-9100\n"
        "DockpayLogDriverAllow syslog gelf\n"))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("opts,field", [
    ({"type": "none", "o": "bind", "device": "/etc"}, "driver_opts.device"),
    ({"type": "overlay", "o": "lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w"}, "driver_opts.type"),
    ({"type": "ext4", "device": "/dev/sda1"}, "driver_opts.device"),
    ({"o": "bind", "device": "/var/run"}, "driver_opts.device"),
])
def test_volume_create_host_mount_refused(api, stack, opts, field):
    before = engine_snapshot(stack)
    r = api.post("/volumes", json={"name": uniq("atkv"), "driver_opts": opts}, key=stack.keys["docker_write"])
    p = refused(stack, r, 403, "policy_denied", field)
    assert p["field"] == field, p
    assert_engine_unchanged(stack, before)
