-- A tenant's LLM settings, and the token use of every LLM call (for budgets and reports).

-- No row means every default: the platform's model, no budget, no fallback text, enabled.
CREATE TABLE tenant_llm_settings (
  tenant_id            uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  model                text CHECK (model ~ '^[a-z0-9][a-z0-9.-]{0,63}$'),  -- NULL: GEMINI_MODEL
  monthly_token_budget bigint CHECK (monthly_token_budget BETWEEN 0 AND 1000000000000),  -- NULL: unlimited
  fallback_text        text CHECK (octet_length(fallback_text) BETWEEN 1 AND 4096),
  llm_enabled          boolean NOT NULL DEFAULT true,
  updated_at           timestamptz NOT NULL DEFAULT now()
);

-- One row per LLM call, written by the worker that made it. `total_tokens` is the provider's
-- own total (Gemini counts thinking and tool-use prompt tokens in it), so it can exceed
-- prompt + output; budgets count it. Months are calendar months in UTC.
CREATE TABLE llm_usage (
  id              uuid PRIMARY KEY,
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  conversation_id uuid REFERENCES conversations (id) ON DELETE SET NULL,
  model           text NOT NULL CHECK (model ~ '^[a-z0-9][a-z0-9.-]{0,63}$'),
  prompt_tokens   bigint NOT NULL CHECK (prompt_tokens >= 0),
  output_tokens   bigint NOT NULL CHECK (output_tokens >= 0),
  total_tokens    bigint NOT NULL CHECK (total_tokens >= 0),
  outcome         text NOT NULL CHECK (outcome IN ('ok', 'blocked', 'failed', 'over_budget')),
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- Monthly sums per tenant read the index only.
CREATE INDEX llm_usage_tenant_month ON llm_usage (tenant_id, created_at)
  INCLUDE (total_tokens, prompt_tokens, output_tokens, outcome);
CREATE INDEX llm_usage_conversation ON llm_usage (conversation_id)
  WHERE conversation_id IS NOT NULL;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenant_llm_settings', 'llm_usage']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I
         USING (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)
         WITH CHECK (tenant_id = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
  END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_llm_settings TO switchyard_app;
-- Usage is a ledger: written once, never changed by the application.
GRANT SELECT, INSERT ON llm_usage TO switchyard_app;
