"""Logs through Apache: JSON lines (stdout/stderr, timestamps, tail), text/plain, follow
streams (NDJSON, SSE with heartbeats, chunked text) that carry lines printed after the request
began, end when the container stops, end upstream when the client goes away, and the
per-process stream cap (503, then recovery)."""
import json
import time

import requests

from conftest import assert_problem
from containers_util import create, log_texts, made, wait_for  # noqa: F401

MAX_STREAMS = 8    # DockpayMaxStreams in the test httpd.conf


def follow(api, stack, cid, accept=None, **params):
    h = {"Authorization": f"Bearer {stack.keys['admin']}"}
    if accept:
        h["Accept"] = accept
    return requests.get(f"{stack.base_url}/containers/{cid}/logs", params={"follow": "true", **params},
                        headers=h, stream=True, timeout=30)


class Reader:
    """Reads a streamed body piece by piece through one iterator."""

    def __init__(self, resp):
        self.it = resp.iter_content(chunk_size=None)
        self.text = ""

    def until(self, needle, timeout=20):
        """Reads until needle appears in what was read since the last call; returns that text."""
        start = len(self.text)
        end = time.time() + timeout
        while needle not in self.text[start:] and time.time() < end:
            try:
                self.text += next(self.it).decode("utf-8", "replace")
            except StopIteration:
                break
        return self.text[start:]


def read_until(resp, needle, timeout=20):
    return Reader(resp).until(needle, timeout)


def test_json_lines_streams_timestamps_tail(api, made):
    c = create(api, made, start=True, cmd=["sh", "-c", "echo out1; echo err1 >&2; echo out2; sleep 300"])
    wait_for(lambda: len(log_texts(api, c["id"])) == 3, what="three lines")
    r = api.get(f"/containers/{c['id']}/logs")
    assert r.headers["Content-Type"].startswith("application/json")
    lines = r.json()["lines"]
    assert {(l["stream"], l["text"]) for l in lines} == {("stdout", "out1"), ("stderr", "err1"), ("stdout", "out2")}
    assert all("time" not in l for l in lines)
    lines = api.get(f"/containers/{c['id']}/logs", params={"timestamps": "true"}).json()["lines"]
    assert all(l["time"][:2] == "20" and "T" in l["time"] and l["text"] in ("out1", "err1", "out2") for l in lines)
    assert log_texts(api, c["id"], stderr="false") == ["out1", "out2"]
    assert log_texts(api, c["id"], stdout="false") == ["err1"]
    last = log_texts(api, c["id"], tail="1")
    assert len(last) == 1 and last[0] in ("out2", "err1")   # Docker orders the two pipes by arrival
    r = api.get(f"/containers/{c['id']}/logs", headers={"Accept": "text/plain"}, params={"stderr": "0"})
    assert r.headers["Content-Type"].startswith("text/plain") and r.text == "out1\nout2\n"
    assert_problem(api.get(f"/containers/{c['id']}/logs", params={"tail": "lots"}), 400, "bad_query")
    assert_problem(api.get(f"/containers/{c['id']}/logs", params={"stdout": "0", "stderr": "0"}), 400)
    assert_problem(api.get(f"/containers/{c['id']}/logs", params={"since": "a b"}), 400)


def test_follow_ndjson_gets_a_line_printed_later(api, stack, made):
    c = create(api, made, start=True, cmd=["sh", "-c", "echo early; sleep 2; echo late-line; sleep 300"])
    with follow(api, stack, c["id"]) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("application/x-ndjson")
        assert "Content-Length" not in r.headers
        t0 = time.time()
        got = read_until(r, "late-line")
        assert "late-line" in got
    objs = [json.loads(l) for l in got.splitlines() if l.strip()]
    assert {"stream": "stdout", "text": "late-line"} in objs
    assert time.time() - t0 < 15


def test_follow_sse_format_and_heartbeat(api, stack, made):
    c = create(api, made, start=True, cmd=["sh", "-c", "echo first; echo oops >&2; sleep 3; echo late-line; sleep 300"])
    with follow(api, stack, c["id"], accept="text/event-stream") as r:
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        reader = Reader(r)
        got = reader.until("data: late-line")
        more = reader.until(": keepalive", timeout=10)     # DockpayStreamHeartbeat 2 in the tests
    assert "event: stdout\ndata: first\n\n" in got
    assert "event: stderr\ndata: oops\n\n" in got
    assert "event: stdout\ndata: late-line\n\n" in got
    assert ": keepalive\n\n" in more


def test_follow_text_and_end_when_container_stops(api, stack, made):
    c = create(api, made, start=True, cmd=["sh", "-c", "echo a; sleep 2; echo b"])
    t0 = time.time()
    with follow(api, stack, c["id"], accept="text/plain") as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        body = r.content.decode()          # returns only when the stream ends
    assert body == "a\nb\n"
    assert time.time() - t0 < 15


def test_follow_tty_container(api, stack, made):
    name = create(api, made, expect=201)["name"]         # a plain one to compare (no TTY)
    assert name
    r = api.post("/containers", params={"start": "true"}, json={"name": name + "-tty", "docker": {
        "Image": "local/busybox:test", "Tty": True, "Cmd": ["sh", "-c", "echo raw-tty; sleep 300"]}})
    made.containers.append(name + "-tty")
    assert r.status_code == 201, r.text
    with follow(api, stack, name + "-tty") as s:
        got = read_until(s, "raw-tty")
    assert {"stream": "stdout", "text": "raw-tty"} in [json.loads(l) for l in got.splitlines() if l.strip()]


def test_follow_on_unknown_container_is_404(api, stack):
    r = follow(api, stack, "no-such-container-x")
    assert_problem(r, 404, "container_not_found")


def test_stream_cap_and_recovery_after_clients_leave(api, stack, made):
    c = create(api, made, start=True, cmd=["sh", "-c", "echo hi; sleep 300"])

    def open_all():
        streams = []
        for _ in range(MAX_STREAMS):
            s = follow(api, stack, c["id"], accept="text/event-stream")
            assert s.status_code == 200
            streams.append(s)
        return streams

    streams = open_all()
    try:
        r = follow(api, stack, c["id"])
        p = assert_problem(r, 503, "too_many_streams")
        assert r.headers.get("Retry-After") and p
        assert api.get("/health").status_code in (200, 503)        # httpd keeps serving
        assert api.get(f"/containers/{c['id']}/logs").status_code == 200
    finally:
        for s in streams:
            s.close()

    # the upstream transfers end once the clients are gone: all the slots come back
    def all_free():
        probe = []
        try:
            for _ in range(MAX_STREAMS):
                s = follow(api, stack, c["id"])
                probe.append(s)
                if s.status_code != 200:
                    time.sleep(2)      # let the ones just opened be noticed as gone
                    return False
            return True
        finally:
            for s in probe:
                s.close()
    wait_for(all_free, timeout=20, what="the stream slots to be released")
    wait_for(all_free, timeout=20, what="the stream slots to be released again")
