-- Phone calls (Telnyx Call Control, with its AI assistant) and the leads they produce.

-- One row per phone call, keyed by Telnyx's call_session_id (shared by the legs of a call).
-- Webhooks arrive out of order, so each event fills in what it knows and never overwrites a
-- later state: `state` only moves forward (initiated < answered < ended) and every time is
-- kept the first time it is seen.
CREATE TABLE calls (
  id                        uuid PRIMARY KEY,
  tenant_id                 uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  call_session_id           text NOT NULL,
  call_control_id           text,
  connection_id             text,
  direction                 text CHECK (direction IN ('incoming', 'outgoing')),
  from_number               text,
  to_number                 text,
  contact_id                uuid REFERENCES contacts (id) ON DELETE SET NULL,
  state                     text NOT NULL DEFAULT 'initiated'
                            CHECK (state IN ('initiated', 'answered', 'ended')),
  started_at                timestamptz,
  answered_at               timestamptz,
  ended_at                  timestamptz,
  duration_secs             integer GENERATED ALWAYS AS (
                              greatest(0, floor(extract(epoch FROM ended_at - started_at)))::integer
                            ) STORED,
  hangup_cause              text,
  hangup_source             text,
  sip_hangup_cause          text,
  transcript                jsonb,   -- [{role, content, timestamp, tool_calls?, tool_call_id?}]
  summary                   text,
  assistant_conversation_id text,
  created_at                timestamptz NOT NULL DEFAULT now(),
  updated_at                timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, call_session_id)
);
CREATE INDEX calls_contact ON calls (tenant_id, contact_id, started_at);

CREATE FUNCTION call_state_rank(state text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE state WHEN 'initiated' THEN 0 WHEN 'answered' THEN 1 WHEN 'ended' THEN 2 END $$;

-- A prospective customer to follow up. A contact has at most one open lead per source
-- channel (won and lost leads are closed); a new call of the contact updates the open one.
CREATE TABLE leads (
  id             uuid PRIMARY KEY,
  tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  contact_id     uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  source_channel text NOT NULL CHECK (source_channel IN ('whatsapp', 'sms', 'voice', 'email')),
  status         text NOT NULL DEFAULT 'new'
                 CHECK (status IN ('new', 'contacted', 'qualified', 'won', 'lost')),
  notes          text,
  last_call_id   uuid REFERENCES calls (id) ON DELETE SET NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX leads_open_per_contact ON leads (tenant_id, contact_id, source_channel)
  WHERE status NOT IN ('won', 'lost');

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['calls', 'leads']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I
         USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)
         WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
  END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON calls, leads TO switchyard_app;
