"""The install contract: `make install DESTDIR=<stage>` from the test build, a fresh database
brought to the current schema by the STAGED dockpay-migrate (no --dir: it finds its schema from its
own install prefix), and a private httpd that loads the STAGED mod_dockpay.so and the STAGED
openapi.json, answering a smoke set (health with the database, a container list, a payment prepare
against the fake PortOne, and GET /payments listing it)."""
import filecmp
import glob
import json
import os
import secrets
import shutil
import subprocess

import pytest
import requests

from conftest import BAD_LOG
from harness import TOP, Stack, free_port, read_pid, pid_alive
from payments_util import new_mu

MIGRATIONS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(TOP, "db", "migrations", "*.sql")))


def make_vars(build, *names):
    """The values make computes for these variables in the build folder's Makefile."""
    rule = "show:\n" + "".join(f"\t@echo '{n}=$({n})'\n" for n in names)
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", build, "-f", "Makefile", "-f", "-", "show"],
                       input=rule, capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


class InstalledStack(Stack):
    """The test stack's database, Docker and fake PortOne, with an httpd of its own (folder
    <stage>/httpd, its own port) running the installed module against another database."""

    def __init__(self, base, httpd_dir):
        self.__dict__.update(base.__dict__)
        self.httpd_dir = httpd_dir
        self.port = free_port()

    def path(self, *parts):
        if parts and parts[0] == "httpd":
            return os.path.join(self.httpd_dir, *parts[1:])
        return super().path(*parts)

    def save(self):   # never overwrite the suite's state.json
        pass


@pytest.fixture(scope="module")
def installed(stack):
    stage = os.path.join(stack.tmp, "install-stage")
    shutil.rmtree(stage, ignore_errors=True)
    r = subprocess.run(["make", "-C", stack.build, "install", f"DESTDIR={stage}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"make install failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    v = make_vars(stack.build, "bindir", "pkgdatadir", "HTTPD_LIBEXECDIR")
    paths = {
        "stage": stage,
        "bin": stage + v["bindir"],
        "share": stage + v["pkgdatadir"],
        "pkgdatadir": v["pkgdatadir"],
        "so": os.path.join(stage + v["HTTPD_LIBEXECDIR"], "mod_dockpay.so"),
    }
    yield paths
    shutil.rmtree(stage, ignore_errors=True)


def test_install_puts_every_file_in_place(installed):
    """The module, both tools, the OpenAPI document, init.sql and every migration of db/migrations/."""
    assert os.path.isfile(installed["so"]), installed["so"]
    for tool in ["dockpay-keygen", "dockpay-migrate"]:
        p = os.path.join(installed["bin"], tool)
        assert os.path.isfile(p) and os.access(p, os.X_OK), p
    share = installed["share"]
    assert filecmp.cmp(os.path.join(share, "openapi.json"), os.path.join(TOP, "openapi.json"), shallow=False)
    assert filecmp.cmp(os.path.join(share, "db", "init.sql"), os.path.join(TOP, "db", "init.sql"), shallow=False)
    assert MIGRATIONS and "004_payment_totals.sql" in MIGRATIONS
    staged = sorted(os.listdir(os.path.join(share, "db", "migrations")))
    assert staged == MIGRATIONS, f"installed migrations {staged} != db/migrations {MIGRATIONS}"
    for m in MIGRATIONS:
        assert filecmp.cmp(os.path.join(share, "db", "migrations", m),
                           os.path.join(TOP, "db", "migrations", m), shallow=False), m


def test_installed_migrate_knows_its_prefix(installed):
    """make install writes the configured schema folder into the installed dockpay-migrate."""
    with open(os.path.join(installed["bin"], "dockpay-migrate")) as f:
        lines = f.read().splitlines()
    assert f'default_dir="{installed["pkgdatadir"]}/db"' in lines


def test_keygen_installed_runs(installed):
    r = subprocess.run([os.path.join(installed["bin"], "dockpay-keygen"), "-q", "inst", "docker:read"],
                       capture_output=True, text=True, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    assert r.returncode == 0, r.stderr
    key, line = r.stdout.split("\n")[:2]
    assert key.startswith("dpk_") and line.startswith("inst sha256:") and line.endswith(" docker:read")


@pytest.fixture(scope="module")
def fresh_db(stack, installed):
    """A new empty database migrated by the staged dockpay-migrate (schema found from its prefix)."""
    db = "dockpay_inst_" + secrets.token_hex(4)
    stack.mysql_root(f"CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
                     f"GRANT SELECT, INSERT, UPDATE, DELETE ON {db}.* TO 'dockpay'@'localhost';")
    # run from a neutral folder: nothing but the script's own location may lead it to the schema
    migrate = [os.path.join(installed["bin"], "dockpay-migrate"), "--database", db, "--", "-S", stack.db_sock, "-u", "root"]
    first = subprocess.run(migrate, capture_output=True, text=True, cwd="/")
    second = subprocess.run(migrate, capture_output=True, text=True, cwd="/")
    yield {"name": db, "first": first, "second": second}
    stack.mysql_root(f"DROP DATABASE IF EXISTS {db}")


def test_installed_migrate_brings_empty_database_to_current_schema(stack, fresh_db):
    first, second = fresh_db["first"], fresh_db["second"]
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == [w for m in MIGRATIONS for w in ("applied", m[:-4])], first.stdout
    versions = stack.mysql_root("SELECT version FROM schema_version ORDER BY version", fresh_db["name"]).split()
    assert [int(x) for x in versions] == [int(m.split("_")[0]) for m in MIGRATIONS]
    tables = set(stack.mysql_root("SHOW TABLES", fresh_db["name"]).split())
    assert {"audit_log", "payments", "payment_totals"} <= tables, tables
    # the same tables as the suite's database (migrated from the source tree)
    assert tables == set(stack.mysql_root("SHOW TABLES", "dockpay").split())
    assert second.returncode == 0 and second.stdout == "", second.stdout + second.stderr


@pytest.fixture(scope="module")
def installed_httpd(stack, installed, fresh_db):
    hdir = os.path.join(installed["stage"], "httpd")
    os.makedirs(hdir, exist_ok=True)
    shutil.copy(stack.path("httpd", "keys"), os.path.join(hdir, "keys"))
    st = InstalledStack(stack.s, hdir)
    st.module_so = installed["so"]
    st.openapi_file = os.path.join(installed["share"], "openapi.json")
    st.db_name = fresh_db["name"]
    st.extra_conf = ""
    os.chmod(installed["stage"], 0o755)
    st.start_httpd()
    yield st
    st.stop_httpd()


def call(st, method, path, key, **kw):
    return requests.request(method, st.base_url + path, headers={"Authorization": f"Bearer {key}"},
                            timeout=60, **kw)


def test_installed_module_serves_the_smoke_set(stack, installed, fresh_db, installed_httpd):
    st = installed_httpd
    pid = read_pid(st.path("httpd", "httpd.pid"))
    assert pid and pid_alive(pid)
    with open(f"/proc/{pid}/maps") as f:
        assert installed["so"] in f.read(), "httpd did not load the staged module"
    assert installed["so"] != os.path.join(stack.build, ".libs", "mod_dockpay.so")

    h = requests.get(st.base_url + "/health", timeout=30)
    assert h.status_code == 200, h.text
    assert h.json()["database"] == "ok" and h.json()["docker"] == "ok", h.json()

    doc = requests.get(st.base_url + "/openapi.json", timeout=30)
    assert doc.status_code == 200
    with open(os.path.join(installed["share"], "openapi.json"), "rb") as f:
        assert doc.json() == json.load(f)

    c = call(st, "GET", "/containers", stack.keys["docker_read"])
    assert c.status_code == 200, c.text
    assert isinstance(c.json()["items"], list)

    mu = new_mu("install")
    p = call(st, "POST", "/payments/prepare", stack.keys["payments_write"], json={"merchant_uid": mu, "amount": 4200})
    assert p.status_code == 201, p.text
    lst = call(st, "GET", "/payments", stack.keys["payments_read"])
    assert lst.status_code == 200, lst.text
    body = lst.json()
    # a fresh database: the one order, and its total from migration 004's per-status counts
    assert [i["merchant_uid"] for i in body["items"]] == [mu], body
    assert body["items"][0]["prepared_amount"] == 4200 and body["items"][0]["status"] == "prepared"
    assert body["total"] == 1, body
    assert stack.sql("SELECT COUNT(*) FROM payments WHERE merchant_uid = %s", mu) == [("0",)], \
        "the order reached the suite's database instead of the fresh one"
    rows = stack.mysql_root(f"SELECT status, prepared_amount FROM payments WHERE merchant_uid = '{mu}'",
                            fresh_db["name"]).split()
    assert rows == ["prepared", "4200"]

    with open(st.path("httpd", "error.log"), errors="replace") as f:
        bad = [l for l in f.read().splitlines() if BAD_LOG.search(l)]
    assert not bad, "\n".join(bad[:20])


def test_documented_instance_layout_passes_configtest(stack, installed):
    """Steps 2, 3 and 5 of README "Installing on a server" on a copy of /etc/apache2 below the
    stage (the instance folder setup-instance makes is such a copy), with the staged module:
    the instance's ports.conf, dockpay.env sourced by envvars, a2enmod/a2enconf, the key file named
    by conf/dockpay.conf. `apache2 -t` fails while the key file is missing and passes once
    dockpay-keygen's line is in it, with every ${...} the configuration reads defined.
    (The test machine has no `dockpay` user: the instance runs as www-data here.)"""
    conf = os.path.join(installed["stage"], "etc", "apache2-dockpay")
    shutil.rmtree(conf, ignore_errors=True)
    shutil.copytree("/etc/apache2", conf, symlinks=True)
    env = dict(stack.httpd_env(), APACHE_CONFDIR=conf)

    def run(*argv):
        r = subprocess.run(list(argv), env=env, capture_output=True, text=True)
        assert r.returncode == 0, f"{argv}: {r.stdout}{r.stderr}"

    run("a2dissite", "-q", "000-default")
    shutil.copy(os.path.join(TOP, "conf", "dockpay-instance-ports.conf"), os.path.join(conf, "ports.conf"))
    with open(os.path.join(TOP, "conf", "dockpay-instance.env")) as f:
        envtext = f.read()
    assert "export APACHE_RUN_USER=dockpay\n" in envtext and "export APACHE_RUN_GROUP=dockpay\n" in envtext
    envtext = (envtext.replace("APACHE_RUN_USER=dockpay", "APACHE_RUN_USER=www-data")
               .replace("APACHE_RUN_GROUP=dockpay", "APACHE_RUN_GROUP=www-data"))
    with open(os.path.join(conf, "dockpay.env"), "w") as f:
        f.write(envtext)
    with open(os.path.join(conf, "envvars"), "a") as f:
        f.write(f". {conf}/dockpay.env\n")

    with open(os.path.join(TOP, "conf", "dockpay.load")) as f:
        load = f.read()
    assert "LoadModule dockpay_module /usr/lib/apache2/modules/mod_dockpay.so\n" in load
    with open(os.path.join(conf, "mods-available", "dockpay.load"), "w") as f:
        f.write(load.replace("/usr/lib/apache2/modules/mod_dockpay.so", installed["so"]))
    with open(os.path.join(TOP, "conf", "dockpay.conf")) as f:
        dconf = f.read()
    keyfile = os.path.join(conf, "dockpay.keys")
    assert "DockpayKeyFile /etc/apache2-dockpay/dockpay.keys\n" in dconf
    with open(os.path.join(conf, "conf-available", "dockpay.conf"), "w") as f:
        f.write(dconf.replace("/etc/apache2-dockpay/dockpay.keys", keyfile))
    run("a2enmod", "-q", "dbd", "dockpay")
    run("a2enconf", "-q", "dockpay")
    assert os.path.islink(os.path.join(conf, "mods-enabled", "dbd.load"))

    # as apache2ctl-dockpay -t does (it also makes the run folder), with the instance's run, lock
    # and log folders below the stage instead of /var/{run,lock,log}/apache2-dockpay
    run_dirs = " ".join(f'APACHE_{n}_DIR="{conf}/{n.lower()}"' for n in ("RUN", "LOCK", "LOG"))
    configtest = ["sh", "-c", f'. "{conf}/envvars" && export {run_dirs} && '
                  f'mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR" "$APACHE_LOG_DIR" && exec apache2 -d "{conf}" -t']
    r = subprocess.run(configtest, env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "DockpayKeyFile" in r.stderr, r.stdout + r.stderr

    out = subprocess.run([os.path.join(installed["bin"], "dockpay-keygen"), "-q", "ops", "admin"],
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0")).stdout.split("\n")
    with open(keyfile, "w") as f:
        f.write(out[1] + "\n")
    os.chmod(keyfile, 0o600)
    r = subprocess.run(configtest, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "Syntax OK" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "AH00111" not in r.stdout + r.stderr, r.stdout + r.stderr   # an undefined ${...}
    with open(os.path.join(conf, "ports.conf")) as f:
        assert [l for l in f.read().splitlines() if l.startswith("Listen")] == ["Listen 127.0.0.1:8081"]
