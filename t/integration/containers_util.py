"""Helpers for the containers/logs/policy/volumes integration tests: unique names, a fixture
that removes what a test made, and small waits."""
import secrets
import time

import pytest

IMAGE = "local/busybox:test"


def uniq(prefix="dpc"):
    return f"{prefix}-{secrets.token_hex(4)}"


class Made:
    """Containers and volumes a test created; removed afterwards through the docker CLI."""

    def __init__(self, stack):
        self.stack = stack
        self.containers = []
        self.volumes = []

    def cleanup(self):
        for c in self.containers:
            self.stack.docker("rm", "-f", "-v", c, check=False)
        for v in self.volumes:
            self.stack.docker("volume", "rm", "-f", v, check=False)


@pytest.fixture
def made(stack):
    m = Made(stack)
    yield m
    m.cleanup()


def create(api, made, start=False, expect=201, key=None, **body):
    """POST /containers with a simple body (name made unique unless given); returns the JSON."""
    body.setdefault("image", IMAGE)
    body.setdefault("name", uniq())
    body.setdefault("cmd", ["sleep", "300"])    # the test image has no CMD
    made.containers.append(body["name"])
    kw = {"key": key} if key else {}
    r = api.post("/containers", json=body, params={"start": "true"} if start else None, **kw)
    assert r.status_code == expect, r.text
    return r.json()


def names(stack):
    """Names of every container the engine has (running or not)."""
    return set(stack.docker("ps", "-a", "--format", "{{.Names}}").split())


def wait_for(fn, timeout=15, what="condition"):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def log_texts(api, cid, **params):
    r = api.get(f"/containers/{cid}/logs", params=params)
    assert r.status_code == 200, r.text
    return [l["text"] for l in r.json()["lines"]]
