"""Images: list, inspect by name (with '/' and ':'), pull from the local registry (success, a
missing repository, an in-band error from a corrupted layer), build from a posted tar (success,
a failing RUN, validation), delete."""
import io
import json
import os
import secrets
import tarfile

import pytest

from conftest import assert_problem

TAR = {"Content-Type": "application/x-tar"}


def make_tar(files):
    """Returns tar bytes holding files (name -> str or bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def image_exists(stack, ref):
    return stack.docker_api("GET", f"/images/{ref}/json")[0] == 200


def push_to_registry(stack, src, ref):
    """Tags src as ref, pushes it to the local registry and removes the local copy."""
    stack.docker("tag", src, ref)
    stack.docker("push", ref)
    stack.docker("rmi", ref)
    assert not image_exists(stack, ref)


def test_list_and_inspect_by_name_with_colon(api):
    r = api.get("/images")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert any("local/busybox:test" in (i.get("RepoTags") or []) for i in items)
    r = api.get("/images/local/busybox:test")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["Id"].startswith("sha256:") and "local/busybox:test" in body["RepoTags"]
    # by id too
    assert api.get(f"/images/{body['Id']}").json()["Id"] == body["Id"]
    r = api.get("/images", params={"reference": "local/busybox:test"})
    assert [i["Id"] for i in r.json()["items"]] == [body["Id"]]


def test_inspect_unknown_or_invalid_is_404(api):
    assert_problem(api.get("/images/local/nope:zz"), 404, "image_not_found")
    assert_problem(api.get("/images/bad name"), 404, "image_not_found")


def test_pull_from_local_registry(api, stack):
    ref = "localhost:5000/dp/bb:1"
    push_to_registry(stack, "local/busybox:test", ref)
    r = api.post("/images/pull", json={"image": "localhost:5000/dp/bb", "tag": "1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["image"] == ref
    assert body["id"].startswith("sha256:")
    assert "Downloaded newer image" in body["status"], body
    assert image_exists(stack, ref)
    # the same again: up to date, still 200
    r = api.post("/images/pull", json={"image": ref})
    assert r.status_code == 200 and "up to date" in r.json()["status"], r.text
    rows = stack.sql("SELECT target, status FROM audit_log WHERE method='POST' AND path='/images/pull' "
                     "ORDER BY id DESC LIMIT 1")
    assert rows and rows[0][0] == ref
    stack.docker("rmi", ref)


def test_pull_with_registry_auth_header_is_accepted(api, stack):
    ref = "localhost:5000/dp/bbauth:1"
    push_to_registry(stack, "local/busybox:test", ref)
    r = api.post("/images/pull", json={"image": ref, "auth": {"username": "u", "password": "s3cr3t-pw",
                                                             "serveraddress": "localhost:5000"}})
    assert r.status_code == 200, r.text
    assert "s3cr3t-pw" not in stack.error_log()
    stack.docker("rmi", ref)


def test_pull_missing_repository_is_404(api):
    r = api.post("/images/pull", json={"image": "localhost:5000/dp/does-not-exist:1"})
    body = assert_problem(r, 404, "image_not_found")
    assert "Docker:" in body["detail"]


def test_pull_validation(api):
    assert_problem(api.post("/images/pull", json={}), 400)
    assert_problem(api.post("/images/pull", json={"image": 5}), 400)
    assert_problem(api.post("/images/pull", json={"image": "redis", "bogus": 1}), 400)
    assert_problem(api.post("/images/pull", json={"image": "bad image"}), 422)
    assert_problem(api.post("/images/pull", json={"image": "redis:7", "tag": "8"}), 422)
    assert_problem(api.post("/images/pull", json={"image": "redis", "auth": "x"}), 400)


def unique_image(stack, repo):
    """Imports a one-file image whose layer exists nowhere else (so its blob can be corrupted)."""
    data = make_tar({"marker": secrets.token_hex(64)})
    st, body = stack.docker_api("POST", f"/images/create?fromSrc=-&repo={repo}&tag=src", body=data,
                                headers={"Content-Type": "application/x-tar"})
    assert st == 200, body
    return f"{repo}:src"


def test_pull_inband_error_from_corrupted_layer(api, stack):
    src = unique_image(stack, "dp/corruptsrc")
    ref = "localhost:5000/dp/corrupt:1"
    push_to_registry(stack, src, ref)
    stack.docker("rmi", src)
    reg = stack.registry_dir
    link = os.path.join(reg, "docker/registry/v2/repositories/dp/corrupt/_manifests/tags/1/current/link")
    with open(link) as f:
        mdigest = f.read().strip().split(":", 1)[1]
    blob = lambda d: os.path.join(reg, "docker/registry/v2/blobs/sha256", d[:2], d, "data")
    with open(blob(mdigest)) as f:
        manifest = json.load(f)
    layer = manifest["layers"][0]["digest"].split(":", 1)[1]
    size = os.path.getsize(blob(layer))
    with open(blob(layer), "wb") as f:
        f.write(os.urandom(size))
    r = api.post("/images/pull", json={"image": ref})
    assert r.status_code in (502, 404, 422), r.text
    body = assert_problem(r, r.status_code)
    assert body["code"] in ("pull_failed", "image_not_found")
    assert body["detail"].startswith("Docker: ") and len(body["detail"]) > 10
    assert not image_exists(stack, ref)


def test_build_from_posted_tar(api, stack):
    ctx = make_tar({"Dockerfile": "FROM local/busybox:test\nRUN echo built > /f\n"})
    r = api.post("/images/build", params={"t": "dp/built:1"}, data=ctx, headers=TAR)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("sha256:")
    assert body["tags"] == ["dp/built:1"]
    assert any("RUN echo built" in line for line in body["log"]), body["log"]
    st, info = stack.docker_api("GET", "/images/dp/built:1/json")
    assert st == 200 and info["Id"] == body["id"]
    out = stack.docker("run", "--rm", "--network", "none", "dp/built:1", "cat", "/f")
    assert out.strip() == "built"
    stack.docker("rmi", "dp/built:1")


def test_build_streams_a_context_larger_than_the_body_cap(api, stack):
    """8 MiB, sent chunked: far over DockpayMaxBody (1 MiB); the build streams it through."""
    ctx = make_tar({"Dockerfile": "FROM local/busybox:test\nCOPY big /big\n", "big": os.urandom(8 << 20)})

    def chunks():
        for i in range(0, len(ctx), 256 << 10):
            yield ctx[i:i + (256 << 10)]
    r = api.post("/images/build", params={"t": "dp/bigctx:1", "dockerfile": "Dockerfile"}, data=chunks(),
                 headers=TAR)
    assert r.status_code == 200, r.text
    out = stack.docker("run", "--rm", "--network", "none", "dp/bigctx:1", "wc", "-c", "/big")
    assert out.split()[0] == str(8 << 20)
    stack.docker("rmi", "dp/bigctx:1")


def test_build_with_failing_run_is_422_with_log(api, stack):
    ctx = make_tar({"Dockerfile": "FROM local/busybox:test\nRUN false\n"})
    r = api.post("/images/build", params={"t": "dp/fails:1"}, data=ctx, headers=TAR)
    body = assert_problem(r, 422, "build_failed")
    assert "non-zero code" in body["detail"]
    assert any("RUN false" in line for line in body["log"]), body
    assert not image_exists(stack, "dp/fails:1")


def test_build_validation(api):
    ctx = make_tar({"Dockerfile": "FROM local/busybox:test\n"})
    assert_problem(api.post("/images/build", data=ctx, headers={"Content-Type": "application/json"}), 415)
    assert_problem(api.post("/images/build", params={"buildargs": "{bad"}, data=ctx, headers=TAR), 400)
    assert_problem(api.post("/images/build", params={"buildargs": '{"a": 1}'}, data=ctx, headers=TAR), 422)
    assert_problem(api.post("/images/build", params={"t": "bad tag!"}, data=ctx, headers=TAR), 422)
    assert_problem(api.post("/images/build", params={"dockerfile": "../x"}, data=ctx, headers=TAR), 422)
    # no Dockerfile in the context
    assert_problem(api.post("/images/build", data=make_tar({"x": "y"}), headers=TAR), 422, "build_failed")


def test_build_args_are_passed(api, stack):
    ctx = make_tar({"Dockerfile": "FROM local/busybox:test\nARG GREETING\nRUN echo $GREETING > /g\n"})
    r = api.post("/images/build", params={"t": "dp/args:1", "buildargs": json.dumps({"GREETING": "hallo"})},
                 data=ctx, headers=TAR)
    assert r.status_code == 200, r.text
    out = stack.docker("run", "--rm", "--network", "none", "dp/args:1", "cat", "/g")
    assert out.strip() == "hallo"
    stack.docker("rmi", "dp/args:1")


def test_delete_image(api, stack):
    stack.docker("tag", "local/busybox:test", "dp/del:1")
    r = api.delete("/images/dp/del:1")
    assert r.status_code == 200, r.text
    assert {"Untagged": "dp/del:1"} in r.json()["items"]
    assert not image_exists(stack, "dp/del:1")
    assert image_exists(stack, "local/busybox:test")
    assert_problem(api.delete("/images/dp/del:1"), 404, "image_not_found")
    assert_problem(api.delete("/images/dp/x:1", params={"force": "maybe"}), 400)


def test_image_routes_need_scopes(api, stack):
    assert api.get("/images", key=stack.keys["docker_read"]).status_code == 200
    assert_problem(api.post("/images/pull", key=stack.keys["docker_read"], json={"image": "x"}), 403,
                   "insufficient_scope")
