-- Switchyard schema: tenants and everything they own.
--
-- Roles (created once per cluster, before the first migration; see README "Database roles"):
--   * the owner role runs these migrations and owns every table;
--   * `switchyard_app` is the runtime role: LOGIN, NOSUPERUSER, NOBYPASSRLS, and not the owner,
--     so every row-level security policy below applies to it.
-- Every tenant-owned table has `tenant_id` and the policy
--   tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
-- which the application satisfies by `SELECT set_config('app.tenant_id', $1, true)` at the start
-- of each transaction. A pooled connection that once had the setting reads it back as '' (not
-- NULL), hence the NULLIF: with no tenant set, no row is visible.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'switchyard_app') THEN
    RAISE EXCEPTION 'role switchyard_app does not exist; create it first (README, "Database roles")';
  END IF;
END
$$;

CREATE TABLE tenants (
  id                    uuid PRIMARY KEY,
  slug                  text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status                text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  plan                  text NOT NULL DEFAULT 'standard',
  rate_limit_per_minute integer NOT NULL DEFAULT 600 CHECK (rate_limit_per_minute > 0),
  welcome_text          text CHECK (length(welcome_text) <= 4096),
  metadata              jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- One WhatsApp Cloud API number per tenant; the phone_number_id routes webhooks to the tenant.
CREATE TABLE whatsapp_channels (
  tenant_id            uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  phone_number_id      text NOT NULL UNIQUE,
  waba_id              text NOT NULL,
  display_phone_number text,
  access_token_enc     text NOT NULL,   -- secrets::SecretBox ciphertext
  app_secret_enc       text,            -- the tenant's own Meta app, when it has one
  is_active            boolean NOT NULL DEFAULT true,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

-- A person a tenant talks to. WhatsApp users who adopt a username may arrive without a phone
-- number (`from`/`wa_id` absent) but with a business-scoped user id (BSUID), so every
-- identifier is optional and each is unique per tenant when present.
CREATE TABLE contacts (
  id               uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  phone            text,            -- E.164 with '+'
  whatsapp_id      text,            -- wa_id
  whatsapp_user_id text,            -- BSUID, e.g. US.1000000000000000001
  email            text,
  display_name     text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (coalesce(phone, whatsapp_id, whatsapp_user_id, email) IS NOT NULL)
);
CREATE UNIQUE INDEX contacts_tenant_phone ON contacts (tenant_id, phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX contacts_tenant_wa_id ON contacts (tenant_id, whatsapp_id) WHERE whatsapp_id IS NOT NULL;
CREATE UNIQUE INDEX contacts_tenant_bsuid ON contacts (tenant_id, whatsapp_user_id) WHERE whatsapp_user_id IS NOT NULL;
CREATE UNIQUE INDEX contacts_tenant_email ON contacts (tenant_id, email) WHERE email IS NOT NULL;

CREATE TABLE conversations (
  id               uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  contact_id       uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  channel          text NOT NULL CHECK (channel IN ('whatsapp', 'sms', 'voice', 'email')),
  status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  last_inbound_at  timestamptz,
  last_message_at  timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, channel, contact_id)
);

-- Inbound and outbound messages. A delivery receipt can arrive before the send that caused
-- it has been recorded, so an outbound row may start as a stub keyed only by the provider id.
CREATE TABLE messages (
  id                   uuid PRIMARY KEY,
  tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  conversation_id      uuid REFERENCES conversations (id) ON DELETE CASCADE,
  contact_id           uuid REFERENCES contacts (id) ON DELETE CASCADE,
  channel              text NOT NULL CHECK (channel IN ('whatsapp', 'sms', 'voice', 'email')),
  direction            text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  provider_message_id  text NOT NULL,
  message_type         text NOT NULL,
  body                 text,
  media                jsonb,        -- {id, mime_type, sha256, caption, filename}
  reply_to_provider_id text,         -- context.id: the message this one answers
  status               text NOT NULL CHECK (status IN ('received', 'sent', 'delivered', 'read', 'failed')),
  error                jsonb,
  provider_timestamp   timestamptz,
  sent_at              timestamptz,
  delivered_at         timestamptz,
  read_at              timestamptz,
  failed_at            timestamptz,
  raw                  jsonb,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, provider_message_id)
);
-- Delivery states only move forward: sent < delivered < read; failed is terminal.
CREATE FUNCTION message_status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE status WHEN 'received' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2
                         WHEN 'read' THEN 3 WHEN 'failed' THEN 4 END $$;

CREATE INDEX messages_conversation ON messages (tenant_id, conversation_id, created_at);

-- Dedup keys of applied events, written in the same transaction as the event's effects.
CREATE TABLE processed_events (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  dedup_key    text NOT NULL,
  event_id     uuid NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, dedup_key)
);

-- Outbound sends: written with the effects that cause them, sent after commit, so a retried
-- event never sends twice. `idempotency_key` makes the cause unique (e.g. one welcome per
-- contact).
CREATE TABLE outbox (
  id                  uuid PRIMARY KEY,
  tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  channel             text NOT NULL CHECK (channel IN ('whatsapp', 'sms', 'voice', 'email')),
  conversation_id     uuid REFERENCES conversations (id) ON DELETE CASCADE,
  contact_id          uuid REFERENCES contacts (id) ON DELETE CASCADE,
  idempotency_key     text NOT NULL,
  request             jsonb NOT NULL,  -- channel-neutral intent: {to, text, reply_to}
  status              text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unknown')),
  attempts            integer NOT NULL DEFAULT 0,
  next_attempt_at     timestamptz NOT NULL DEFAULT now(),
  claimed_until       timestamptz,
  last_error          text,
  provider_message_id text,
  source_event_id     uuid,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  sent_at             timestamptz,
  UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'sending');

-- Verified events whose routing key matches no tenant. Not tenant-owned (there is no tenant
-- yet); an admin replays them once the tenant is configured.
CREATE TABLE unroutable_events (
  id          uuid PRIMARY KEY,
  provider    text NOT NULL,
  routing_key text NOT NULL,
  reason      text NOT NULL,
  payload     jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  replayed_at timestamptz
);
CREATE INDEX unroutable_events_key ON unroutable_events (provider, routing_key) WHERE replayed_at IS NULL;

-- Row-level security.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['whatsapp_channels', 'contacts', 'conversations', 'messages',
                           'processed_events', 'outbox']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I
         USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)
         WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
  END LOOP;
END
$$;

-- Narrow, cross-tenant reads for the runtime role. SECURITY DEFINER runs them as the owner
-- (who is not subject to the policies); each exposes routing keys and ids only, never secrets.

-- Ingress: which tenant does a WhatsApp phone_number_id belong to?
CREATE FUNCTION whatsapp_route(p_phone_number_id text)
RETURNS TABLE (tenant_id uuid, waba_id text, tenant_status text, is_active boolean, has_app_secret boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT w.tenant_id, w.waba_id, t.status, w.is_active, w.app_secret_enc IS NOT NULL
  FROM whatsapp_channels w JOIN tenants t ON t.id = w.tenant_id
  WHERE w.phone_number_id = p_phone_number_id
$$;

-- Outbox relay: which sends are due (ids only; the send itself runs under the tenant).
CREATE FUNCTION outbox_due(p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT o.tenant_id, o.id FROM outbox o
  WHERE o.status = 'pending' AND o.next_attempt_at <= now()
  ORDER BY o.next_attempt_at
  LIMIT p_limit
$$;

-- Outbox relay: a send whose worker stopped mid-call may or may not have reached the provider.
-- It is never sent again (that could send twice); it is marked 'unknown' for an operator.
CREATE FUNCTION outbox_mark_abandoned()
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  WITH abandoned AS (
    UPDATE outbox SET status = 'unknown', updated_at = now(),
           last_error = 'the worker stopped during the send; not retried, to never send twice'
    WHERE status = 'sending' AND claimed_until < now()
    RETURNING 1
  )
  SELECT count(*)::integer FROM abandoned
$$;

-- Tenant lookup by slug for operators' tooling (id only).
CREATE FUNCTION tenant_id_by_slug(p_slug text)
RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT id FROM tenants WHERE slug = p_slug $$;

REVOKE ALL ON FUNCTION whatsapp_route(text), outbox_due(integer), outbox_mark_abandoned(),
  tenant_id_by_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION whatsapp_route(text), outbox_due(integer), outbox_mark_abandoned(),
  tenant_id_by_slug(text) TO switchyard_app;

GRANT USAGE ON SCHEMA public TO switchyard_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
  tenants, whatsapp_channels, contacts, conversations, messages, processed_events, outbox
  TO switchyard_app;
GRANT SELECT, INSERT, UPDATE ON unroutable_events TO switchyard_app;
