-- diag_executions, the table of the diag.record soak diagnostic, left the engine for test support
-- (test/support/diag-record.ts; see 0004_diag_executions.sql, which no longer creates it). A database
-- that ran 0004 before has it: it loses a diagnostic table nothing reads. A new one never had it.
DROP TABLE IF EXISTS diag_executions;
