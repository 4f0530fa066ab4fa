"""Attacks on POST /compose through Apache against the real engine, with the non-admin key
docker_write: host paths in every YAML shape, keys that read host files or join other
namespaces, variable interpolation from httpd's environment, alias bombs and tags, labels that
claim another owner, volumes and networks of another key, and project ownership (another key's
project, a project made with the Compose CLI directly). Each refusal asserts the status, the
code (and the field it names) and that the engine is exactly as before."""
import json
import os
import subprocess

import pytest

from attack_util import assert_engine_unchanged, engine_snapshot, refused
from conftest import assert_problem

BB = "local/busybox:test"
SVC = f"version: '2.4'\nservices:\n  web:\n    image: {BB}\n    command: sleep 300\n"


def svc(extra):
    return SVC + extra


ATTACKS = [
    # host / as a volume, in every YAML shape
    ("vol-short", svc("    volumes:\n      - /:/host\n"), 403, "policy_denied", "services.web.volumes"),
    ("vol-next-line", svc("    volumes:\n      -\n        /:/host\n"), 403, "policy_denied", "services.web.volumes"),
    ("vol-block-scalar", svc("    volumes:\n      - >-\n        /:/host\n"), 403, "policy_denied", "services.web.volumes"),
    ("vol-flow-multiline", svc("    volumes: [\n      \"/tmp:/t\",\n      \"/:/host\"\n    ]\n"), 403,
     "policy_denied", "services.web.volumes"),
    ("vol-long-bind", svc("    volumes:\n      - type: bind\n        source: /\n        target: /host\n"), 403,
     "policy_denied", "services.web.volumes"),
    ("vol-long-next-line", svc("    volumes:\n      -\n        type: bind\n        source: /etc\n        target: /h\n"),
     403, "policy_denied", "services.web.volumes"),
    ("vol-explicit-key", svc("    volumes:\n      - ? type\n        : bind\n        source: /\n        target: /h\n"),
     403, "policy_denied", "services.web.volumes"),
    ("vol-alias", "x-v: &v /:/host\n" + svc("    volumes: [*v]\n"), 403, "policy_denied", "services.web.volumes"),
    ("vol-escape", svc("    volumes:\n      - \"\\x2f:/host\"\n"), 403, "policy_denied", "services.web.volumes"),
    ("vol-socket", svc("    volumes: ['/var/run/docker.sock:/s']\n"), 403, "policy_denied", "services.web.volumes"),
    ("vol-relative", svc("    volumes: ['./data:/data']\n"), 403, "policy_denied", "services.web.volumes"),
    ("vol-driver-opts-bind", svc("volumes:\n  d:\n    driver_opts: {type: none, o: bind, device: /}\n"), 403,
     "policy_denied", "volumes.d.driver_opts"),
    # keys that read host files
    ("secret-file", "secrets:\n  s:\n    file: /\n" + svc("    secrets: [s]\n"), 403, "policy_denied", "secrets"),
    ("config-file", "configs:\n  c:\n    file: /etc/passwd\n" + svc("    configs: [c]\n"), 403, "policy_denied",
     "configs"),
    ("env-file", svc("    env_file: /etc/shadow\n"), 403, "policy_denied", "services.web.env_file"),
    ("env-file-list", svc("    env_file:\n      -\n        ../../../etc/shadow\n"), 403, "policy_denied",
     "services.web.env_file"),
    ("extends", svc("    extends:\n      file: /etc/dockpay/other.yml\n      service: x\n"), 403, "policy_denied",
     "services.web.extends"),
    ("include", "include:\n  - /etc/dockpay/x.yml\n" + SVC, 403, "policy_denied", "include"),
    ("build-context", svc("    build:\n      context: /\n"), 403, "policy_denied", "services.web.build"),
    ("build-url", svc("    build: https://example.invalid/repo.git\n"), 403, "policy_denied", "services.web.build"),
    # other containers' or the host's namespaces, privileges
    ("network-container", svc("    network_mode: \"container:dockpay-other\"\n"), 403, "policy_denied",
     "services.web.network_mode"),
    ("network-host", svc("    network_mode: host\n"), 403, "policy_denied", "services.web.network_mode"),
    ("pid-container", svc("    pid: 'container:x'\n"), 403, "policy_denied", "services.web.pid"),
    ("ipc-host", svc("    ipc: host\n"), 403, "policy_denied", "services.web.ipc"),
    ("userns-host", svc("    userns_mode: host\n"), 403, "policy_denied", "services.web.userns_mode"),
    ("volumes-from", svc("    volumes_from: [other]\n"), 403, "policy_denied", "services.web.volumes_from"),
    ("privileged-merge", "x-p: &p {privileged: true}\nservices:\n  web:\n    <<: *p\n    image: local/busybox:test\n",
     403, "policy_denied", "services.web.privileged"),
    ("cap-add", svc("    cap_add: [SYS_ADMIN]\n"), 403, "policy_denied", "services.web.cap_add"),
    ("devices", svc("    devices: ['/dev/mem:/dev/mem']\n"), 403, "policy_denied", "services.web.devices"),
    ("security-opt", svc("    security_opt: ['seccomp:unconfined']\n"), 403, "policy_denied",
     "services.web.security_opt"),
    ("sysctls", svc("    sysctls:\n      net.ipv4.ip_forward: 1\n"), 403, "policy_denied", "services.web.sysctls"),
    ("runtime", svc("    runtime: runc\n"), 403, "policy_denied", "services.web.runtime"),
    ("cgroup-parent", svc("    cgroup_parent: /\n"), 403, "policy_denied", "services.web.cgroup_parent"),
    ("log-driver", svc("    logging: {driver: syslog, options: {syslog-address: 'udp://10.0.0.1:514'}}\n"), 403,
     "policy_denied", "services.web.logging.driver"),
    ("unknown-key", svc("    dns: [10.0.0.1]\n"), 403, "policy_denied", "services.web.dns"),
    # ownership claims
    ("label-spoof", svc("    labels:\n      dockpay.key: docker_write2\n"), 403, "policy_denied",
     "services.web.labels.dockpay.key"),
    ("volume-custom-name", svc("volumes:\n  d:\n    name: somebody_else\n"), 403, "policy_denied", "volumes.d.name"),
    # httpd's environment through interpolation
    ("interp-secret", svc("    environment:\n      P: ${DOCKPAY_DB_PASSWORD}\n"), 422, "interpolation_not_allowed",
     "services.web.environment.P"),
    ("interp-image", "services:\n  web:\n    image: \"$HOME\"\n", 422, "interpolation_not_allowed",
     "services.web.image"),
    ("interp-default", svc("    entrypoint: echo ${X:-/}\n"), 422, "interpolation_not_allowed",
     "services.web.entrypoint"),
    ("env-passthrough", svc("    environment: [DOCKPAY_DB_PASSWORD]\n"), 422, "invalid_value",
     "services.web.environment"),
    # the parser
    ("alias-bomb", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
     "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
     "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n" + SVC, 422, "yaml_too_complex", None),
    ("python-tag", svc("    command: !!python/object/apply:os.system ['id']\n"), 422, "invalid_yaml", None),
    ("duplicate-key", svc("    image: other\n"), 422, "invalid_yaml", None),
]


def compose_dir(stack, project):
    return os.path.join(stack.tmp, "httpd", "compose", project)


def down(api, stack, project):
    api.delete(f"/compose/{project}", params={"t": "0", "volumes": "true"}, key=stack.keys["admin"])


@pytest.mark.parametrize("case,yaml,status,code,field", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_compose_attack_is_refused_and_changes_nothing(api, stack, case, yaml, status, code, field):
    project = "atk-" + case
    before = engine_snapshot(stack)
    r = api.post("/compose", json={"project": project, "compose": yaml}, key=stack.keys["docker_write"], timeout=120)
    refused(stack, r, status, code, field)
    assert_engine_unchanged(stack, before)
    assert not os.path.exists(compose_dir(stack, project)), "a refused file was written"


def test_compose_up_runs_with_nothing_of_httpds_environment(api, stack):
    """A '$$' is a literal '$': the container sees the variable name, not httpd's value, and the
    compose command itself runs without httpd's environment (no DOCKPAY_* variable)."""
    p = "atk-env"
    yaml = svc("    environment:\n      - 'X=$$DOCKPAY_DB_PASSWORD'\n")
    try:
        r = api.post("/compose", json={"project": p, "compose": yaml}, key=stack.keys["docker_write"], timeout=300)
        assert r.status_code == 200, r.text
        cid = r.json()["containers"][0]["Id"]
        st, info = stack.docker_api("GET", f"/containers/{cid}/json")
        assert st == 200
        assert "X=$DOCKPAY_DB_PASSWORD" in info["Config"]["Env"]
        assert not any(e.startswith("DOCKPAY_") for e in info["Config"]["Env"])
    finally:
        down(api, stack, p)


def test_two_services_volume_network_labels_list_and_down(api, stack):
    p = "atk-good"
    yaml = (
        "version: '3.8'\n"
        "x-base: &base\n"
        "  image: local/busybox:test\n"
        "  command: sleep 300\n"
        "  networks: [back]\n"
        "services:\n"
        "  web:\n"
        "    <<: *base\n"
        "    volumes:\n"
        "      - data:/data\n"
        "    depends_on: [db]\n"
        "    mem_limit: 64m\n"
        "  db:\n"
        "    <<: *base\n"
        "    labels: {tier: db}\n"
        "volumes:\n"
        "  data: {}\n"
        "networks:\n"
        "  back: {}\n")
    w, w2, adm = stack.keys["docker_write"], stack.keys["docker_write2"], stack.keys["admin"]
    try:
        r = api.post("/compose", json={"project": p, "compose": yaml}, key=w, timeout=300)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "running(2)" and body["services"] == ["db", "web"]
        for c in body["containers"]:
            assert c["Labels"]["dockpay.key"] == "docker_write" and c["Labels"]["dockpay.managed"] == "true"
        assert [v["Name"] for v in body["volumes"]] == [f"{p}_data"]
        assert body["volumes"][0]["Labels"]["dockpay.key"] == "docker_write"
        nets = {n["Name"]: n for n in body["networks"]}
        assert f"{p}_back" in nets and nets[f"{p}_back"]["Labels"]["dockpay.key"] == "docker_write"
        st, web = stack.docker_api("GET", f"/containers/{p}_web_1/json")
        assert st == 200 and web["HostConfig"]["Memory"] == 64 * 1024 * 1024
        # the folder holds only the normalised JSON
        d = compose_dir(stack, p)
        assert os.listdir(d) == ["docker-compose.yml"]
        doc = json.load(open(os.path.join(d, "docker-compose.yml")))
        assert doc["version"] == "2.4" and "x-base" not in doc
        db = doc["services"]["db"]
        assert db["labels"] == {"tier": "db", "dockpay.managed": "true", "dockpay.key": "docker_write",
                                "dockpay.memory": str(db["mem_limit"]),
                                "dockpay.nanocpus": str(round(db["cpus"] * 1e9))}
        # the limits the create policy built run: swap no larger than memory, a PIDs limit
        assert db["memswap_limit"] == db["mem_limit"] and db["pids_limit"] > 0
        # listed for its key and admin, not for another key
        assert p in [i["name"] for i in api.get("/compose", key=w).json()["items"]]
        assert p in [i["name"] for i in api.get("/compose", key=adm).json()["items"]]
        assert p not in [i["name"] for i in api.get("/compose", key=w2).json()["items"]]
        r = api.delete(f"/compose/{p}", params={"t": "0", "volumes": "true"}, key=w)
        assert r.status_code == 200, r.text
        gone = r.json()
        assert len(gone["containers"]) == 2 and gone["volumes"] == [f"{p}_data"]
        assert sorted(gone["networks"]) == [f"{p}_back"]
        assert stack.docker_api("GET", f"/volumes/{p}_data")[0] == 404
        assert_problem(api.get(f"/compose/{p}", key=w), 404, "project_not_found")
    finally:
        down(api, stack, p)


def test_another_keys_project_is_invisible_and_cannot_be_taken(api, stack):
    p = "atk-owned"
    w, w2 = stack.keys["docker_write"], stack.keys["docker_write2"]
    try:
        r = api.post("/compose", json={"project": p, "compose": SVC}, key=w, timeout=300)
        assert r.status_code == 200, r.text
        before = engine_snapshot(stack)
        assert_problem(api.get(f"/compose/{p}", key=w2), 404, "project_not_found")
        for action in ("stop", "start", "restart"):
            assert_problem(api.post(f"/compose/{p}/{action}", params={"t": "0"}, key=w2), 404, "project_not_found")
        assert_problem(api.delete(f"/compose/{p}", params={"t": "0", "volumes": "true"}, key=w2), 404,
                       "project_not_found")
        r = api.post("/compose", json={"project": p, "compose": SVC.replace("sleep 300", "sleep 301")}, key=w2,
                     timeout=300)
        refused(stack, r, 409, "project_owned")
        assert_engine_unchanged(stack, before)
        assert p not in [i["name"] for i in api.get("/compose", key=w2).json()["items"]]
        # its owner can up it again (no change: nothing is recreated)
        r = api.post("/compose", json={"project": p, "compose": SVC}, key=w, timeout=300)
        assert r.status_code == 200, r.text
    finally:
        down(api, stack, p)


def test_a_volume_or_network_of_another_key_cannot_be_used(api, stack):
    w, w2 = stack.keys["docker_write"], stack.keys["docker_write2"]
    vol, p = "atk-w2-vol", "atk-ext"
    try:
        r = api.post("/volumes", json={"name": vol}, key=w2)
        assert r.status_code in (200, 201), r.text
        stack.docker("volume", "create", "atk-cli-vol")
        stack.docker("volume", "create", "--label", "dockpay.key=docker_write2", f"{p}_data")
        before = engine_snapshot(stack)
        # an external volume of another key, and one made outside the API
        for name in (vol, "atk-cli-vol"):
            yaml = svc(f"    volumes: ['x:/x']\nvolumes:\n  x:\n    external: true\n    name: {name}\n")
            r = api.post("/compose", json={"project": p, "compose": yaml}, key=w, timeout=120)
            refused(stack, r, 403, "policy_denied", "volumes.x")
        # external: {name: ...}, an external network
        yaml = svc(f"volumes:\n  x:\n    external:\n      name: {vol}\n")
        refused(stack, api.post("/compose", json={"project": p, "compose": yaml}, key=w, timeout=120), 403,
                "policy_denied", "volumes.x")
        # the engine's host network (network_mode: host in disguise): not even for admin
        yaml = svc("    networks: [n]\nnetworks:\n  n:\n    external: true\n    name: host\n")
        for key in (w, stack.keys["admin"]):
            refused(stack, api.post("/compose", json={"project": p, "compose": yaml}, key=key, timeout=120), 403,
                    "policy_denied", "networks.n")
        # the project volume name already taken by another key
        yaml = svc("    volumes: ['data:/data']\nvolumes:\n  data: {}\n")
        refused(stack, api.post("/compose", json={"project": p, "compose": yaml}, key=w, timeout=120), 409,
                "project_owned", "volumes.data")
        # a missing external volume
        yaml = svc("volumes:\n  x:\n    external: true\n    name: atk-nosuch\n")
        refused(stack, api.post("/compose", json={"project": p, "compose": yaml}, key=w, timeout=120), 422,
                "invalid_value", "volumes.x")
        assert_engine_unchanged(stack, before)
    finally:
        api.delete(f"/volumes/{vol}", key=stack.keys["admin"])
        stack.docker("volume", "rm", "atk-cli-vol", check=False)
        stack.docker("volume", "rm", f"{p}_data", check=False)


def test_a_project_made_with_the_compose_cli_is_never_taken_over(api, stack):
    p = "atk-cli"
    d = os.path.join(stack.tmp, "atk-cli")
    os.makedirs(d, exist_ok=True)
    f = os.path.join(d, "docker-compose.yml")
    with open(f, "w") as fh:
        fh.write(SVC)
    env = {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{stack.docker_sock}", "HOME": d}
    cli = ["docker-compose", "-p", p, "-f", f]
    subprocess.run(cli + ["up", "-d"], env=env, check=True, capture_output=True, timeout=300)
    try:
        before = engine_snapshot(stack)
        for key in ("docker_write", "admin"):
            r = api.post("/compose", json={"project": p, "compose": SVC}, key=stack.keys[key], timeout=120)
            refused(stack, r, 409, "project_owned")
        w = stack.keys["docker_write"]
        assert_problem(api.get(f"/compose/{p}", key=w), 404, "project_not_found")
        assert_problem(api.post(f"/compose/{p}/stop", params={"t": "0"}, key=w), 404, "project_not_found")
        assert_problem(api.delete(f"/compose/{p}", params={"t": "0"}, key=w), 404, "project_not_found")
        assert p not in [i["name"] for i in api.get("/compose", key=w).json()["items"]]
        assert_engine_unchanged(stack, before)
        # admin sees it
        assert api.get(f"/compose/{p}", key=stack.keys["admin"]).status_code == 200
    finally:
        subprocess.run(cli + ["down", "-t", "0"], env=env, capture_output=True, timeout=300)
