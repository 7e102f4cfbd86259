-- This migration used to create the Reddit bots' tables too: bot_configs, posts, schedules.bot_config_id
-- and the runs_bot_config_idx index. The bots are an extension now (packages/bots), with migrations of
-- their own: a new database gets those tables from packages/bots/migrations/0001_bot_tables.sql. A
-- database migrated before has them already; that migration (idempotent) and 0009_schedule_owner.sql
-- bring it to the same schema as a new one (docs/decisions.md). What stays here is the engine's part.

-- Retention out of the box: cleanup.runs every day at 03:00 UTC on the cleanup queue, deleting
-- finished runs older than RUN_RETENTION_DAYS (the worker's setting). Edit, pause or delete it like
-- any schedule; migrations never re-create it.
INSERT INTO schedules (name, task, args, queue, trigger, max_retries, timeout_seconds,
                       misfire_grace_seconds, coalesce_missed, max_instances, next_run_at)
VALUES ('cleanup.runs daily', 'cleanup.runs', '{}', 'cleanup',
        '{"type": "cron", "expression": "0 3 * * *", "timezone": "UTC"}', 3, 600, NULL, true, 1,
        date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
          + CASE WHEN now() < date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '3 hours'
                 THEN interval '3 hours' ELSE interval '27 hours' END);
