-- 002: payments through PortOne V1: one order row per merchant_uid (with the PortOne payment
-- that settled it), the cancellations PortOne reported, and every webhook received.
-- Amounts are KRW integers; PortOne times (paid_at, vbank_due, ...) are unix seconds;
-- created_at/updated_at/received_at are UTC. No secret is ever stored here.

CREATE TABLE IF NOT EXISTS payments (
    id                  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    merchant_uid        VARCHAR(40) NOT NULL,
    imp_uid             VARCHAR(32) NULL,
    prepared_amount     BIGINT NULL,             -- the expected amount (prepare / vbank issue)
    prepared_at_portone TINYINT NOT NULL DEFAULT 0, -- 1 once POST /payments/prepare succeeded
    amount              BIGINT NULL,             -- PortOne's amount
    cancelled_amount    BIGINT NOT NULL DEFAULT 0,
    currency            VARCHAR(8) NOT NULL DEFAULT 'KRW',
    -- prepared < ready < failed < paid < cancelled: a status only moves forward
    status              VARCHAR(16) NOT NULL DEFAULT 'prepared',
    method              VARCHAR(20) NULL,
    pg_provider         VARCHAR(16) NULL,
    name                VARCHAR(80) NULL,
    vbank_code          VARCHAR(8) NULL,
    vbank_name          VARCHAR(64) NULL,
    vbank_num           VARCHAR(32) NULL,
    vbank_holder        VARCHAR(64) NULL,
    vbank_due           BIGINT NULL,
    buyer_name          VARCHAR(64) NULL,
    buyer_email         VARCHAR(128) NULL,
    buyer_tel           VARCHAR(32) NULL,
    paid_at             BIGINT NULL,
    failed_at           BIGINT NULL,
    cancelled_at        BIGINT NULL,
    created_at          DATETIME(6) NOT NULL,
    updated_at          DATETIME(6) NOT NULL,
    UNIQUE KEY payments_merchant_uid (merchant_uid),
    UNIQUE KEY payments_imp_uid (imp_uid),
    KEY payments_created (created_at),
    KEY payments_status_created (status, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS payment_cancellations (
    id                  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    cancellation_id     VARCHAR(64) NOT NULL,
    merchant_uid        VARCHAR(40) NOT NULL,
    imp_uid             VARCHAR(32) NOT NULL,
    amount              BIGINT NOT NULL,
    reason              VARCHAR(256) NULL,
    pg_tid              VARCHAR(64) NULL,
    cancelled_at        BIGINT NULL,
    created_at          DATETIME(6) NOT NULL,
    UNIQUE KEY cancellations_id (cancellation_id),
    KEY cancellations_merchant (merchant_uid),
    KEY cancellations_imp (imp_uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS webhook_events (
    id                  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    dedupe_key          CHAR(64) NOT NULL,       -- sha256(imp_uid, merchant_uid, status, cancellation_id)
    received_at         DATETIME(6) NOT NULL,
    updated_at          DATETIME(6) NOT NULL,
    source_ip           VARCHAR(45) NOT NULL,
    imp_uid             VARCHAR(32) NOT NULL,
    merchant_uid        VARCHAR(40) NOT NULL,
    status              VARCHAR(16) NOT NULL,
    cancellation_id     VARCHAR(64) NULL,
    body                TEXT NOT NULL,           -- the raw body as received (capped at 4 KiB)
    -- received -> processing -> applied | pending | unknown_order | mismatch | amount_mismatch
    outcome             VARCHAR(32) NOT NULL DEFAULT 'received',
    detail              VARCHAR(255) NULL,
    attempts            INT NOT NULL DEFAULT 1,
    UNIQUE KEY webhook_dedupe (dedupe_key),
    KEY webhook_imp (imp_uid),
    KEY webhook_merchant (merchant_uid),
    KEY webhook_received (received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
