-- A schedule that an extension's record manages (a bot's scrape schedule) names its owner as
-- `<kind>:<key>` (`bot-config:12`): one generic column instead of one per kind of owner, so the engine
-- knows no kinds. At most one schedule per owner. No foreign key: an owner deletes its schedule itself,
-- in the transaction that deletes the owner.
ALTER TABLE schedules ADD COLUMN owner text UNIQUE;

-- A database migrated before the bots became an extension has schedules.bot_config_id (from 0003 as it
-- was then, with ON DELETE CASCADE from bot_configs): its values become owners, then the column goes.
-- A newer database never had it.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = 'schedules'
               AND column_name = 'bot_config_id') THEN
    EXECUTE $sql$UPDATE schedules SET owner = 'bot-config:' || bot_config_id
                 WHERE bot_config_id IS NOT NULL$sql$;
    EXECUTE 'ALTER TABLE schedules DROP COLUMN bot_config_id';
  END IF;
END $$;
