-- 006: idempotency keys: one row per (API key name, Idempotency-Key header) of a payment or
-- subscription write, so that a retried request gets the first answer again instead of a second
-- call to PortOne (spec: README "Idempotency"). The primary key makes the claim atomic across
-- servers sharing this database. Rows are kept 24 h (older ones are ignored, taken over and
-- purged as requests pass). No secret is stored: the body is the API's own JSON answer.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key_name        VARCHAR(64) NOT NULL,            -- the API key's name (keys are per API key)
    idem_key        VARCHAR(255) NOT NULL,           -- the Idempotency-Key header, byte for byte
    request_hash    CHAR(64) NOT NULL,               -- hex SHA-256 of method, path, query and body
    claim           CHAR(32) NOT NULL,               -- random token of the request that holds the row
    -- pending while the first request runs; done once its answer is stored (a 5xx deletes the row)
    state           VARCHAR(8) NOT NULL DEFAULT 'pending',
    status          SMALLINT NULL,                   -- the stored HTTP status (done)
    content_type    VARCHAR(64) NULL,                -- the stored Content-Type (done; NULL: none)
    body_b64        MEDIUMTEXT NULL,                 -- the stored body, base64 (capped at 64 KiB raw)
    target          VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL, -- what it acted on (audit)
    created_at      BIGINT NOT NULL,                 -- unix seconds of the claim
    updated_at      BIGINT NOT NULL,                 -- unix seconds of the last change
    PRIMARY KEY (key_name, idem_key),
    KEY idempotency_created (created_at),
    CONSTRAINT idempotency_state CHECK (state IN ('pending', 'done'))
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;
