-- 004: the number of orders per status, kept by triggers, so that the "total" of a GET /payments
-- page without a date range is one primary-key read instead of a COUNT(*) over the table.
-- Every change to payments (through the server, another server or plain SQL) passes the
-- triggers. Creating triggers needs the TRIGGER privilege (and, with binary logging on, SUPER or
-- log_bin_trust_function_creators).

CREATE TABLE IF NOT EXISTS payment_totals (
    status  VARCHAR(16) NOT NULL PRIMARY KEY,
    n       BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

DELIMITER //
CREATE OR REPLACE TRIGGER payments_total_insert AFTER INSERT ON payments FOR EACH ROW
BEGIN
    INSERT INTO payment_totals (status, n) VALUES (NEW.status, 1) ON DUPLICATE KEY UPDATE n = n + 1;
END//
CREATE OR REPLACE TRIGGER payments_total_update AFTER UPDATE ON payments FOR EACH ROW
BEGIN
    IF NEW.status <> OLD.status THEN
        UPDATE payment_totals SET n = n - 1 WHERE status = OLD.status;
        INSERT INTO payment_totals (status, n) VALUES (NEW.status, 1) ON DUPLICATE KEY UPDATE n = n + 1;
    END IF;
END//
CREATE OR REPLACE TRIGGER payments_total_delete AFTER DELETE ON payments FOR EACH ROW
BEGIN
    UPDATE payment_totals SET n = n - 1 WHERE status = OLD.status;
END//
DELIMITER ;

-- the counts of the rows already there, with payments locked so no change falls in between
LOCK TABLES payments READ, payment_totals WRITE;
DELETE FROM payment_totals;
INSERT INTO payment_totals (status, n) SELECT status, COUNT(*) FROM payments GROUP BY status;
UNLOCK TABLES;
