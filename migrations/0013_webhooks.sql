-- Webhooks (issue 16): subscriptions that receive signed HTTP deliveries of events from the event log
-- (migration 0012). The scheduler's relay matches new events against the enabled subscriptions and
-- writes one delivery per match, with its payload, in the transaction that advances its cursor; its
-- sender POSTs due deliveries, retrying with backoff. Nothing of this runs in a worker's path: the
-- events are written by 0012's triggers whatever webhooks exist.

CREATE TABLE webhooks (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  url         text        NOT NULL,
  -- The event types it receives: run.<status>, run.progress or workflow.<status> (checked by the API).
  event_types text[]      NOT NULL DEFAULT ARRAY['run.succeeded', 'run.failed', 'run.cancelled',
                                                 'workflow.succeeded', 'workflow.failed', 'workflow.cancelled'],
  -- Optional filters: only events of this task, queue or workflow.
  task        text,
  queue       text,
  workflow_id bigint,
  -- The HMAC key of its signatures. Kept as given: the sender needs it to sign.
  secret      text        NOT NULL,
  enabled     boolean     NOT NULL DEFAULT true,
  description text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhooks_event_types_given CHECK (cardinality(event_types) > 0)
);

-- One event sent to one webhook (or a ping: no event). The payload is built once, when the relay
-- matches the event, so every attempt sends the same body.
CREATE TABLE webhook_deliveries (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id      bigint      NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  -- The event's key in the log; null for a ping (POST /webhooks/{id}/test).
  event_tx        xid8,
  event_id        bigint,
  event_type      text        NOT NULL,
  payload         jsonb       NOT NULL,
  status          text        NOT NULL DEFAULT 'pending'
    CONSTRAINT webhook_deliveries_status_known CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        integer     NOT NULL DEFAULT 0,
  -- When a pending delivery is next due.
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- Set while a sender holds it (one attempt in flight), until when: a sender that dies mid-send leaves
  -- it to be claimed again once the lease ends, and no two senders ever send it at once.
  leased_until    timestamptz,
  last_status_code integer,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  -- One delivery per event and webhook, whatever happens to the relay (its deliveries and its cursor
  -- commit together, so it never matches an event twice; this makes sure). Pings have no event.
  CONSTRAINT webhook_deliveries_event_once UNIQUE (webhook_id, event_tx, event_id)
);
-- The sender's claim: pending deliveries by due time.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- A webhook's deliveries, newest first, by status or not.
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id DESC);
CREATE INDEX webhook_deliveries_webhook_status_idx ON webhook_deliveries (webhook_id, status, id DESC);
-- Housekeeping of finished deliveries by age.
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (updated_at) WHERE status <> 'pending';

-- Every attempt of a delivery: what the receiver answered (or why there was no answer), and how long.
CREATE TABLE webhook_delivery_attempts (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id bigint      NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt     integer     NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  status_code integer,
  error       text,
  duration_ms integer
);
CREATE INDEX webhook_delivery_attempts_delivery_idx ON webhook_delivery_attempts (delivery_id, attempt);

-- The relay's cursor: the (tx, id) of the last event it matched. One row; the relay holds its lock
-- for the length of a matching step, so one scheduler replica at a time matches (the others skip).
CREATE TABLE webhook_relay (
  singleton  boolean     PRIMARY KEY DEFAULT true CONSTRAINT webhook_relay_one_row CHECK (singleton),
  event_tx   xid8        NOT NULL DEFAULT '0',
  event_id   bigint      NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO webhook_relay DEFAULT VALUES;
