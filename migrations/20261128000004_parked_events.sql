-- Tenant fairness in the workers.
--
-- Each tenant's events are admitted at a fair rate (a GCRA bucket per tenant through
-- `take_send_slot`, bucket `tenant-events:<id>`). An event over its tenant's rate is not
-- processed from the queue: it is parked here (one insert) and acknowledged, so the partition
-- queues drain at parking speed and other tenants' events behind a flood wait for inserts, not
-- for the flood's processing. Every worker drains parked events round-robin across tenants, as
-- fast as it can. Order within a conversation holds: once a conversation has a parked event,
-- its later events are parked behind it, and the drain takes only the oldest parked event of
-- each conversation, locked, deleting it in the transaction that applies it.
CREATE TABLE parked_events (
  seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  conversation_key text NOT NULL,
  event_id         uuid NOT NULL,
  envelope         jsonb NOT NULL,
  parked_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, event_id)
);
CREATE INDEX parked_events_conversation ON parked_events (tenant_id, conversation_key, seq);

ALTER TABLE parked_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON parked_events
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- UPDATE only for the row lock the drain takes (SELECT … FOR UPDATE); rows are never changed.
GRANT SELECT, INSERT, UPDATE, DELETE ON parked_events TO switchyard_app;

-- The drain: which tenants have parked events, longest-waiting first (ids only).
CREATE FUNCTION parked_tenants(p_limit integer)
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT p.tenant_id FROM parked_events p
  GROUP BY p.tenant_id
  ORDER BY min(p.seq)
  LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION parked_tenants(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION parked_tenants(integer) TO switchyard_app;
