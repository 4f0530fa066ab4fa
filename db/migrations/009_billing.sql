-- 009: billing-aware containers (issue 15): which engine objects a subscription customer pays
-- for, the customer's billing state, the payment events that moved it (one row per event key:
-- duplicates change nothing twice) and every transition. Times are unix seconds.

-- A container (kind 'container', object = its full engine Id) or a compose project (kind
-- 'project', object = the project name) bound to customer_uid. The database is the truth; a
-- container created with customer_uid also carries the label dockpay.customer=<uid>.
CREATE TABLE IF NOT EXISTS billing_bindings (
    kind                VARCHAR(16) NOT NULL,
    object              VARCHAR(128) NOT NULL,
    customer_uid        VARCHAR(80) NOT NULL,
    key_name            VARCHAR(64) NOT NULL,    -- the key that bound it (the object's owner)
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (kind, object),
    CONSTRAINT billing_bindings_kind CHECK (kind IN ('container', 'project')),
    KEY billing_bindings_customer (customer_uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per customer that ever had a billing event; no row means active.
CREATE TABLE IF NOT EXISTS billing_customers (
    customer_uid        VARCHAR(80) NOT NULL PRIMARY KEY,
    -- active -> past_due (payment failed, key deleted, last schedule revoked unpaid)
    -- past_due -> suspended (grace over, enforcement applied) ; any -> active (paid, resume)
    state               VARCHAR(16) NOT NULL DEFAULT 'active',
    since               BIGINT NOT NULL,         -- when the customer entered state
    reason              VARCHAR(255) NULL,
    grace_until         BIGINT NULL,             -- past_due: set by the enforcer (since + grace)
    enforced            VARCHAR(8) NULL,         -- stop | pause: what the enforcer did; NULL: nothing
    last_event_key      VARCHAR(128) NULL,       -- the last event applied
    last_event_at       BIGINT NOT NULL DEFAULT 0,   -- its time (paid_at / failed_at / now)
    last_period         BIGINT NOT NULL DEFAULT 0,   -- schedule_at of the last schedule event applied
    version             INT NOT NULL DEFAULT 0,  -- +1 on every change
    CONSTRAINT billing_customers_state CHECK (state IN ('active', 'past_due', 'suspended')),
    CONSTRAINT billing_customers_enforced CHECK (enforced IS NULL OR enforced IN ('stop', 'pause')),
    KEY billing_customers_state (state, grace_until)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every billing event received, by key (pay:<imp_uid>:<status>, key_deleted:..., revoke:...,
-- resume:...): a second arrival of the same key is a duplicate and changes nothing.
CREATE TABLE IF NOT EXISTS billing_events (
    event_key           VARCHAR(128) NOT NULL PRIMARY KEY,
    customer_uid        VARCHAR(80) NOT NULL,
    kind                VARCHAR(16) NOT NULL,    -- paid | failed | key_deleted | revoked | resume
    event_at            BIGINT NOT NULL,
    period              BIGINT NOT NULL DEFAULT 0,
    outcome             VARCHAR(16) NOT NULL,    -- transition | no_change | stale
    received_at         BIGINT NOT NULL,
    KEY billing_events_customer (customer_uid, received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every state change, in order.
CREATE TABLE IF NOT EXISTS billing_transitions (
    id                  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_uid        VARCHAR(80) NOT NULL,
    from_state          VARCHAR(16) NOT NULL,
    to_state            VARCHAR(16) NOT NULL,
    reason              VARCHAR(255) NULL,
    event_key           VARCHAR(128) NULL,
    at                  BIGINT NOT NULL,
    KEY billing_transitions_customer (customer_uid, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
