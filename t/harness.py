#!/usr/bin/env python3
"""Starts and stops the real parts mod_dockpay runs against: a private MariaDB, a private
dockerd in its own network namespace (with an offline busybox image and a local registry),
the fake PortOne over TLS, and a private httpd with the freshly built module.

Used three ways:
  python3 t/harness.py run   [--root DIR]          start everything for `./dev run` (kept running)
  python3 t/harness.py stop  [--root DIR]          stop what `run` started
  python3 t/harness.py test  --build DIR [-- ARGS] start in temp folders, run Check + pytest, stop
  python3 t/harness.py lint-tests                   fail on assertions that cannot fail (./dev test runs it first)
and imported by t/integration/conftest.py (Stack.attach) so tests can stop and start services.
Standard library only.

It touches nothing of the host it did not start: the engine is always a private dockerd in its
own network namespace, every pid it signals is checked to be one it started (its command line
names this stack's folder), and httpd's children run as the dedicated system user DEV_USER
(created once with useradd --system when missing; no existing user or group is changed). The
`run` state lives under /var/lib/dockpay-dev/ (DP_DEV_STATE), not in the checkout, so a clone in
a 0700 home works. Expected failures end with one `[dev] error: ...` line naming the log to read.
"""
import argparse
import base64
import grp
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import pwd

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APACHE_MODULES = "/usr/lib/apache2/modules"
PORTONE_WEBHOOK_IPS = "52.78.100.19 52.78.48.223 52.78.5.241"
# the user httpd's children run as in every stack of this harness; the private dockerd's socket
# belongs to its group (dockerd -G), so only this user (and root) can reach that engine
DEV_USER = "dockpay-dev"
DEV_STATE = os.environ.get("DP_DEV_STATE") or "/var/lib/dockpay-dev"


class DevError(Exception):
    """An expected failure: the message is one line saying what failed and what to do."""


def default_run_root(top=TOP):
    """The state folder of `./dev run` for the checkout at top: outside the checkout (whose folder
    may be 0700), one per checkout."""
    digest = hashlib.sha256(os.path.realpath(top).encode()).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(os.path.realpath(top)))[:40] or "top"
    return os.path.join(DEV_STATE, f"{name}-{digest}")


def ensure_dev_user():
    """Creates the system user and group DEV_USER when missing (never changes an existing one)."""
    def present():
        try:
            pwd.getpwnam(DEV_USER)
            grp.getgrnam(DEV_USER)
            return True
        except KeyError:
            return False
    if present():
        return
    r = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--comment", "mod_dockpay ./dev private httpd children",
                        DEV_USER], capture_output=True, text=True)
    if not present():   # a parallel ./dev may have created it meanwhile
        raise DevError(f"cannot create the system user {DEV_USER} (useradd: {r.stderr.strip() or r.returncode}); "
                       f"create it with: useradd --system --user-group --shell /usr/sbin/nologin {DEV_USER}")
    log(f"created the system user {DEV_USER} (runs the private httpd's children; its own group only)")


def check_reachable(path, who):
    """DevError unless every folder above path can be traversed by other users (MariaDB runs as
    mysql, httpd's children as DEV_USER)."""
    d = os.path.dirname(os.path.abspath(path))
    while True:
        if os.path.isdir(d) and not os.stat(d).st_mode & 0o001:
            raise DevError(f"{d} cannot be entered by {who} (mode {oct(os.stat(d).st_mode & 0o777)}): "
                           f"set DP_DEV_STATE to a folder others can traverse")
        if d == "/":
            return
        d = os.path.dirname(d)


def short_error(e):
    """One line for an exception of a start step."""
    if isinstance(e, subprocess.CalledProcessError):
        cmd = e.cmd[0] if isinstance(e.cmd, (list, tuple)) else str(e.cmd).split()[0]
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        err = " ".join(err.strip().splitlines()[-1:])[:200]
        return f"{os.path.basename(cmd)} exited {e.returncode}" + (f": {err}" if err else "")
    msg = " ".join(str(e).strip().splitlines()[:1])[:200]
    return f"{type(e).__name__}: {msg}" if not isinstance(e, RuntimeError) else msg


def write_private(path, text):
    """Writes text to path readable by root only (it holds secrets)."""
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o600)
    os.rename(path + ".tmp", path)


def log(msg):
    print(f"[harness] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if pred():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def pid_alive(pid):
    """True while pid runs; a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except (OSError, IndexError, TypeError):
        pass
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, TypeError):
        return False
    except PermissionError:
        return True


def kill_wait(pid, timeout=30, sig=signal.SIGTERM):
    if not pid or not pid_alive(pid):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    end = time.time() + timeout
    while time.time() < end:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:
            if not pid_alive(pid):
                return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


ROUTE_SCOPES = {
    "DR": "docker:read", "DP_SCOPE_DOCKER_READ": "docker:read",
    "DW": "docker:write", "DP_SCOPE_DOCKER_WRITE": "docker:write",
    "PR": "payments:read", "DP_SCOPE_PAYMENTS_READ": "payments:read",
    "PW": "payments:write", "DP_SCOPE_PAYMENTS_WRITE": "payments:write",
    "AD": "admin", "DP_SCOPE_ADMIN": "admin",
    "DP_SCOPE_NONE": "none",
}


def read_routes(path=os.path.join(TOP, "lib", "base", "dp_routes.c")):
    """[(METHOD, pattern, scope, handler id)] of the route table, in order; every row must parse.
    (tools/gen-openapi.py reads the table with its own parser, so the tests check it independently.)"""
    with open(path, encoding="utf-8") as f:
        src = f.read()
    # drop comments, not string literals (which may hold "//")
    src = re.sub(r'("(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\')|/\*.*?\*/|//[^\n]*',
                 lambda m: m.group(1) or " ", src, flags=re.S)
    table = re.search(r"dp_routes\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    assert table, "cannot find the dp_routes[] table in lib/base/dp_routes.c"
    rows = re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*([A-Za-z_]+)\s*,\s*"([^"]+)"\s*\}', table.group(1))
    assert len(rows) == len(re.findall(r"^\s*\{", table.group(1), re.M)), \
        "a route row in lib/base/dp_routes.c did not parse"
    for m, pat, scope, hid in rows:
        assert scope in ROUTE_SCOPES, f"unknown scope macro {scope} for {m} {pat}"
    return [(m, pat, ROUTE_SCOPES[scope], hid) for m, pat, scope, hid in rows]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def docker_api(sock, method, path, body=None, headers=None, timeout=60):
    """Raw Engine API call on the socket; returns (status, parsed JSON or bytes)."""
    c = UnixHTTPConnection(sock, timeout=timeout)
    hdrs = dict(headers or {})
    data = body
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    c.request(method, path, body=data, headers=hdrs)
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        return r.status, json.loads(raw) if raw else None
    except ValueError:
        return r.status, raw


class Stack:
    """The running services of one root folder; its state is saved in root/state.json."""

    # what httpd_conf loads: None = the build's module and the source tree's openapi.json
    # (t/integration/test_install.py points them at a staged `make install`)
    module_so = None
    openapi_file = None
    db_name = "dockpay"

    def __init__(self, root, build, sanitize=False, port=None, own_docker=True, fake=True,
                 portone=None):
        self.root = os.path.abspath(root)
        self.build = os.path.abspath(build)
        self.sanitize = sanitize
        self.port = port or free_port()
        self.own_docker = own_docker
        self.fake_enabled = fake
        self.portone = portone or {}
        self.ns = f"dockpay-{os.getpid()}-{secrets.token_hex(2)}"
        self.db_password = secrets.token_hex(12)
        self.keys = {}
        self.fake_port = None
        self.extra_conf = ""
        self.notify = {}   # outbox: {"url", "secret"} for DockpayNotifyURL/DockpayNotifySecret (./dev run)
        # seconds between reconcile passes: an hour under test (a pass would add PortOne lookups
        # to tests that count them; t/integration/test_reconcile.py restarts with seconds),
        # DOCKPAY_RECONCILE_INTERVAL (default 60) for ./dev run
        self.reconcile_interval = 3600

    # ------------------------------------------------------------------ state
    def save(self):
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        write_private(os.path.join(self.root, "state.json"), json.dumps(state, indent=1))

    @classmethod
    def attach(cls, root):
        with open(os.path.join(root, "state.json")) as f:
            state = json.load(f)
        st = cls.__new__(cls)
        st.__dict__.update(state)
        return st

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def own_pid(self, pidfile):
        """The pid in pidfile when that process runs and is one of this stack's (its command line
        names the stack's folder); None otherwise (a stale file may name a host process by now)."""
        pid = read_pid(pidfile)
        if not pid or not pid_alive(pid):
            return None
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
        return pid if self.root + "/" in cmd else None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def docker_sock(self):
        return self.path("docker", "docker.sock") if self.own_docker else "/var/run/docker.sock"

    @property
    def db_sock(self):
        return self.path("mysql", "sock")

    @property
    def fake_url(self):
        return f"https://127.0.0.1:{self.fake_port}" if self.fake_port else None

    # ------------------------------------------------------------------ MariaDB
    def start_db(self):
        d = self.path("mysql")
        fresh = not os.path.isdir(os.path.join(d, "data", "mysql"))
        os.makedirs(d, exist_ok=True)
        if fresh:
            with open(os.path.join(d, "install.log"), "ab") as logf:
                subprocess.run(["mariadb-install-db", "--user=mysql", f"--datadir={d}/data",
                                "--auth-root-authentication-method=socket", "--skip-test-db"],
                               check=True, stdout=logf, stderr=logf)
        subprocess.run(["chown", "-R", "mysql:mysql", d], check=True)
        subprocess.Popen(["mariadbd", "--no-defaults", "--user=mysql", f"--datadir={d}/data",
                          f"--socket={d}/sock", "--skip-networking", f"--pid-file={d}/pid",
                          f"--log-error={d}/error.log", "--innodb-buffer-pool-size=64M",
                          "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: subprocess.run(["mariadb-admin", "-S", self.db_sock, "-u", "root", "ping"],
                                        capture_output=True).returncode == 0, 60, "MariaDB")
        if fresh:
            self.mysql_root(
                "CREATE DATABASE IF NOT EXISTS dockpay CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
                f"CREATE USER IF NOT EXISTS 'dockpay'@'localhost' IDENTIFIED BY '{self.db_password}';"
                "GRANT SELECT, INSERT, UPDATE, DELETE ON dockpay.* TO 'dockpay'@'localhost';")
        self.migrate()

    def mysql_root(self, sql, db=None):
        cmd = ["mariadb", "-S", self.db_sock, "-u", "root", "--batch", "--skip-column-names"]
        if db:
            cmd.append(db)
        r = subprocess.run(cmd, input=sql, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"SQL failed: {r.stderr.strip()}")
        return r.stdout

    def migrate(self):
        """Applies the schema with the same tool operators use (tools/dockpay-migrate)."""
        subprocess.run([os.path.join(TOP, "tools", "dockpay-migrate"), "--dir", os.path.join(TOP, "db"),
                        "--", "-S", self.db_sock, "-u", "root"], check=True, capture_output=True)

    def stop_db(self):
        kill_wait(self.own_pid(self.path("mysql", "pid")), 60)

    # ------------------------------------------------------------------ Docker
    def start_docker(self):
        if not self.own_docker:
            return
        d = self.path("docker")
        os.makedirs(d, exist_ok=True)
        if not os.path.exists(f"/var/run/netns/{self.ns}"):
            subprocess.run(["ip", "netns", "add", self.ns], check=True)
            subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True)
        self._reap_docker_leftovers(d)
        with open(os.path.join(d, "dockerd.log"), "ab") as logf:
            subprocess.Popen(["nsenter", f"--net=/var/run/netns/{self.ns}", "dockerd",
                              "--data-root", f"{d}/data", "--exec-root", f"{d}/exec",
                              "--pidfile", f"{d}/pid", "-H", f"unix://{self.docker_sock}",
                              "-G", DEV_USER,  # httpd's children run as DEV_USER
                              "--iptables=false", "--ip6tables=false", "--bridge=none",
                              "--storage-driver=vfs"],
                             stdout=logf, stderr=logf, stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: docker_api(self.docker_sock, "GET", "/_ping", timeout=2)[0] == 200, 90, "dockerd")

    def _reap_docker_leftovers(self, d):
        """After a crash (SIGKILL) of dockerd: containerd shims of the old engine still run, and
        containerd's pid file names a process that is gone or a zombie; dockerd would then wait
        for that containerd forever. Kill what names our folders and drop the stale files."""
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if f"{d}/exec" in cmd or f"{d}/data" in cmd:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for stale in [self.docker_sock, f"{d}/pid", f"{d}/exec/containerd/containerd.pid",
                      f"{d}/exec/containerd/containerd.sock", f"{d}/exec/containerd/containerd.sock.ttrpc"]:
            if os.path.exists(stale):
                os.unlink(stale)

    def stop_docker(self):
        if self.own_docker:
            kill_wait(self.own_pid(self.path("docker", "pid")), 60)

    def docker(self, *args, check=True, input=None):
        env = dict(os.environ, DOCKER_HOST=f"unix://{self.docker_sock}")
        r = subprocess.run(["docker", *args], capture_output=True, text=True, env=env, input=input)
        if check and r.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def load_busybox(self):
        st, _ = docker_api(self.docker_sock, "GET", "/images/local/busybox:test/json")
        if st == 200:
            return
        root = self.path("bbroot")
        os.makedirs(os.path.join(root, "bin"), exist_ok=True)
        busybox = shutil.which("busybox") or "/bin/busybox"
        shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
        for a in ["sh", "ls", "cat", "echo", "sleep", "true", "false", "env", "printf", "wc", "id", "head", "seq", "yes"]:
            p = os.path.join(root, "bin", a)
            if not os.path.lexists(p):
                os.symlink("busybox", p)
        os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
        tar = self.path("bb.tar")
        subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
        with open(tar, "rb") as f:
            st, body = docker_api(self.docker_sock, "POST",
                                  "/images/create?fromSrc=-&repo=local/busybox&tag=test",
                                  body=f.read(), headers={"Content-Type": "application/x-tar"}, timeout=120)
        if st != 200:
            raise RuntimeError(f"busybox import failed: {st} {body!r}")

    def start_registry(self):
        if not self.own_docker:
            return
        d = self.path("registry")
        os.makedirs(os.path.join(d, "data"), exist_ok=True)
        with open(os.path.join(d, "config.yml"), "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {d}/data\n  delete:\n    enabled: true\n"
                    "http:\n  addr: 127.0.0.1:5000\n")
        with open(os.path.join(d, "log"), "ab") as logf:
            p = subprocess.Popen(["nsenter", f"--net=/var/run/netns/{self.ns}", "docker-registry", "serve",
                                  os.path.join(d, "config.yml")],
                                 stdout=logf, stderr=logf, stdin=subprocess.DEVNULL, start_new_session=True)
        with open(os.path.join(d, "pid"), "w") as f:
            f.write(str(p.pid))
        self.registry_dir = os.path.join(d, "data")

    def stop_registry(self):
        kill_wait(self.own_pid(self.path("registry", "pid")), 10)

    # ------------------------------------------------------------------ fake PortOne
    def make_tls(self):
        d = self.path("tls")
        if os.path.exists(os.path.join(d, "cert.pem")):
            return
        os.makedirs(d, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "cert.pem")],
                       check=True, capture_output=True)
        os.chmod(os.path.join(d, "cert.pem"), 0o644)

    def start_fake(self):
        if not self.fake_enabled:
            return
        self.make_tls()
        d = self.path("fake")
        os.makedirs(d, exist_ok=True)
        portfile = os.path.join(d, "port")
        if os.path.exists(portfile):
            os.unlink(portfile)
        port = self.fake_port or 0
        p = subprocess.Popen(["/usr/bin/python3",
                              os.path.join(TOP, "t", "fake_portone.py"), "--host", "127.0.0.1",
                              "--port", str(port), "--port-file", portfile,
                              "--imp-key", self.portone["key"], "--imp-secret", self.portone["secret"],
                              "--tls-cert", self.path("tls", "cert.pem"), "--tls-key", self.path("tls", "key.pem"),
                              "--webhook-url", f"http://127.0.0.1:{self.port}/api/v1/webhooks/portone",
                              "--log", os.path.join(d, "log")],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "stderr"), "ab"),
                             stdin=subprocess.DEVNULL, start_new_session=True)
        with open(os.path.join(d, "pid"), "w") as f:
            f.write(str(p.pid))
        wait_for(lambda: os.path.exists(portfile), 20, "fake PortOne")
        with open(portfile) as f:
            self.fake_port = int(f.read().strip())

    def stop_fake(self):
        kill_wait(self.own_pid(self.path("fake", "pid")), 10)

    def fake(self, method, path, body=None):
        import ssl
        ctx = ssl.create_default_context(cafile=self.path("tls", "cert.pem"))
        c = http.client.HTTPSConnection("127.0.0.1", self.fake_port, context=ctx, timeout=30)
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        raw = r.read()
        c.close()
        return json.loads(raw) if raw else None

    # ------------------------------------------------------------------ httpd
    def mint_keys(self):
        keygen = os.path.join(self.build, "dockpay-keygen")
        lines = []
        for name, scopes, *quotas in [("admin", "admin"), ("docker_read", "docker:read"),
                                      ("docker_write", "docker:read,docker:write"),
                                      ("docker_write2", "docker:read,docker:write"),  # a second owner
                                      # a key with small quotas (test_attacks_owner.py)
                                      ("docker_quota", "docker:read,docker:write",
                                       "containers=2", "memory=96m", "volumes=1"),
                                      ("payments_read", "payments:read"),
                                      ("payments_write", "payments:read,payments:write"),
                                      # billing (branch billing): binds containers to customers
                                      ("billing", "docker:read,docker:write,payments:read,payments:write")]:
            out = subprocess.run([keygen, "-q", name, scopes, *quotas], check=True, capture_output=True,
                                 text=True).stdout.split("\n")
            self.keys[name] = out[0]
            lines.append(out[1])
        write_private(self.path("httpd", "keys"),
                      "# mod_dockpay API keys (name, SHA-256 of the key, scopes)\n" + "\n".join(lines) + "\n")

    def httpd_conf(self):
        h = self.path("httpd")
        so = self.module_so or os.path.join(self.build, ".libs", "mod_dockpay.so")
        openapi = self.openapi_file or os.path.join(h, "openapi.json")  # copied there: readable by the children
        p = self.portone
        portone = ""
        if p.get("url"):
            portone = (f'DockpayPortOneURL "{p["url"]}"\n'
                       f'DockpayPortOneKey "{p["key"]}"\nDockpayPortOneSecret "{p["secret"]}"\n')
            if p.get("ca"):
                portone += f'DockpayPortOneCAFile "{p["ca"]}"\n'
            if p.get("channel_key"):
                portone += f'DockpayPortOneChannelKey "{p["channel_key"]}"\n'
            if p.get("pg"):
                portone += f'DockpayPortOnePG "{p["pg"]}"\n'
        notify = getattr(self, "notify", None) or {}   # outbox (state files of older runs lack it)
        if notify.get("url"):
            portone += (f'DockpayNotifyURL "{notify["url"]}"\n'
                        f'DockpayNotifySecret "{notify["secret"]}"\n')
        return f"""# generated by t/harness.py
ServerRoot "{h}"
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
PidFile "{h}/httpd.pid"
ErrorLog "{h}/error.log"
LogLevel warn dockpay:info
LoadModule mpm_event_module {APACHE_MODULES}/mod_mpm_event.so
LoadModule authz_core_module {APACHE_MODULES}/mod_authz_core.so
LoadModule dbd_module {APACHE_MODULES}/mod_dbd.so
LoadModule rewrite_module {APACHE_MODULES}/mod_rewrite.so
LoadModule dockpay_module "{so}"
User {DEV_USER}
Group {DEV_USER}
StartServers 1
ServerLimit 1
ThreadsPerChild 64
MaxRequestWorkers 64
MinSpareThreads 1
MaxSpareThreads 64
MaxKeepAliveRequests 0
Timeout 30
DocumentRoot "{h}/htdocs"
AllowEncodedSlashes NoDecode
LogFormat "%h %l %u %t \\"%r\\" %>s %b %D %{{X-Request-Id}}o" dockpay
CustomLog "{h}/access.log" dockpay
DBDriver mysql
DBDParams "host=localhost,sock={self.db_sock},user=dockpay,pass={self.db_password},dbname={self.db_name},reconnect=0"
DBDMin 0
DBDKeep 4
DBDMax 16
DBDExptime 60
<Location /api/v1>
    SetHandler dockpay
</Location>
DockpayKeyFile "{h}/keys"
DockpayOpenAPIFile "{openapi}"
DockpayDockerEndpoint unix://{self.docker_sock}
DockpayComposeRoot "{h}/compose"
DockpayMaxStreams 8
DockpayStreamHeartbeat 2
DockpayPortOneTimeout 3
DockpayPortOneConnectTimeout 2
DockpayWebhookAllow 127.0.0.1 ::1
DockpayRegistryAllow docker.io localhost:5000
DockpayReconcileInterval {getattr(self, "reconcile_interval", 3600)}
{portone}{self.extra_conf}
"""

    def httpd_env(self):
        env = dict(os.environ)
        if self.sanitize:
            rt = subprocess.run(["clang", "-print-file-name=libclang_rt.asan-x86_64.so"],
                                capture_output=True, text=True).stdout.strip()
            env["LD_PRELOAD"] = rt
            env["ASAN_OPTIONS"] = (f"detect_leaks=0:halt_on_error=1:abort_on_error=0:"
                                   f"log_path={self.path('asan')}/asan")
            env["UBSAN_OPTIONS"] = f"halt_on_error=1:print_stacktrace=1:log_path={self.path('asan')}/ubsan"
        return env

    def start_httpd(self, extra_conf=None):
        h = self.path("httpd")
        for sub in ["htdocs", "compose"]:
            os.makedirs(os.path.join(h, sub), exist_ok=True)
        os.makedirs(self.path("asan"), exist_ok=True)
        os.chmod(self.path("asan"), 0o1777)  # the children write their reports there
        subprocess.run(["chown", f"{DEV_USER}:{DEV_USER}", os.path.join(h, "compose")], check=False)
        # the children read the document at request time: a copy where they can reach it
        shutil.copyfile(os.path.join(TOP, "openapi.json"), os.path.join(h, "openapi.json"))
        os.chmod(os.path.join(h, "openapi.json"), 0o644)
        if extra_conf is not None:
            self.extra_conf = extra_conf
        write_private(os.path.join(h, "httpd.conf"), self.httpd_conf())  # holds the secrets
        if os.environ.get("DP_VALGRIND") == "1":
            self._start_httpd_valgrind(h)
            self.save()
            return
        r = subprocess.run(["apache2", "-f", os.path.join(h, "httpd.conf"), "-k", "start"],
                           env=self.httpd_env(), capture_output=True, text=True)
        if r.returncode != 0:
            with open(os.path.join(h, "start.log"), "a") as f:
                f.write(r.stdout + r.stderr)
            out = " ".join((r.stdout + r.stderr).strip().splitlines()[-1:])[:300]
            raise RuntimeError(f"apache2 -k start exited {r.returncode}: {out}")
        wait_for(lambda: self._http_ok(), 30, "httpd")
        self.save()

    # --- hardening: DP_VALGRIND=1 (t/memcheck.sh) runs one httpd process (-X) under memcheck;
    # reports go to $DP_VALGRIND_DIR/vg.<pid>.log; stopped with SIGTERM, waiting for the report.
    def _start_httpd_valgrind(self, h):
        vdir = os.environ.get("DP_VALGRIND_DIR") or self.path("valgrind")
        os.makedirs(vdir, exist_ok=True)
        os.chmod(vdir, 0o1777)  # httpd forks children (as DEV_USER) that write their own reports
        cmd = ["valgrind", "--tool=memcheck", "--leak-check=full", "--errors-for-leak-kinds=definite",
               "--show-leak-kinds=definite", "--num-callers=30", "--track-origins=no",
               f"--suppressions={os.path.join(TOP, 't', 'valgrind.supp')}", f"--log-file={vdir}/vg.%p.log",
               "apache2", "-X", "-f", os.path.join(h, "httpd.conf")]
        p = subprocess.Popen(cmd, env=self.httpd_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(h, "valgrind.stderr"), "ab"), start_new_session=True)
        with open(os.path.join(h, "valgrind.pid"), "w") as f:
            f.write(str(p.pid))
        wait_for(lambda: self._http_ok(), 180, "httpd under valgrind")

    def _stop_httpd_valgrind(self):
        pid = self.own_pid(self.path("httpd", "valgrind.pid"))
        if pid:
            kill_wait(pid, 300)   # valgrind writes its leak report on the way out
    # --- end DP_VALGRIND

    def _http_ok(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        c.request("GET", "/api/v1/health")
        c.getresponse().read()
        c.close()
        return True

    def stop_httpd(self):
        if os.environ.get("DP_VALGRIND") == "1":
            return self._stop_httpd_valgrind()
        pid = self.own_pid(self.path("httpd", "httpd.pid"))
        if pid:
            subprocess.run(["apache2", "-f", self.path("httpd", "httpd.conf"), "-k", "stop"],
                           env=self.httpd_env(), capture_output=True)
            end = time.time() + 30
            while pid_alive(pid) and time.time() < end:
                time.sleep(0.1)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)

    def restart_httpd(self, extra_conf=""):
        self.stop_httpd()
        self.start_httpd(extra_conf)

    # ------------------------------------------------------------------ all
    def _step(self, what, logfile, fn, *args):
        """Runs one start step; an exception becomes a DevError naming the step and its log."""
        try:
            return fn(*args)
        except DevError:
            raise
        except Exception as e:
            raise DevError(f"{what} failed ({short_error(e)}): see {logfile}") from e

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)
        check_reachable(self.path("x"), f"mysql and {DEV_USER}")
        ensure_dev_user()
        os.makedirs(self.path("httpd"), exist_ok=True)
        if self.fake_enabled and not self.portone.get("url"):
            self.portone = {"key": "test_key_" + secrets.token_hex(4),
                            "secret": "test_secret_" + secrets.token_hex(16)}
        self.save()
        log(f"root {self.root}")
        self._step("starting MariaDB", self.path("mysql", "error.log") + " and install.log", self.start_db)
        log("MariaDB up")
        dlog = self.path("docker", "dockerd.log")
        self._step("starting the private dockerd", dlog, self.start_docker)
        self._step("importing the busybox test image", dlog, self.load_busybox)
        self._step("starting the local registry", self.path("registry", "log"), self.start_registry)
        log(f"private dockerd up (own network namespace {self.ns}, socket {self.docker_sock})")
        self._step("starting the fake PortOne", self.path("fake", "stderr"), self.start_fake)
        if self.fake_enabled:
            self.portone["url"] = self.fake_url
            self.portone["ca"] = self.path("tls", "cert.pem")
            log(f"fake PortOne on {self.fake_url}")
        if not (self.keys and os.path.exists(self.path("httpd", "keys"))):
            # first run only: later runs keep the keys already handed out
            self._step("minting API keys", os.path.join(self.build, "dockpay-keygen"), self.mint_keys)
        self.save()
        self._step("starting httpd", self.path("httpd", "error.log") + " and start.log", self.start_httpd)
        log(f"httpd on {self.base_url}")

    def stop(self):
        """Stops what this stack started (each step even when an earlier one failed)."""
        errors = []

        def rm_containers():
            if self.own_docker and self.own_pid(self.path("docker", "pid")) and os.path.exists(self.docker_sock):
                ids = self.docker("ps", "-aq", check=False).split()
                if ids:
                    self.docker("rm", "-f", *ids, check=False)

        def rm_netns():
            if self.own_docker and os.path.exists(f"/var/run/netns/{self.ns}"):
                subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        for what, fn in [("httpd", self.stop_httpd), ("fake PortOne", self.stop_fake),
                         ("containers", rm_containers), ("registry", self.stop_registry),
                         ("dockerd", self.stop_docker), ("MariaDB", self.stop_db), ("netns", rm_netns)]:
            try:
                fn()
            except Exception as e:
                errors.append(f"{what}: {short_error(e)}")
        if errors:
            raise DevError("stopping failed for " + "; ".join(errors))

    def teardown(self):
        """Stops everything, then removes the root folder unless DP_KEEP=1 asks to keep it."""
        try:
            self.stop()
        finally:
            if os.environ.get("DP_KEEP") != "1":
                self.cleanup()
            else:
                log(f"kept {self.root}")

    def cleanup(self):
        # unmount anything dockerd left under the root, then remove it
        with open("/proc/mounts") as f:
            mounts = [l.split()[1] for l in f if l.split()[1].startswith(self.root)]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------------- hardening: secret scan
def _mask(s):
    return s[:2] + "*" * max(3, len(s) - 4) + s[-2:] if len(s) > 6 else "*" * len(s)


def _test_card_values():
    """CARD, EXPIRY and BIRTH of t/integration/test_subscriptions.py (when the file exists)."""
    vals = {}
    try:
        src = open(os.path.join(TOP, "t", "integration", "test_subscriptions.py")).read()
    except OSError:
        return vals
    for name in ("CARD", "EXPIRY", "BIRTH"):
        m = re.search(rf'^{name}\s*=\s*"([^"]+)"', src, re.M)
        if m:
            vals[name.lower()] = m.group(1)
    return vals


def _luhn_ok(number):
    """True when the digits of number pass the Luhn check (as every card number does)."""
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _numeric_literal(line, m):
    """True when match m is a bare number in JSON or SQL (a counter such as Docker's CPU usage);
    a card number is text, so it is quoted or stands in prose."""
    before = line[:m.start()].rstrip()
    after = line[m.end():].lstrip()
    return (before[-1:] in (":", ",", "(", "[")) and (after[:1] in (",", "}", ")", "]", ""))


def secret_patterns(st):
    """The secrets of stack st: (exact values by name, bounded regexes by name)."""
    exact = {"PortOne key": st.portone.get("key"), "PortOne secret": st.portone.get("secret"),
             "DB password": st.db_password,
             "notify secret": (getattr(st, "notify", None) or {}).get("secret")}   # outbox
    for name, k in st.keys.items():
        exact[f"API key {name}"] = k
    card = _test_card_values()
    if card.get("card"):
        exact["test card number"] = card["card"]
        exact["test card number (digits)"] = card["card"].replace("-", "")
    exact = {k: v for k, v in exact.items() if v}
    bounded = {}   # values that must stand alone (not inside a longer number)
    if card.get("expiry"):
        bounded["test card expiry"] = re.compile(rf"(?<![0-9]){re.escape(card['expiry'])}(?![0-9])")
    if card.get("birth"):
        bounded["test birth date"] = re.compile(rf"(?<![0-9]){re.escape(card['birth'])}(?![0-9])")
    # a card number: 14-16 digits in a row, or in groups of 4 split by '-' or ' ' (masked ones
    # carry '*' and do not match), passing the Luhn check every issued card number passes
    # (account numbers, ids and limits mostly do not)
    bounded["card number (14-16 digits, unmasked)"] = re.compile(
        r"(?<![0-9A-Za-z*.])(?:[0-9]{14,16}|[0-9]{4}([ -])[0-9]{4}\1[0-9]{4}\1[0-9]{2,4})(?![0-9A-Za-z*])")
    bounded["PortOne access token (40 hex)"] = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{40}(?![0-9A-Za-z])")
    # outbox: any DockpayNotifySecret (the tests make their own)
    bounded["notify secret (whsec_)"] = re.compile(r"whsec_[A-Za-z0-9+/]{16,}")
    return exact, bounded


# numbers httpd writes itself on a log line: the error log's time (microseconds: any six digits)
# and pid/tid, the access log's request time in microseconds (%D). A card's birth date or expiry
# could equal them by chance; they never come from a request, so the scans leave them out.
SERVER_NUMBERS = re.compile(r"^\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d\.\d{6} \d{4}\]"
                            r"|\[pid \d+(?::tid \d+)?\]"
                            r"|(\" [1-5]\d\d [-0-9]{1,12} )\d+(?= )", re.M)


def without_server_numbers(text):
    """text (log lines) without the numbers httpd itself writes on each line."""
    return SERVER_NUMBERS.sub(lambda m: m.group(1) or "", text)


def scan_line(line, exact, bounded):
    """The secrets found in one line, as masked descriptions."""
    line = without_server_numbers(line)
    hits = []
    for what, v in exact.items():
        if v in line:
            hits.append(f"{what} {_mask(v)}")
    for what, rx in bounded.items():
        for m in rx.finditer(line):
            if what.startswith("card number") and (not _luhn_ok(m.group(0)) or _numeric_literal(line, m)):
                continue
            hits.append(f"{what} {_mask(m.group(0))}")
    return hits


def scan_secrets(st):
    """After the suite: searches httpd's error and access logs, a dump of the database and every
    response body the tests captured (<root>/responses.log, written by conftest.py) for the PortOne
    key and secret, anything shaped like a PortOne access token (the fake issues 40 hex digits and
    does not publish them), every API key, the DB password, and card data (unmasked card numbers;
    the test card's number, expiry and birth date). Returns the hits (file:line, masked)."""
    exact, bounded = secret_patterns(st)
    dump = st.path("db-dump.sql")
    r = subprocess.run(["mariadb-dump", "-S", st.db_sock, "-u", "root", "--skip-extended-insert",
                        "--skip-comments", "dockpay"], capture_output=True)
    with open(dump, "wb") as f:
        f.write(r.stdout)
    if r.returncode != 0:
        log(f"secret scan: mariadb-dump failed: {r.stderr.decode(errors='replace').strip()[:200]}")
    files = [st.path("httpd", "error.log"), st.path("httpd", "access.log"), dump, st.path("responses.log")]
    hits = []
    for path in files:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            skip = False
            for no, raw in enumerate(f, 1):
                line = raw.decode("utf-8", "replace")
                if path.endswith("responses.log") and line.startswith("=== "):
                    # the OpenAPI document is static text with example values
                    skip = "/openapi.json" in line
                    continue
                if skip:
                    continue
                hits.extend(f"{path}:{no}: {h}" for h in scan_line(line, exact, bounded))
    return hits
# ---------------------------------------------------------------------- end secret scan


# ---------------------------------------------------------------------- commands
def read_env(path):
    env = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    env[k.strip()] = v.strip().strip('"').strip("'")
    return env


def portone_from_env(env):
    """(use_fake, portone settings) from .env: filled PORTONE_API_KEY and PORTONE_API_SECRET mean
    the real PortOne unless DOCKPAY_FAKE_PORTONE=1; PORTONE_CHANNEL_KEY and PORTONE_PG go to
    DockpayPortOneChannelKey and DockpayPortOnePG."""
    for k in ("PORTONE_API_KEY", "PORTONE_API_SECRET", "PORTONE_API_URL", "PORTONE_CHANNEL_KEY", "PORTONE_PG"):
        if re.search(r'["\\\x00-\x1f\x7f]', env.get(k, "")):
            raise DevError(f"{k} in .env holds a quote, backslash or control character: fix the value")
    fake_flag = env.get("DOCKPAY_FAKE_PORTONE", "")
    if fake_flag not in ("", "0", "1"):
        raise DevError(f"DOCKPAY_FAKE_PORTONE in .env must be 1 (use the fake), 0 or unset, not {fake_flag!r}")
    key, secret = env.get("PORTONE_API_KEY", ""), env.get("PORTONE_API_SECRET", "")
    extra = {k: env[e] for k, e in (("channel_key", "PORTONE_CHANNEL_KEY"), ("pg", "PORTONE_PG")) if env.get(e)}
    if fake_flag == "1" or not (key or secret):
        return True, dict(extra)
    if not (key and secret):
        missing = "PORTONE_API_SECRET" if key else "PORTONE_API_KEY"
        raise DevError(f"{missing} is empty in .env while the other PortOne credential is set: fill it, "
                       "or set DOCKPAY_FAKE_PORTONE=1 to use the fake PortOne")
    url = env.get("PORTONE_API_URL") or "https://api.iamport.kr"
    if not url.startswith("https://"):
        raise DevError(f"PORTONE_API_URL in .env must be an https:// URL, not {url!r}")
    return False, dict(extra, url=url, key=key, secret=secret)


def notify_from_env(env):
    """outbox: {"url", "secret"} from DOCKPAY_NOTIFY_URL and DOCKPAY_NOTIFY_SECRET in .env (both or
    neither; the secret is whsec_ and base64, never printed), or {}."""
    url, secret = env.get("DOCKPAY_NOTIFY_URL", ""), env.get("DOCKPAY_NOTIFY_SECRET", "")
    if not url and not secret:
        return {}
    if not (url and secret):
        missing = "DOCKPAY_NOTIFY_SECRET" if url else "DOCKPAY_NOTIFY_URL"
        raise DevError(f"{missing} is empty in .env while the other notify setting is set: fill both or neither")
    if not re.match(r"^https?://[^\s\"\\]+$", url):
        raise DevError(f"DOCKPAY_NOTIFY_URL in .env must be an http:// or https:// URL, not {url!r}")
    m = re.match(r"^whsec_([A-Za-z0-9+/]+={0,2})$", secret)
    try:
        ok = m is not None and 16 <= len(base64.b64decode(m.group(1), validate=True)) <= 64
    except ValueError:
        ok = False
    if not ok:
        raise DevError("DOCKPAY_NOTIFY_SECRET in .env must be whsec_ followed by the base64 of a 16..64 byte key "
                       "(e.g. whsec_$(openssl rand -base64 32)); the value is not shown")
    return {"url": url, "secret": secret}
def billing_from_env(env):
    """Server directives for billing-aware containers from .env (branch billing):
    DOCKPAY_BILLING_ENFORCE (off|stop|pause) and DOCKPAY_BILLING_GRACE (seconds); "" when unset."""
    conf = ""
    enforce = env.get("DOCKPAY_BILLING_ENFORCE", "").strip().lower()
    grace = env.get("DOCKPAY_BILLING_GRACE", "").strip()
    if enforce:
        if enforce not in ("off", "stop", "pause"):
            raise DevError(f"DOCKPAY_BILLING_ENFORCE in .env must be off, stop or pause, not {enforce!r}")
        conf += f"DockpayBillingEnforce {enforce}\n"
    if grace:
        if not grace.isdigit() or int(grace) > 366 * 86400:
            raise DevError(f"DOCKPAY_BILLING_GRACE in .env must be a number of seconds (0-31622400), not {grace!r}")
        conf += f"DockpayBillingGrace {int(grace)}\n"
    return conf


def port_in_use(port):
    """True when something listens on 127.0.0.1:port (or on every address at that port)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True


def cmd_run(args):
    root = os.path.abspath(args.root)
    if os.path.exists(os.path.join(root, "state.json")):
        old = Stack.attach(root)
        if old.own_pid(old.path("httpd", "httpd.pid")):
            print(f"already running at {old.base_url} (./dev stop first)")
            return 0
    env = read_env(os.path.join(TOP, ".env"))
    use_fake, portone = portone_from_env(env)
    try:
        port = int(env.get("DOCKPAY_PORT") or "8080")
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise DevError(f"DOCKPAY_PORT in .env must be a port number, not {env.get('DOCKPAY_PORT')!r}")
    if port_in_use(port):
        raise DevError(f"port {port} on 127.0.0.1 is in use: set DOCKPAY_PORT in .env to a free port "
                       f"(or stop what listens there)")
    # always a private engine: the host's Docker (and its socket's group) is never used
    notify = notify_from_env(env)   # outbox
    st = Stack(root, args.build, port=port, own_docker=True, fake=use_fake, portone=portone)
    st.notify = notify
    try:
        st.reconcile_interval = int(env.get("DOCKPAY_RECONCILE_INTERVAL") or "60")
        if not 1 <= st.reconcile_interval <= 86400:
            raise ValueError
    except ValueError:
        raise DevError("DOCKPAY_RECONCILE_INTERVAL in .env must be a number of seconds from 1 to 86400, "
                       f"not {env.get('DOCKPAY_RECONCILE_INTERVAL')!r}")
    st.extra_conf = billing_from_env(env)   # billing (branch billing)
    if os.path.exists(os.path.join(root, "state.json")):
        old = Stack.attach(root)  # keep the database password and keys of the first run
        st.db_password, st.ns, st.keys = old.db_password, old.ns, old.keys
    if use_fake:
        log("PortOne: the bundled fake (no real payments)"
            + (" — DOCKPAY_FAKE_PORTONE=1" if env.get("DOCKPAY_FAKE_PORTONE") == "1" else
               " — no PORTONE_API_KEY/PORTONE_API_SECRET in .env"))
    else:
        log(f"PortOne: real, {portone['url']} (payments are real)")
    try:
        st.start()
    except BaseException:
        log("start failed: stopping what this run started")
        try:
            st.stop()
        except Exception as e:
            log(f"while stopping: {e}")
        raise
    kind = "fake (the bundled test fake: no real payments)" if use_fake else "real (payments are real)"
    print(f"""
mod_dockpay is running.
  base URL : {st.base_url}
  admin key: {st.keys['admin']}   (more: ./dev keygen NAME SCOPES, add the line to {st.path('httpd', 'keys')})
  docker   : {st.docker_sock} (private engine in network namespace {st.ns}; the host's Docker is not used)
  PortOne  : {st.portone.get('url')} — {kind}
  httpd    : children run as the system user {DEV_USER}
  logs     : {st.path('httpd', 'error.log')}
Try:
  curl -s {st.base_url}/health
  curl -s -H 'Authorization: Bearer {st.keys['admin']}' {st.base_url}/system/version
Stop with ./dev stop
""")
    return 0


def cmd_stop(args):
    roots = [os.path.abspath(args.root)]
    if args.root == default_run_root():
        roots.append(os.path.join(TOP, ".run"))  # where earlier versions kept it
    stopped = False
    for root in roots:
        if os.path.exists(os.path.join(root, "state.json")):
            Stack.attach(root).stop()
            stopped = True
    print("stopped" if stopped else "nothing is running")
    return 0


# Assertions that cannot fail, and tests that hide a missing handler behind a 501: `./dev test`
# runs this first (python3 t/harness.py lint-tests) and stops on a hit, naming file:line.
LINT_RULES = [
    (re.compile(r"\bor\s+True\b"), "or-ing with True makes the expression always true"),
    (re.compile(r"^\s*assert\s+(True|1|\"[^\"]*\"|'[^']*')\s*(,|$)"), "an assert of a constant cannot fail"),
    (re.compile(r"\bif\b.*\b(status|status_code)\s*==\s*501\b"), "branches on a 501 (a route without a handler) instead of failing"),
    (re.compile(r"\b(status|status_code)\s+in\s*[(\[{][^)\]}]*\b501\b"), "accepts a 501 (a route without a handler) as an answer"),
    (re.compile(r"pytest\.(skip|xfail)\(.*\b501\b"), "skips on a 501 (a route without a handler)"),
]


def lint_tests(top=TOP):
    """Returns 'file:line: why: text' for every test line a LINT_RULES pattern matches (code only:
    comments and docstring lines are not read as code)."""
    hits = []
    for d in ("t", "bench"):
        for dirpath, dirnames, files in os.walk(os.path.join(top, d)):
            dirnames[:] = [x for x in dirnames if x not in ("corpus", "__pycache__")]
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, top)
                with open(path, encoding="utf-8", errors="replace") as f:
                    lines = f.read().split("\n")
                in_doc = None
                for no, line in enumerate(lines, 1):
                    code = line.split("#", 1)[0] if "#" in line and '"' not in line and "'" not in line else line
                    stripped = code.strip()
                    if in_doc:
                        if in_doc in stripped:
                            in_doc = None
                        continue
                    for q in ('"""', "'''"):
                        if stripped.startswith(q) or stripped.startswith("r" + q):
                            if stripped.count(q) == 1:
                                in_doc = q
                            stripped = ""
                            break
                    if not stripped or stripped.startswith("#"):
                        continue
                    for rx, why in LINT_RULES:
                        if rx.search(code):
                            hits.append(f"{rel}:{no}: {why}: {stripped}")
    return hits


def lint_self_test():
    """The rules catch each kind they name (and leave the honest forms alone)."""
    # the samples are put together here, so that this file (linted like every other) holds no
    # line the rules would flag
    t, na = "True", "501"
    bad = [f'assert r.headers.get("Retry-After") or {t}', f"assert {t}", f"    if r.status_code == {na}:",
           f"assert r.status_code in (200, {na})", f'pytest.skip("answers {na}")']
    good = [f"assert r.status_code != {na}", f"return r.status_code == {na}", "assert r.status_code in (200, 204)"]
    for line in bad:
        if not any(rx.search(line) for rx, _ in LINT_RULES):
            raise DevError(f"lint-tests self-test: not caught: {line}")
    for line in good:
        if any(rx.search(line) for rx, _ in LINT_RULES):
            raise DevError(f"lint-tests self-test: an honest line is caught: {line}")


def cmd_lint_tests(args):
    lint_self_test()
    hits = lint_tests()
    for h in hits:
        print(h, file=sys.stderr)
    if hits:
        log(f"lint-tests: {len(hits)} assertion(s) that cannot fail or that hide a 501 (fix them first)")
        return 1
    log("lint-tests: no assertion that cannot fail, no test that skips on 501")
    return 0


def cmd_test(args):
    root = tempfile.mkdtemp(prefix="dpt-", dir="/tmp")
    st = Stack(root, args.build, sanitize=args.sanitize)
    rc = 1
    try:
        st.start()
        env = dict(os.environ, DP_STACK=root, PYTHONDONTWRITEBYTECODE="1")
        pytest = [("/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable),
                  "-m", "pytest", "-p", "no:cacheprovider", "-q", "-ra",
                  os.path.join(TOP, "t", "integration"), *args.pytest_args]
        rc = subprocess.run(pytest, env=env, cwd=TOP).returncode
        hits = scan_secrets(st)   # hardening: secrets in logs, database or responses fail the run
        if hits:
            print("==== secrets found after the suite:\n" + "\n".join(hits[:50]))
            log(f"secret scan: {len(hits)} hit(s): failing the run")
            rc = rc or 1
        else:
            log("secret scan: clean (logs, database dump, captured responses)")
        asan = [f for f in os.listdir(st.path("asan")) if os.path.getsize(st.path("asan", f)) > 0]
        if asan:
            for f in asan:
                with open(st.path("asan", f)) as fh:
                    print(f"==== sanitizer report {f}\n{fh.read()[:20000]}")
            log("sanitizer reports found: failing the run")
            rc = rc or 1
    finally:
        try:
            st.teardown()
        except Exception as e:   # keep an earlier failure; this one is logged
            log(f"teardown failed: {short_error(e)}")
            rc = rc or 1
    return rc


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--root", default=default_run_root())
    r.add_argument("--build", default=os.path.join(TOP, "build"))
    s = sub.add_parser("stop")
    s.add_argument("--root", default=default_run_root())
    t = sub.add_parser("test")
    t.add_argument("--build", required=True)
    t.add_argument("--sanitize", action="store_true")
    t.add_argument("pytest_args", nargs="*")
    sub.add_parser("lint-tests")
    args = ap.parse_args()
    fn = {"run": cmd_run, "stop": cmd_stop, "test": cmd_test, "lint-tests": cmd_lint_tests}[args.cmd]
    try:
        return fn(args)
    except DevError as e:
        print(f"[dev] error: {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("[dev] error: interrupted", file=sys.stderr, flush=True)
        return 130
    except Exception as e:
        # not expected: keep the traceback in a file, show one line
        where = os.path.join(DEV_STATE, "logs", "harness-error.log")
        try:
            os.makedirs(os.path.dirname(where), exist_ok=True)
            with open(where, "a") as f:
                f.write(f"==== {time.strftime('%Y-%m-%d %H:%M:%S')} harness {args.cmd}\n{traceback.format_exc()}")
        except OSError:
            where = "(could not be written)"
        print(f"[dev] error: {args.cmd} failed unexpectedly ({short_error(e)}): traceback in {where}",
              file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
