-- mod_dockpay database bootstrap (MariaDB 10.11 / MySQL 8.0, utf8mb4, InnoDB).
-- Creates the version table; the numbered files in db/migrations/ are applied in order by
-- tools/dockpay-migrate (installed as dockpay-migrate; the tests run it from t/harness.py), each
-- recorded here once applied.
CREATE TABLE IF NOT EXISTS schema_version (
    version     INT NOT NULL PRIMARY KEY,
    name        VARCHAR(128) NOT NULL,
    applied_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
