-- Sizes of a run's args and result (bytes of their JSON text, as written), so that lists can leave large
-- values out without reading them (GET /runs returns at most API_LIST_VALUE_MAX_BYTES of each), and the
-- fingerprint of the request an idempotency key was first used with, so that the same key with a
-- different request is refused (409) instead of silently answered with the first run.
-- All nullable without a default: adding them rewrites nothing. Runs written before this migration have
-- no sizes (lists measure those on read) and no fingerprint (any request replays them, as before).
ALTER TABLE runs
  ADD COLUMN args_bytes integer,
  ADD COLUMN result_bytes integer,
  ADD COLUMN idempotency_fingerprint bytea;
