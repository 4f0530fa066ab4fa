"""Attacks on builds, pulls and image ownership (issue 11): a Dockerfile that would make dockerd
fetch a URL (ADD in many spellings), remote contexts and build parameters outside the allow-list,
registries not on DockpayRegistryAllow, and one key overwriting, deleting or reading another
key's (or the operator's) image tags. Every refusal asserts the status, the code and that the
engine holds exactly what it held before. Positive cases: a RUN build and a pull from the local
registry by a non-admin key, owned by it and hidden from the other key."""
import gzip
import io
import json
import tarfile

import pytest

from attack_util import assert_engine_unchanged, engine_snapshot, refused

TAR = {"Content-Type": "application/x-tar"}
BASE = "local/busybox:test"
OWNED2 = "dp/atk-owned2:1"     # built by docker_write2 in the module fixture


def make_tar(files, links=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            t.addfile(info)
    return buf.getvalue()


def image_exists(stack, ref):
    return stack.docker_api("GET", f"/images/{ref}/json")[0] == 200


@pytest.fixture
def owned2(api, stack):
    """An image tag owned by docker_write2 (built through the API)."""
    ctx = make_tar({"Dockerfile": f"FROM {BASE}\nRUN echo two > /owner\n"})
    r = api.post("/images/build", params={"t": OWNED2}, data=ctx, headers=TAR, key=stack.keys["docker_write2"])
    assert r.status_code == 200, r.text
    yield r.json()["id"]
    stack.docker("rmi", "-f", OWNED2, check=False)


def build(api, stack, dockerfile, key="docker_write", params=None, files=None):
    files = dict(files or {})
    if dockerfile is not None:
        files.setdefault("Dockerfile", dockerfile)
    return api.post("/images/build", params=params or {"t": "dp/atk:1"}, data=make_tar(files), headers=TAR,
                    key=stack.keys[key])


URL_ADDS = {
    "plain": "FROM local/busybox:test\nADD http://169.254.169.254/latest/meta-data/ /x\n",
    "lowercase": "from local/busybox:test\nadd https://127.0.0.1:2375/containers/json /x\n",
    "mixed_case_scheme": "FROM local/busybox:test\nAdd HTTP://127.0.0.1/ /x\n",
    "continuation": "FROM local/busybox:test\nADD http:\\\n//127.0.0.1/ \\\n    /x\n",
    "continuation_comment": "FROM local/busybox:test\nADD \\\n# hidden\n  http://127.0.0.1/ /x\n",
    "escape_backtick": "# escape=`\nFROM local/busybox:test\nADD `\n  http://127.0.0.1/ `\n  /x\n",
    "json_form": "FROM local/busybox:test\nADD [\"http://127.0.0.1/\", \"/x\"]\n",
    "json_escaped": "FROM local/busybox:test\nADD [\"http\\u003a//127.0.0.1/\", \"/x\"]\n",
    "onbuild": "FROM local/busybox:test\nONBUILD ADD http://127.0.0.1/ /x\n",
    "chown_flag": "FROM local/busybox:test\nADD --chown=1:1 --chmod=644 http://127.0.0.1/ /x\n",
    "quoted": "FROM local/busybox:test\nADD \"http://127.0.0.1/\" /x\n",
    "git_ssh": "FROM local/busybox:test\nADD git@github.com:moby/moby.git /src\n",
    "variable": "FROM local/busybox:test\nARG U=http://127.0.0.1/\nADD $U /x\n",
    "heredoc": "FROM local/busybox:test\nADD <<EOF /x\nhi\nEOF\n",
    "crlf_bom": "\ufeffFROM local/busybox:test\r\nADD http://127.0.0.1/ /x\r\n",
    "unicode_space": "FROM local/busybox:test\n\u00a0\u3000ADD http://127.0.0.1/ /x\n",
    "broken_continuation": "FROM local/busybox:test\nRUN echo \\\v\nADD http://127.0.0.1/ /x\n",
}


@pytest.mark.parametrize("name", sorted(URL_ADDS))
def test_add_of_a_url_is_refused(api, stack, name):
    before = engine_snapshot(stack)
    body = refused(stack, build(api, stack, URL_ADDS[name]), 403, "policy_denied", "Dockerfile")
    assert "line" in body and body["line"] >= 2, body
    assert_engine_unchanged(stack, before)


def test_add_url_in_a_named_dockerfile_is_refused(api, stack):
    before = engine_snapshot(stack)
    r = build(api, stack, "FROM local/busybox:test\n", params={"t": "dp/atk:1", "dockerfile": "sub/Build.df"},
              files={"sub/Build.df": "FROM local/busybox:test\nADD http://127.0.0.1/ /x\n"})
    refused(stack, r, 403, "policy_denied", "Dockerfile")
    assert_engine_unchanged(stack, before)


def test_remote_context_is_refused(api, stack):
    before = engine_snapshot(stack)
    r = api.post("/images/build", params={"remote": "https://github.com/moby/moby.git", "t": "dp/atk:1"},
                 data=b"", headers=TAR, key=stack.keys["docker_write"])
    refused(stack, r, 403, "policy_denied", "remote")
    assert_engine_unchanged(stack, before)


@pytest.mark.parametrize("param,value", [
    ("networkmode", "host"), ("networkmode", "container:abc"), ("extrahosts", "metadata:169.254.169.254"),
    ("platform", "linux/arm64"), ("outputs", "type=local,dest=/"), ("memory", "99999999999"),
    ("cgroupparent", "/"), ("pull", "1"), ("rm", "0"), ("labels", '{"dockpay.key": "docker_write2"}'),
])
def test_build_parameters_outside_the_allow_list_are_refused(api, stack, param, value):
    before = engine_snapshot(stack)
    r = build(api, stack, "FROM local/busybox:test\n", params={"t": "dp/atk:1", param: value})
    refused(stack, r, 403, "policy_denied", param)
    assert_engine_unchanged(stack, before)


def test_pull_from_a_registry_not_allowed_is_refused(api, stack):
    before = engine_snapshot(stack)
    for image in ("127.0.0.1:2375/x/y:1", "evil.example/x:1", "localhost:5001/dp/bb:1", "LOCALHOST/x:1"):
        r = api.post("/images/pull", json={"image": image}, key=stack.keys["docker_write"])
        assert r.status_code in (403, 422), (image, r.text)
        if r.status_code == 403:
            body = refused(stack, r, 403, "policy_denied", "image")
            assert "registry" in body["detail"], body
    assert_engine_unchanged(stack, before)


@pytest.mark.parametrize("df", [
    "FROM 127.0.0.1:2375/x/y:1\n",
    "FROM local/busybox:test AS a\nCOPY --from=evil.example:443/x:1 /a /b\n",
    "ARG B=evil.example/x\nFROM $B\n",
    "FROM --platform=linux/arm64 local/busybox:test\n",
])
def test_from_a_registry_not_allowed_is_refused(api, stack, df):
    before = engine_snapshot(stack)
    refused(stack, build(api, stack, df), 403, "policy_denied")
    assert_engine_unchanged(stack, before)


def test_context_tricks_are_refused(api, stack):
    before = engine_snapshot(stack)
    bad = "FROM local/busybox:test\nADD http://127.0.0.1/ /x\n"
    good = "FROM local/busybox:test\n"
    # gzip: Docker would decompress it, the scan could not look in
    r = api.post("/images/build", params={"t": "dp/atk:1"}, data=gzip.compress(make_tar({"Dockerfile": bad})),
                 headers=TAR, key=stack.keys["docker_write"])
    refused(stack, r, 403, "policy_denied")
    # a Dockerfile that is a link, or reached through one
    r = api.post("/images/build", params={"t": "dp/atk:1"}, data=make_tar({"evil": bad}, links=[("Dockerfile", "evil")]),
                 headers=TAR, key=stack.keys["docker_write"])
    refused(stack, r, 403, "policy_denied")
    r = api.post("/images/build", params={"t": "dp/atk:1", "dockerfile": "sub/Dockerfile"},
                 data=make_tar({"Dockerfile": bad}, links=[("sub", ".")]), headers=TAR, key=stack.keys["docker_write"])
    refused(stack, r, 403, "policy_denied")
    # two Dockerfile entries (the second would win in Docker)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in (("Dockerfile", good), ("./Dockerfile", bad)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data.encode()))
    r = api.post("/images/build", params={"t": "dp/atk:1"}, data=buf.getvalue(), headers=TAR,
                 key=stack.keys["docker_write"])
    refused(stack, r, 422, "build_failed")
    assert_engine_unchanged(stack, before)


def test_overwrite_another_keys_tag_by_build_is_409(api, stack, owned2):
    before = engine_snapshot(stack)
    r = build(api, stack, "FROM local/busybox:test\nRUN echo one > /owner\n", params={"t": OWNED2})
    refused(stack, r, 409, "image_tag_taken")
    assert_engine_unchanged(stack, before)
    assert stack.docker_api("GET", f"/images/{OWNED2}/json")[1]["Id"] == owned2


def test_overwrite_another_keys_tag_by_pull_is_409(api, stack, owned2):
    before = engine_snapshot(stack)
    r = api.post("/images/pull", json={"image": OWNED2}, key=stack.keys["docker_write"])
    refused(stack, r, 409, "image_tag_taken")
    assert_engine_unchanged(stack, before)


def test_overwrite_the_operators_tag_is_409(api, stack):
    before = engine_snapshot(stack)
    r = build(api, stack, "FROM local/busybox:test\nRUN echo mine > /x\n", params={"t": BASE})
    refused(stack, r, 409, "image_tag_taken")
    r = api.post("/images/pull", json={"image": BASE}, key=stack.keys["docker_write"])
    refused(stack, r, 409, "image_tag_taken")
    assert_engine_unchanged(stack, before)


def test_delete_another_keys_or_the_operators_image_is_404(api, stack, owned2):
    before = engine_snapshot(stack)
    for name in (OWNED2, owned2, BASE):
        refused(stack, api.delete(f"/images/{name}", params={"force": "true"}, key=stack.keys["docker_write"]),
                404, "image_not_found")
    assert_engine_unchanged(stack, before)


def test_inspect_and_list_hide_another_keys_image(api, stack, owned2):
    before = engine_snapshot(stack)
    refused(stack, api.get(f"/images/{OWNED2}", key=stack.keys["docker_write"]), 404, "image_not_found")
    refused(stack, api.get(f"/images/{owned2}", key=stack.keys["docker_write"]), 404, "image_not_found")
    ids = [i["Id"] for i in api.get("/images", key=stack.keys["docker_write"]).json()["items"]]
    assert owned2 not in ids
    # the operator's base image stays visible, read-only
    assert api.get(f"/images/{BASE}", key=stack.keys["docker_write"]).status_code == 200
    assert api.get(f"/images/{OWNED2}", key=stack.keys["docker_write2"]).status_code == 200
    assert_engine_unchanged(stack, before)


def test_from_another_keys_image_is_refused(api, stack, owned2):
    before = engine_snapshot(stack)
    refused(stack, build(api, stack, f"FROM {OWNED2}\nRUN true\n"), 403, "policy_denied")
    # by id, and through COPY --from, too
    refused(stack, build(api, stack, f"FROM {owned2}\nRUN true\n"), 403, "policy_denied")
    refused(stack, build(api, stack, f"FROM {BASE}\nCOPY --from={owned2} /owner /x\n"), 403, "policy_denied")
    assert_engine_unchanged(stack, before)


def test_build_by_a_key_is_owned_and_hidden_from_the_other(api, stack, owned2):
    ref = "dp/atk-mine:1"
    # a LABEL naming another key is overridden by the module's own labels
    r = build(api, stack, "FROM local/busybox:test\nLABEL dockpay.key=docker_write2 dockpay.managed=false\n"
                          "RUN echo mine > /owner\nRUN cat /owner\n", params={"t": ref})
    assert r.status_code == 200, r.text
    img = r.json()["id"]
    try:
        st, info = stack.docker_api("GET", f"/images/{ref}/json")
        assert st == 200 and info["Id"] == img
        assert info["Config"]["Labels"]["dockpay.key"] == "docker_write"
        assert info["Config"]["Labels"]["dockpay.managed"] == "true"
        assert stack.sql("SELECT key_name FROM image_owners WHERE ref=%s", ref) == [("docker_write",)]
        mine = [i["Id"] for i in api.get("/images", key=stack.keys["docker_write"]).json()["items"]]
        other = [i["Id"] for i in api.get("/images", key=stack.keys["docker_write2"]).json()["items"]]
        admin = [i["Id"] for i in api.get("/images").json()["items"]]
        assert img in mine and img in admin and img not in other
        assert owned2 not in mine and owned2 in other
        refused(stack, api.get(f"/images/{ref}", key=stack.keys["docker_write2"]), 404, "image_not_found")
        # the owner may rebuild its own tag, then delete it
        r = build(api, stack, "FROM local/busybox:test\nRUN echo again > /owner\n", params={"t": ref})
        assert r.status_code == 200, r.text
        r = api.delete(f"/images/{ref}", key=stack.keys["docker_write"])
        assert r.status_code == 200, r.text
        assert not image_exists(stack, ref)
        assert stack.sql("SELECT key_name FROM image_owners WHERE ref=%s", ref) == []
    finally:
        stack.docker("rmi", "-f", ref, check=False)


def test_pull_from_the_local_registry_by_a_key(api, stack):
    ref = "localhost:5000/dp/atk-pull:1"
    stack.docker("tag", BASE, ref)
    stack.docker("push", ref)
    stack.docker("rmi", ref)
    try:
        r = api.post("/images/pull", json={"image": ref}, key=stack.keys["docker_write"])
        assert r.status_code == 200, r.text
        assert image_exists(stack, ref)
        assert stack.sql("SELECT key_name FROM image_owners WHERE ref=%s", ref) == [("docker_write",)]
        # the other key can neither pull over it nor see it by name
        before = engine_snapshot(stack)
        refused(stack, api.post("/images/pull", json={"image": ref}, key=stack.keys["docker_write2"]),
                409, "image_tag_taken")
        refused(stack, api.get(f"/images/{ref}", key=stack.keys["docker_write2"]), 404, "image_not_found")
        assert_engine_unchanged(stack, before)
        # the owner pulls it again (up to date)
        assert api.post("/images/pull", json={"image": ref}, key=stack.keys["docker_write"]).status_code == 200
    finally:
        stack.docker("rmi", "-f", ref, check=False)
        stack.sql("DELETE FROM image_owners WHERE ref=%s", ref)


def test_a_failed_build_releases_its_claim(api, stack):
    ref = "dp/atk-fails:1"
    r = build(api, stack, "FROM local/busybox:test\nRUN false\n", params={"t": ref})
    refused(stack, r, 422, "build_failed")
    assert stack.sql("SELECT key_name FROM image_owners WHERE ref=%s", ref) == []


def test_from_an_image_with_a_url_onbuild_trigger_is_refused(api, stack):
    """An operator image carrying ONBUILD ADD <url> (made outside the API): its trigger would run
    in the key's build, so the build is refused before the engine sees it."""
    ref = "dp/atk-onbuild:1"
    reg = "localhost:5000/dp/atk-onbuild:1"
    changes = "ONBUILD ADD http://127.0.0.1/ /x"
    st, body = stack.docker_api("POST", "/images/create?fromSrc=-&repo=dp/atk-onbuild&tag=1&changes="
                                + changes.replace(" ", "%20"), body=make_tar({"f": "x"}),
                                headers={"Content-Type": "application/x-tar"})
    assert st == 200, body
    try:
        assert stack.docker_api("GET", f"/images/{ref}/json")[1]["Config"]["OnBuild"] == ["ADD http://127.0.0.1/ /x"]
        before = engine_snapshot(stack)
        body = refused(stack, build(api, stack, f"FROM {ref}\n"), 403, "policy_denied")
        assert "ONBUILD" in body["detail"], body
        assert_engine_unchanged(stack, before)
        # the same image from the (allowed) local registry: pulled first, then refused
        stack.docker("tag", ref, reg)
        stack.docker("push", reg)
        stack.docker("rmi", reg)
        body = refused(stack, build(api, stack, f"FROM {reg}\nRUN true\n"), 403, "policy_denied")
        assert "ONBUILD" in body["detail"], body
        assert not image_exists(stack, "dp/atk:1")
        assert stack.sql("SELECT key_name FROM image_owners WHERE ref='dp/atk:1'") == []
    finally:
        stack.docker("rmi", "-f", ref, check=False)
        stack.docker("rmi", "-f", reg, check=False)


def test_from_an_allowed_registry_is_pulled_and_built(api, stack):
    reg = "localhost:5000/dp/atk-base:1"
    stack.docker("tag", BASE, reg)
    stack.docker("push", reg)
    stack.docker("rmi", reg)
    try:
        r = build(api, stack, f"FROM {reg}\nRUN echo ok > /ok\n", params={"t": "dp/atk-fromreg:1"})
        assert r.status_code == 200, r.text
        assert image_exists(stack, "dp/atk-fromreg:1")
    finally:
        stack.docker("rmi", "-f", "dp/atk-fromreg:1", check=False)
        stack.docker("rmi", "-f", reg, check=False)


@pytest.mark.allow_log(r"dbd|DBD|mysql|MySQL|database|MariaDB")
def test_database_down_non_admin_image_writes_are_503(api, stack):
    """Without the database nobody's tags can be told apart: non-admin builds, pulls and deletes
    answer 503 and change nothing; the engine is untouched."""
    stack.stop_db()
    try:
        before = engine_snapshot(stack)
        for _ in range(2):   # the first call may find a pooled handle
            r = build(api, stack, "FROM local/busybox:test\nRUN true\n", params={"t": "dp/atk-nodb:1"})
        assert r.status_code == 503, r.text
        r = api.post("/images/pull", json={"image": "localhost:5000/dp/nope:1"}, key=stack.keys["docker_write"])
        assert r.status_code == 503, r.text
        r = api.delete("/images/local/busybox:test", key=stack.keys["docker_write"])
        assert r.status_code == 503, r.text
        r = api.get("/images", key=stack.keys["docker_write"])
        assert r.status_code == 503, r.text
        assert_engine_unchanged(stack, before)
    finally:
        stack.start_db()


def test_a_tag_removed_outside_the_api_can_be_claimed_again(api, stack, owned2):
    """The record of a tag whose image is gone (removed with the docker CLI) and whose build was
    over does not block another key for ever."""
    stack.docker("rmi", "-f", OWNED2)
    r = build(api, stack, "FROM local/busybox:test\nRUN echo one > /owner\n", params={"t": OWNED2})
    assert r.status_code == 200, r.text
    assert stack.sql("SELECT key_name, pending FROM image_owners WHERE ref=%s", OWNED2) == [("docker_write", "0")]
    refused(stack, api.get(f"/images/{OWNED2}", key=stack.keys["docker_write2"]), 404, "image_not_found")


def test_the_admins_build_is_admin_owned(api, stack):
    ref = "dp/atk-admin:1"
    r = api.post("/images/build", params={"t": ref}, data=make_tar({"Dockerfile": "FROM local/busybox:test\nRUN true\n"}),
                 headers=TAR)
    assert r.status_code == 200, r.text
    try:
        assert stack.sql("SELECT key_name FROM image_owners WHERE ref=%s", ref) == [("admin",)]
        refused(stack, api.get(f"/images/{ref}", key=stack.keys["docker_write"]), 404, "image_not_found")
        before = engine_snapshot(stack)
        refused(stack, build(api, stack, "FROM local/busybox:test\n", params={"t": ref}), 409, "image_tag_taken")
        assert_engine_unchanged(stack, before)
    finally:
        stack.docker("rmi", "-f", ref, check=False)


def test_create_with_pull_from_a_registry_not_allowed_is_refused(api, stack):
    before = engine_snapshot(stack)
    for image in ("127.0.0.1:2375/x/y:1", "evil.example/x:1"):
        r = api.post("/containers", params={"pull": "true"}, json={"image": image, "cmd": ["true"]},
                     key=stack.keys["docker_write"])
        body = refused(stack, r, 403, "policy_denied", "image")
        assert "registry" in body["detail"], body
    assert_engine_unchanged(stack, before)


def test_a_refused_second_tag_releases_the_first_claim(api, stack, owned2):
    r = api.post("/images/build", params=[("t", "dp/atk-first:1"), ("t", OWNED2)],
                 data=make_tar({"Dockerfile": "FROM local/busybox:test\nRUN true\n"}), headers=TAR,
                 key=stack.keys["docker_write"])
    refused(stack, r, 409, "image_tag_taken")
    assert stack.sql("SELECT key_name FROM image_owners WHERE ref='dp/atk-first:1'") == []
    assert not image_exists(stack, "dp/atk-first:1")


def test_container_from_another_keys_image_is_404(api, stack, owned2):
    """A key cannot run another key's image, by tag or by id (its content is the other key's)."""
    before = engine_snapshot(stack)
    for image in (OWNED2, owned2):
        r = api.post("/containers", json={"image": image, "name": f"dpx-{owned2[7:15]}", "cmd": ["true"]},
                     key=stack.keys["docker_write"])
        refused(stack, r, 404, "image_not_found")
        r = api.post("/containers", json={"docker": {"Image": image, "Cmd": ["true"]}},
                     key=stack.keys["docker_write"])
        refused(stack, r, 404, "image_not_found")
    assert_engine_unchanged(stack, before)


def test_compose_service_from_another_keys_image_is_404(api, stack, owned2):
    before = engine_snapshot(stack)
    r = api.post("/compose", json={"project": "dpx-foreign-image",
                                   "compose": f"services:\n  app:\n    image: {OWNED2}\n    command: ['true']\n"},
                 key=stack.keys["docker_write"])
    refused(stack, r, 404, "image_not_found")
    assert_engine_unchanged(stack, before)


def test_the_owner_runs_its_own_image(api, stack, owned2):
    r = api.post("/containers", json={"image": OWNED2, "name": f"dpx-own-{owned2[7:15]}", "cmd": ["true"]},
                 key=stack.keys["docker_write2"])
    try:
        assert r.status_code == 201, r.text
    finally:
        stack.docker("rm", "-f", f"dpx-own-{owned2[7:15]}", check=False)
