-- The publish spool: envelopes the ingress accepted while the broker was unreachable (or did
-- not confirm in time). The provider got its 200 only after the row committed, so a broker
-- outage loses nothing; the ingress's relay publishes the rows in `seq` order once the broker
-- is back and deletes each batch after the broker confirmed it.
--
-- `seq` is the order of acceptance: one request's envelopes get consecutive values in the
-- order the request listed them (the insert is ordered by their position), and a request
-- accepted later gets larger ones. The relay reads `ORDER BY seq` and deletes by exact `seq`,
-- never by range: a request whose insert took an earlier `seq` but committed later must not
-- be deleted unpublished.
--
-- Visibility: a platform table like `unroutable_events` — one request may spool envelopes of
-- several tenants, and the relay drains every tenant's rows in one order — but it holds
-- tenants' payloads, so row-level security admits its rows only to a transaction that set
-- `app.scope` to 'platform' (`db::PlatformTx`). A tenant-scoped transaction sees none of them,
-- not even its own tenant's: they are in transit, nobody's to read.
CREATE TABLE publish_spool (
  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id          uuid NOT NULL,              -- the envelope id
  -- No foreign key: the spool keeps what the ingress accepted, like the queue would; a tenant
  -- deleted meanwhile is the worker's business, as for an event already on the queue.
  tenant_id   uuid NOT NULL,
  channel     text NOT NULL CHECK (channel IN ('whatsapp', 'sms', 'voice', 'email')),
  envelope    jsonb NOT NULL,
  spooled_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE publish_spool ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON publish_spool
  USING (current_setting('app.scope', true) = 'platform')
  WITH CHECK (current_setting('app.scope', true) = 'platform');

-- Rows are written once and deleted once published; never updated.
GRANT SELECT, INSERT, DELETE ON publish_spool TO switchyard_app;
