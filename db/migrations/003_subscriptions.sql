-- 003: subscriptions through PortOne V1 billing keys: the keys this server issued (PortOne's
-- non-secret card info only) and the scheduled payments made for them.
-- Times are unix seconds (like PortOne's). Card data (number, expiry, birth date, password
-- digits, CVC) is never stored: no column can hold it. card_number keeps the masked form
-- PortOne returns (at most the first 6 and last 4 digits); the CHECK refuses anything with
-- more than 10 digits or without a mask character.

CREATE TABLE IF NOT EXISTS billing_keys (
    customer_uid        VARCHAR(80) NOT NULL PRIMARY KEY,
    pg_provider         VARCHAR(16) NULL,
    pg_id               VARCHAR(80) NULL,
    card_name           VARCHAR(64) NULL,
    card_code           VARCHAR(8) NULL,
    card_number         VARCHAR(20) NULL,        -- masked, e.g. 123456******3456
    created_at          BIGINT NOT NULL,         -- first issued through this server
    updated_at          BIGINT NOT NULL,         -- last issued (a re-issue replaces the card)
    deleted_at          BIGINT NULL,             -- deleted at PortOne; NULL while active
    CONSTRAINT billing_keys_masked CHECK (card_number IS NULL OR (card_number LIKE '%*%'
        AND CHAR_LENGTH(REGEXP_REPLACE(card_number, '[^0-9]', '')) <= 10)),
    KEY billing_keys_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS subscription_schedules (
    id                  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_uid        VARCHAR(80) NOT NULL,
    merchant_uid        VARCHAR(40) NOT NULL,
    schedule_at         BIGINT NOT NULL,
    amount              BIGINT NOT NULL,
    name                VARCHAR(80) NULL,
    -- scheduled -> executed (paid) | failed (payment failed; a retry can still pay it)
    --           -> revoked (unscheduled before it ran)
    status              VARCHAR(16) NOT NULL DEFAULT 'scheduled',
    imp_uid             VARCHAR(32) NULL,        -- set once PortOne ran it
    created_at          BIGINT NOT NULL,
    executed_at         BIGINT NULL,
    revoked_at          BIGINT NULL,
    CONSTRAINT schedules_status CHECK (status IN ('scheduled', 'executed', 'revoked', 'failed')),
    CONSTRAINT schedules_amount CHECK (amount > 0),
    UNIQUE KEY schedules_merchant_uid (merchant_uid),
    KEY schedules_customer (customer_uid, schedule_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
