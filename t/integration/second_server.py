"""A second httpd beside the test server: the same module, keys, database and PortOne fake, its own
port, configuration, pid file and logs in <stack root>/httpd2. For the tests of several servers
sharing one database (reconciler lease, idempotency keys, outbox claims)."""
import contextlib
import os
import re
import shutil

import pytest
import requests

from harness import Stack, free_port

BAD_LOG = re.compile(r"\[[a-z_]*:?(error|crit|alert|emerg)\]")


class SecondServer(Stack):
    """The test stack's state with httpd's folder moved to httpd2 (the state is never saved)."""

    def path(self, *parts):
        if parts and parts[0] == "httpd":
            return os.path.join(self.root, "httpd2", *parts[1:])
        return os.path.join(self.root, *parts)

    def save(self):
        pass

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}/api/v1"

    def post(self, path, body, headers=None, key=None):
        """POST JSON below /api/v1 with the key (default: the admin key) and headers."""
        h = {"Authorization": f"Bearer {key or self.keys['admin']}"}
        h.update(headers or {})
        return requests.post(self.base_url + path, json=body, headers=h, timeout=60)

    def errors(self, allow=None):
        """The error-log lines of level error or worse (not matching the regex allow)."""
        try:
            with open(self.path("httpd", "error.log"), errors="replace") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        return [l for l in lines if BAD_LOG.search(l) and not (allow and re.search(allow, l))]


@contextlib.contextmanager
def second_server(stack, extra_conf="", allow_log=None):
    """Runs a second httpd (with extra_conf as its extra server directives) for the block; after
    it, the server is stopped and its error log must hold no unexpected error line."""
    if os.environ.get("DP_VALGRIND") == "1":
        pytest.skip("starts a second httpd: not under valgrind (./dev memcheck)")
    two = SecondServer.attach(stack.root)
    two.port = free_port()
    two.extra_conf = extra_conf
    os.makedirs(two.path("httpd"), exist_ok=True)
    shutil.copyfile(stack.s.path("httpd", "keys"), two.path("httpd", "keys"))
    os.chmod(two.path("httpd", "keys"), 0o644)
    with contextlib.suppress(FileNotFoundError):
        os.remove(two.path("httpd", "error.log"))   # the errors of this run only
    two.start_httpd()
    try:
        yield two
    finally:
        two.stop_httpd()
    errors = two.errors(allow_log)
    assert not errors, errors[-20:]
