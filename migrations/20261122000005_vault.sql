-- Credentials a tenant keeps for other systems it connects (e.g. Genesys Cloud). Non-secret
-- fields are plain JSON; every secret is sealed separately (name -> SecretBox ciphertext).
CREATE TABLE vault_entries (
  id         uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  kind       text NOT NULL,
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  fields     jsonb NOT NULL DEFAULT '{}'::jsonb,
  secrets    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

ALTER TABLE vault_entries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON vault_entries
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON vault_entries TO switchyard_app;
