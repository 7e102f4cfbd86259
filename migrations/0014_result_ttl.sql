-- Result retention per task (issue 16): a task may say how long its finished runs are kept
-- (resultTtlSeconds), in place of RUN_RETENTION_DAYS, shorter or longer. A run takes its task's TTL
-- when it is created (insertRuns, insertScheduledRuns: runs/flow.ts), its own where the request gives
-- one; cleanup.runs deletes it once finished_at + result_ttl_seconds has passed, and the global
-- retention leaves it alone. NULL: the global retention, as before.
ALTER TABLE tasks ADD COLUMN result_ttl_seconds integer
  CONSTRAINT tasks_result_ttl_nonnegative CHECK (result_ttl_seconds >= 0);
ALTER TABLE runs ADD COLUMN result_ttl_seconds integer
  CONSTRAINT runs_result_ttl_nonnegative CHECK (result_ttl_seconds >= 0);

-- Finished runs with a TTL, by TTL then finish time: cleanup.runs finds the few distinct TTLs and, for
-- each, reads exactly the runs whose time has passed. Runs without a TTL (the plain path) and runs not
-- finished yet have no entry, so they pay nothing for it.
CREATE INDEX runs_result_ttl_idx ON runs (result_ttl_seconds, finished_at)
  WHERE result_ttl_seconds IS NOT NULL AND finished_at IS NOT NULL;
