-- Identities: users who log in, tenant API keys, per-tenant token invalidation, audit log.

-- "Log out everywhere" for a tenant bumps token_generation; a JWT carries the generation it
-- was issued under and is refused once they differ. external_org_id lets integrations
-- provision idempotently ("ensure tenant for org X").
ALTER TABLE tenants
  ADD COLUMN external_org_id text UNIQUE,
  ADD COLUMN token_generation integer NOT NULL DEFAULT 0,
  ADD COLUMN onboarding_completed_at timestamptz;

CREATE TABLE users (
  id            uuid PRIMARY KEY,
  tenant_id     uuid REFERENCES tenants (id) ON DELETE CASCADE,
  email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  password_hash text NOT NULL,            -- argon2id, PHC string
  role          text NOT NULL CHECK (role IN ('platform_admin', 'tenant_admin', 'agent')),
  display_name  text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz,
  -- Platform admins belong to no tenant; everyone else to exactly one.
  CHECK ((role = 'platform_admin') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- `sk_live_{prefix}_{secret}`: the prefix finds the row, SHA-256 of the whole key proves it.
-- The key itself is shown once, at creation, and never stored.
CREATE TABLE api_keys (
  id           uuid PRIMARY KEY,
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  prefix       text NOT NULL UNIQUE,
  key_hash     bytea NOT NULL,
  role         text NOT NULL DEFAULT 'tenant_admin' CHECK (role IN ('tenant_admin', 'agent')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);

-- Who changed what, when. Kept when a tenant is deleted (no foreign key), so the deletion
-- itself stays on record.
CREATE TABLE audit_log (
  id         uuid PRIMARY KEY,
  tenant_id  uuid,
  actor      text NOT NULL,     -- user:<id>, api_key:<id>, admin_token
  actor_role text NOT NULL,
  action     text NOT NULL,     -- e.g. tenant.create, channel.whatsapp.put
  target     text,
  details    jsonb NOT NULL DEFAULT '{}'::jsonb,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at DESC);
CREATE INDEX audit_log_at ON audit_log (at DESC);

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

-- Authentication needs to find a credential before it knows the tenant.

CREATE FUNCTION auth_user_by_email(p_email text)
RETURNS TABLE (id uuid, tenant_id uuid, role text, password_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT id, tenant_id, role, password_hash FROM users WHERE lower(email) = lower(p_email) $$;

CREATE FUNCTION auth_record_login(p_user uuid)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ UPDATE users SET last_login_at = now() WHERE id = p_user $$;

CREATE FUNCTION auth_api_key_by_prefix(p_prefix text)
RETURNS TABLE (id uuid, tenant_id uuid, role text, key_hash bytea, revoked boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT id, tenant_id, role, key_hash, revoked_at IS NOT NULL FROM api_keys WHERE prefix = p_prefix $$;

CREATE FUNCTION auth_touch_api_key(p_id uuid)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ UPDATE api_keys SET last_used_at = now()
      WHERE id = p_id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') $$;

-- The tenant facts every authenticated request checks: it exists, its status, and the token
-- generation a JWT must carry.
CREATE FUNCTION auth_tenant_state(p_tenant uuid)
RETURNS TABLE (status text, token_generation integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT status, token_generation FROM tenants WHERE id = p_tenant $$;

-- Integrations provision by their own org id.
CREATE FUNCTION tenant_id_by_external_org(p_external_org_id text)
RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT id FROM tenants WHERE external_org_id = p_external_org_id $$;

-- Platform admins: the list of tenants with counts, and configuration statistics. Ids, names
-- and counts only.
CREATE FUNCTION platform_tenants(p_after uuid, p_limit integer)
RETURNS TABLE (id uuid, slug text, name text, status text, plan text, created_at timestamptz,
               contacts bigint, conversations bigint, messages bigint, users bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT t.id, t.slug, t.name, t.status, t.plan, t.created_at,
         (SELECT count(*) FROM contacts c WHERE c.tenant_id = t.id),
         (SELECT count(*) FROM conversations c WHERE c.tenant_id = t.id),
         (SELECT count(*) FROM messages m WHERE m.tenant_id = t.id),
         (SELECT count(*) FROM users u WHERE u.tenant_id = t.id)
  FROM tenants t
  WHERE p_after IS NULL OR t.id > p_after
  ORDER BY t.id
  LIMIT p_limit
$$;

CREATE FUNCTION platform_user_create(p_id uuid, p_email text, p_password_hash text, p_display_name text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ INSERT INTO users (id, tenant_id, email, password_hash, role, display_name)
      VALUES (p_id, NULL, p_email, p_password_hash, 'platform_admin', p_display_name) $$;

REVOKE ALL ON FUNCTION auth_user_by_email(text), auth_record_login(uuid),
  auth_api_key_by_prefix(text), auth_touch_api_key(uuid), auth_tenant_state(uuid),
  tenant_id_by_external_org(text), platform_tenants(uuid, integer),
  platform_user_create(uuid, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_user_by_email(text), auth_record_login(uuid),
  auth_api_key_by_prefix(text), auth_touch_api_key(uuid), auth_tenant_state(uuid),
  tenant_id_by_external_org(text), platform_tenants(uuid, integer),
  platform_user_create(uuid, text, text, text) TO switchyard_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON users, api_keys TO switchyard_app;
GRANT SELECT, INSERT ON audit_log TO switchyard_app;
