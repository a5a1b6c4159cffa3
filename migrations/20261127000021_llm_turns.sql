-- LLM turns: a conversation's pending answer by the LLM.
--
-- An inbound message that no flow takes schedules a turn instead of calling the LLM inside the
-- event's transaction: the turn is due a short window later, and every message the customer
-- sends meanwhile (an album, a message typed in pieces) joins the same pending turn and pushes
-- it back — up to a cap from its first message — so one LLM call answers them all. A runner
-- claims due turns, builds the prompt from the conversation's history, calls the LLM, and
-- queues the reply in the outbox.
CREATE TABLE llm_turns (
  id               uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'done', 'failed')),
  -- When the turn runs; pushed back by each message that joins it, never past `latest_at`.
  due_at           timestamptz NOT NULL,
  latest_at        timestamptz NOT NULL,
  messages         integer NOT NULL DEFAULT 1,
  attempts         integer NOT NULL DEFAULT 0,
  claimed_until    timestamptz,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX llm_turns_one_pending ON llm_turns (conversation_id) WHERE status = 'pending';
CREATE INDEX llm_turns_due ON llm_turns (due_at) WHERE status IN ('pending', 'running');

ALTER TABLE llm_turns ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_turns
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON llm_turns TO switchyard_app;

-- Due turns across tenants, round-robin like the outbox; a running turn whose claim lapsed (its
-- worker stopped) is due again.
CREATE FUNCTION llm_turns_due(p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT d.tenant_id, d.id FROM (
    SELECT t.tenant_id, t.id, t.due_at,
           row_number() OVER (PARTITION BY t.tenant_id ORDER BY t.due_at) AS turn
    FROM llm_turns t
    WHERE (t.status = 'pending' AND t.due_at <= now())
       OR (t.status = 'running' AND t.claimed_until < now())
  ) d
  ORDER BY d.turn, d.due_at
  LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION llm_turns_due(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION llm_turns_due(integer) TO switchyard_app;
