-- Dead letters: events the workers gave up on, kept with their error until an admin replays or
-- discards them; and the bulk replays admins start over them.
--
-- One row per event (the envelope id): an event that fails again after a replay updates its
-- row (attempts, last error, last failure) instead of adding one, so the list shows each
-- failing event once, with its whole history in the counters.
--
-- Visibility: a tenant's admins see their tenant's rows (the usual policy on `app.tenant_id`);
-- platform admins see every tenant's rows in a transaction that sets `app.scope` to
-- 'platform' (see `db::PlatformTx`). Nothing else can set that: the runtime role reaches the
-- database only through the application.
CREATE TABLE dead_letters (
  id               uuid PRIMARY KEY,       -- the envelope id
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  channel          text NOT NULL CHECK (channel IN ('whatsapp', 'sms', 'voice', 'email')),
  kind             text NOT NULL,
  dedup_key        text NOT NULL,
  envelope         jsonb NOT NULL,
  -- permanent: can never succeed (malformed, unknown reference, revoked credentials);
  -- exhausted: transient failures outlasted every retry tier;
  -- delivery_limit: the broker gave up redelivering it (a worker kept dying on it).
  error_class      text NOT NULL CHECK (error_class IN ('permanent', 'exhausted', 'delivery_limit')),
  error            text NOT NULL,
  attempts         integer NOT NULL CHECK (attempts >= 0),
  first_failed_at  timestamptz NOT NULL DEFAULT now(),
  last_failed_at   timestamptz NOT NULL DEFAULT now(),
  -- dead: waiting for an admin; replayed: published again (it may come back as dead);
  -- discarded: an admin decided it needs nothing more.
  status           text NOT NULL DEFAULT 'dead' CHECK (status IN ('dead', 'replayed', 'discarded')),
  replays          integer NOT NULL DEFAULT 0,
  replayed_at      timestamptz,
  discarded_at     timestamptz
);
CREATE INDEX dead_letters_listing ON dead_letters (tenant_id, status, last_failed_at DESC, id DESC);
CREATE INDEX dead_letters_recent ON dead_letters (status, last_failed_at DESC, id DESC);

-- A bulk replay: the filter it was started with, and how far it got. A replayer (any ingress
-- replica) claims a running job by lease, publishes its matching dead letters at the job's
-- rate, and records progress after each batch, so a restart resumes where it stopped.
CREATE TABLE replay_jobs (
  id               uuid PRIMARY KEY,
  tenant_id        uuid REFERENCES tenants (id) ON DELETE CASCADE,   -- NULL: every tenant
  filter           jsonb NOT NULL,
  rate_per_second  integer NOT NULL CHECK (rate_per_second BETWEEN 1 AND 10000),
  status           text NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'completed', 'cancelled', 'failed')),
  total            integer NOT NULL CHECK (total >= 0),   -- matching when it started
  replayed         integer NOT NULL DEFAULT 0,
  -- the last dead letter replayed (ids are time-ordered), so a resumed job goes on after it
  cursor           uuid,
  error            text,
  created_by       text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  lease_until      timestamptz
);
CREATE INDEX replay_jobs_running ON replay_jobs (created_at) WHERE status = 'running';

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['dead_letters', 'replay_jobs']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_or_platform ON %I
         USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid
                OR current_setting(''app.scope'', true) = ''platform'')
         WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid
                OR current_setting(''app.scope'', true) = ''platform'')', t);
  END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON dead_letters, replay_jobs TO switchyard_app;
