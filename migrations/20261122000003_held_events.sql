-- Events of a suspended tenant: accepted from the provider and kept, not processed. They are
-- published again, in arrival order, when the tenant is reactivated.
CREATE TABLE held_events (
  id         uuid PRIMARY KEY,          -- the envelope id
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  dedup_key  text NOT NULL,
  envelope   jsonb NOT NULL,
  held_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, dedup_key)
);

ALTER TABLE held_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON held_events
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, DELETE ON held_events TO switchyard_app;
