-- 007: the reconciler (issue 14). Webhook events are applied in the background with retries,
-- orders that are not final are re-asked at PortOne on a backing-off schedule, and one server at
-- a time (of all that share this database) runs a reconcile pass, holding the lease row.
-- Times are UTC (the database's UTC_TIMESTAMP: one clock for every server).

-- one row per lease; taken by an atomic
--   UPDATE reconcile_lease SET holder = me, expires_at = now + ttl
--   WHERE name = ... AND (expires_at < now OR holder = me)
CREATE TABLE IF NOT EXISTS reconcile_lease (
    name                VARCHAR(64) NOT NULL PRIMARY KEY,
    holder              VARCHAR(128) NOT NULL DEFAULT '',
    expires_at          DATETIME(6) NOT NULL,
    last_run_at         DATETIME(6) NULL,        -- end of the last pass (any server)
    last_result         VARCHAR(255) NULL,       -- "ok: ..." or "error: ..." (never an amount)
    runs                BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

INSERT IGNORE INTO reconcile_lease (name, holder, expires_at)
VALUES ('dockpay-reconcile', '', '1970-01-01 00:00:01');

-- every pass, for the record (and for the test that checks passes never overlap); the reconciler
-- deletes rows older than 7 days
CREATE TABLE IF NOT EXISTS reconcile_runs (
    id                  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    holder              VARCHAR(128) NOT NULL,
    started_at          DATETIME(6) NOT NULL,
    ended_at            DATETIME(6) NULL,
    events              INT NOT NULL DEFAULT 0,  -- webhook events applied or retried
    lookups             INT NOT NULL DEFAULT 0,  -- orders re-asked at PortOne
    result              VARCHAR(255) NULL,
    KEY reconcile_runs_started (started_at)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- webhook events: `attempts` keeps counting deliveries by PortOne; these count applying them
ALTER TABLE webhook_events
    ADD COLUMN IF NOT EXISTS apply_attempts INT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS next_attempt_at DATETIME(6) NULL,
    ADD KEY IF NOT EXISTS webhook_due (outcome, next_attempt_at);

-- orders: when the reconciler asks PortOne next, and how often it asked
ALTER TABLE payments
    ADD COLUMN IF NOT EXISTS reconcile_attempts INT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS reconcile_next_at DATETIME(6) NULL,
    ADD KEY IF NOT EXISTS payments_reconcile (status, reconcile_next_at);
