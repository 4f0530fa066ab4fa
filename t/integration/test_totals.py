"""The "total" of GET /payments: per-status counts kept by triggers (db/migrations/004) must
equal the rows, whatever changed them (the API, a webhook, plain SQL), and a database migrated
with rows already in it starts with the right counts."""
import os
import shutil
import subprocess
import uuid

from harness import TOP, wait_for
from payments_util import new_mu, prepared_and_paid

STATUSES = ["prepared", "ready", "failed", "paid", "cancelled"]


def api_total(api, status=None):
    # a page no process has memoised: the total is read from the database now
    params = {"limit": 1, "page": 1 + uuid.uuid4().int % 900000}
    if status:
        params["status"] = status
    r = api.get("/payments", params=params)
    assert r.status_code == 200, r.text
    return r.json()["total"]


def sql_count(stack, status=None):
    if status:
        return int(stack.sql("SELECT COUNT(*) FROM payments WHERE status = %s", status)[0][0])
    return int(stack.sql("SELECT COUNT(*) FROM payments")[0][0])


def assert_totals_match(api, stack):
    for st in [None] + STATUSES:
        assert api_total(api, st) == sql_count(stack, st), st


def test_totals_follow_api_webhook_and_sql_changes(api, stack):
    assert_totals_match(api, stack)
    before = {st: sql_count(stack, st) for st in STATUSES}
    mu = new_mu("tot")
    assert api.post("/payments/prepare", json={"merchant_uid": mu, "amount": 900}).status_code == 201
    assert api_total(api, "prepared") == before["prepared"] + 1
    mu2, imp = prepared_and_paid(api, stack, amount=1200, webhook=True)
    wait_for(lambda: stack.sql("SELECT status FROM payments WHERE merchant_uid = %s", mu2)[0][0] == "paid",
             10, "the webhook to mark the payment paid")
    assert api_total(api, "paid") == before["paid"] + 1
    assert api.post("/payments/cancel", json={"imp_uid": imp, "reason": "totals"}).status_code == 200
    assert api_total(api, "cancelled") == before["cancelled"] + 1
    assert api_total(api, "paid") == before["paid"]
    assert_totals_match(api, stack)
    # outside the server: plain SQL passes the triggers as well
    stack.sql("UPDATE payments SET status = 'failed' WHERE merchant_uid = %s", mu)
    assert_totals_match(api, stack)
    stack.sql("DELETE FROM payments WHERE merchant_uid = %s", mu)
    assert_totals_match(api, stack)


def test_a_date_range_counts_the_rows_in_it(api, stack):
    r = api.get("/payments", params={"from": 0, "to": 1, "limit": 5})
    assert r.status_code == 200 and r.json()["total"] == 0 and r.json()["items"] == []
    everything = api.get("/payments", params={"from": 0, "to": 253402300799, "limit": 1}).json()
    assert everything["total"] == sql_count(stack)


def test_migrating_a_database_with_rows_seeds_the_counts(stack, tmp_path):
    db = "dockpay_mig_" + uuid.uuid4().hex[:8]
    old = tmp_path / "db"
    os.makedirs(old / "migrations")
    shutil.copy(os.path.join(TOP, "db", "init.sql"), old / "init.sql")
    for f in sorted(os.listdir(os.path.join(TOP, "db", "migrations"))):
        if f < "004":
            shutil.copy(os.path.join(TOP, "db", "migrations", f), old / "migrations" / f)
    tool = [os.path.join(TOP, "tools", "dockpay-migrate")]
    client = ["--", "-S", stack.db_sock, "-u", "root"]
    stack.mysql_root(f"CREATE DATABASE {db}")
    try:
        subprocess.run(tool + ["--dir", str(old), "--database", db] + client, check=True, capture_output=True)
        stack.mysql_root("INSERT INTO payments (merchant_uid, status, created_at, updated_at) "
                         "SELECT CONCAT('m', seq), ELT(1 + MOD(seq, 3), 'paid', 'ready', 'cancelled'), "
                         "UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) FROM seq_1_to_50", db)
        r = subprocess.run(tool + ["--dir", os.path.join(TOP, "db"), "--database", db] + client,
                           check=True, capture_output=True, text=True)
        assert "applied 004_payment_totals" in r.stdout
        counts = dict(line.split("\t") for line in
                      stack.mysql_root("SELECT status, n FROM payment_totals ORDER BY status", db).splitlines())
        assert counts == {"cancelled": "17", "paid": "16", "ready": "17"}
        again = subprocess.run(tool + ["--dir", os.path.join(TOP, "db"), "--database", db] + client,
                               check=True, capture_output=True, text=True)
        assert again.stdout == ""
        stack.mysql_root("UPDATE payments SET status = 'paid' WHERE merchant_uid = 'm2'", db)
        assert stack.mysql_root("SELECT n FROM payment_totals WHERE status = 'paid'", db).strip() == "17"
    finally:
        stack.mysql_root(f"DROP DATABASE {db}")
