-- Modules and message flows: what a tenant's automated conversations are made of.
--
-- * `modules` is the platform's catalogue (welcome, FAQ, booking, …). It belongs to no tenant;
--   the runtime role reads it and only migrations write it.
-- * `tenant_modules` are the catalogue modules a tenant enabled, in the tenant's order.
-- * `flows` belong to one tenant module and start on a trigger (first contact, or keywords).
-- * `flow_steps` are a flow's steps; `step_key` is the id the tenant gave the step, unique per
--   flow, and the target of `next_step` and of the branch rules inside `config`. The whole step
--   list is validated by `switchyard_shared::flows` before it is written: references resolve,
--   buttons fit WhatsApp's limits, no cycle runs without waiting for the customer.
-- * `conversation_states` is where each conversation stands in its flow; the flow engine reads
--   and locks it while it handles an inbound message.
--
-- Every tenant-owned table carries `tenant_id` and references its parent by (tenant_id, id):
-- foreign-key checks bypass row-level security, so a plain reference to a parent id would let a
-- row point at another tenant's parent. The composite key makes that impossible.

CREATE TABLE modules (
  id          uuid PRIMARY KEY,
  key         text NOT NULL UNIQUE CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
  created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO modules (id, key, name, description) VALUES
  ('0190f000-0000-7000-8000-000000000001', 'welcome', 'Welcome',
   'Greets a customer the first time they write, and shows what the business can help with.'),
  ('0190f000-0000-7000-8000-000000000002', 'faq', 'Frequently asked questions',
   'Answers common questions (opening hours, prices, location) from a menu or keywords.'),
  ('0190f000-0000-7000-8000-000000000003', 'booking', 'Booking',
   'Collects what is needed to book an appointment.'),
  ('0190f000-0000-7000-8000-000000000004', 'lead_capture', 'Lead capture',
   'Asks a prospective customer a few qualifying questions for a follow-up.'),
  ('0190f000-0000-7000-8000-000000000005', 'handover', 'Handover to a person',
   'Hands the conversation to a human agent; the automation stays silent afterwards.');

CREATE TABLE tenant_modules (
  id         uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  module_id  uuid NOT NULL REFERENCES modules (id),
  position   integer NOT NULL CHECK (position >= 0),
  is_active  boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, module_id),
  UNIQUE (tenant_id, id),
  -- Deferred, so that a reorder can move every position in one statement.
  CONSTRAINT tenant_modules_position_key UNIQUE (tenant_id, position) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE flows (
  id               uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  tenant_module_id uuid NOT NULL,
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  trigger_kind     text NOT NULL CHECK (trigger_kind IN ('first_contact', 'keywords')),
  keywords         text[] NOT NULL DEFAULT '{}',
  is_active        boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, tenant_module_id) REFERENCES tenant_modules (tenant_id, id)
    ON DELETE CASCADE,
  CHECK ((trigger_kind = 'keywords') = (cardinality(keywords) > 0))
);
CREATE INDEX flows_tenant_module ON flows (tenant_id, tenant_module_id);

CREATE TABLE flow_steps (
  flow_id   uuid NOT NULL,
  tenant_id uuid NOT NULL,
  step_key  text NOT NULL CHECK (step_key ~ '^[A-Za-z0-9_-]{1,64}$'),
  position  integer NOT NULL CHECK (position >= 0),
  kind      text NOT NULL
            CHECK (kind IN ('text', 'buttons', 'wait_reply', 'branch', 'handover', 'end')),
  config    jsonb NOT NULL DEFAULT '{}'::jsonb,
  next_step text,
  PRIMARY KEY (flow_id, step_key),
  UNIQUE (flow_id, position),
  FOREIGN KEY (tenant_id, flow_id) REFERENCES flows (tenant_id, id) ON DELETE CASCADE,
  -- Deferred: replacing a flow's steps deletes and inserts them in one transaction, in any
  -- order.
  FOREIGN KEY (flow_id, next_step) REFERENCES flow_steps (flow_id, step_key)
    DEFERRABLE INITIALLY DEFERRED
);

-- conversation_states references conversations by (tenant_id, id), like the tables above.
ALTER TABLE conversations ADD CONSTRAINT conversations_tenant_id_id_key UNIQUE (tenant_id, id);

CREATE TABLE conversation_states (
  conversation_id uuid PRIMARY KEY,
  tenant_id       uuid NOT NULL,
  flow_id         uuid,
  step_key        text,
  status          text NOT NULL DEFAULT 'idle'
                  CHECK (status IN ('idle', 'in_flow', 'waiting_reply', 'handed_over')),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id)
    ON DELETE CASCADE,
  -- A deleted flow leaves the conversation without one; the engine reads a state in a flow
  -- that no longer exists as idle.
  FOREIGN KEY (tenant_id, flow_id) REFERENCES flows (tenant_id, id) ON DELETE SET NULL (flow_id)
);
CREATE INDEX conversation_states_flow ON conversation_states (flow_id) WHERE flow_id IS NOT NULL;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenant_modules', 'flows', 'flow_steps', 'conversation_states']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I
         USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)
         WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
  END LOOP;
END
$$;

GRANT SELECT ON modules TO switchyard_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_modules, flows, flow_steps, conversation_states
  TO switchyard_app;
