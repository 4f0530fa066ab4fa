-- 008: the outbox of signed events for the merchant's application (issue 14 part 4). Every
-- change of a payment, cancellation, billing key or schedule adds one row here in the same
-- transaction as the change; a mod_watchdog task ("dockpay-outbox") POSTs pending rows to
-- DockpayNotifyURL, signed the Standard Webhooks way, in order per order_key.
-- payload is the event's "data" as JSON: never a secret, never card digits.
CREATE TABLE IF NOT EXISTS outbox_events (
    id                  BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,  -- order of creation
    event_id            VARCHAR(40) NOT NULL,    -- "evt_" + 24 hex: the webhook-id header
    type                VARCHAR(40) NOT NULL,    -- payment.paid, schedule.revoked, ...
    order_key           VARCHAR(80) NOT NULL,    -- merchant_uid (or customer_uid for billing keys)
    payload             MEDIUMTEXT NOT NULL,
    state               VARCHAR(16) NOT NULL DEFAULT 'pending',  -- pending | delivered | failed
    attempts            INT NOT NULL DEFAULT 0,
    next_attempt_at     DATETIME(6) NOT NULL,    -- UTC; not tried before
    queued_at           DATETIME(6) NOT NULL,    -- UTC; creation or the last redeliver (max age)
    locked_until        DATETIME(6) NULL,        -- UTC; a delivery run holds the row until then
    locked_by           VARCHAR(64) NULL,        -- which run (host/pid) holds it
    last_error          VARCHAR(255) NULL,
    created_at          DATETIME(6) NOT NULL,    -- UTC; the body's "timestamp"
    delivered_at        DATETIME(6) NULL,
    UNIQUE KEY outbox_event_id (event_id),
    KEY outbox_due (state, next_attempt_at),
    KEY outbox_order (order_key, state, id),
    KEY outbox_type (type, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per delivery attempt: the receiver's HTTP status, or the transport error.
CREATE TABLE IF NOT EXISTS outbox_attempts (
    id                  BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    event_id            VARCHAR(40) NOT NULL,
    attempted_at        DATETIME(6) NOT NULL,    -- UTC
    http_status         INT NULL,                -- NULL when no answer came
    error               VARCHAR(255) NULL,       -- transport error (timeout, refused, ...)
    duration_ms         INT NOT NULL,
    KEY outbox_attempts_event (event_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
