-- 001: the audit trail: one row for every write request (any non-GET route).
CREATE TABLE IF NOT EXISTS audit_log (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    created_at  DATETIME(6) NOT NULL,
    key_name    VARCHAR(64) NOT NULL,
    method      VARCHAR(8) NOT NULL,
    path        VARCHAR(512) NOT NULL,
    target      VARCHAR(255) NOT NULL DEFAULT '',
    status      SMALLINT NOT NULL,
    request_id  VARCHAR(64) NOT NULL,
    KEY audit_created (created_at),
    KEY audit_key (key_name, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
