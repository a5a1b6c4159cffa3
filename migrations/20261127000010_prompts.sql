-- What the LLM is told: prompt bundles, each an ordered list of sections keyed by
-- `section_key`. The global bundle (tenant_id NULL) is inherited by every tenant; a tenant's
-- own bundle overrides global sections by key and adds its own (the merge is
-- `switchyard_shared::prompts::merge`).
--
-- Row-level security: a tenant reads the global rows and its own, and writes only its own
-- (the global rows fail every write policy, since NULL never equals the tenant). The global
-- bundle is written only by `platform_prompt_sections_replace`, which the platform-admin path
-- of the admin API calls.

CREATE TABLE prompt_sections (
  id          uuid PRIMARY KEY,
  tenant_id   uuid REFERENCES tenants (id) ON DELETE CASCADE,  -- NULL: the global bundle
  section_key text NOT NULL CHECK (section_key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
  position    integer NOT NULL CHECK (position BETWEEN 1 AND 100),
  content     text NOT NULL CHECK (octet_length(content) <= 32768),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
-- A key appears once per bundle. NULLs are distinct in a plain unique index, so the global
-- bundle has its own.
CREATE UNIQUE INDEX prompt_sections_global_key ON prompt_sections (section_key)
  WHERE tenant_id IS NULL;
CREATE UNIQUE INDEX prompt_sections_tenant_key ON prompt_sections (tenant_id, section_key)
  WHERE tenant_id IS NOT NULL;

ALTER TABLE prompt_sections ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON prompt_sections
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
-- Policies of one command are OR-ed: SELECT sees the global rows too, writes do not.
CREATE POLICY global_read ON prompt_sections FOR SELECT
  USING (tenant_id IS NULL);

-- Replace the global bundle with `p_keys`/`p_contents` in that order (positions 1..n). A
-- section whose content and position are unchanged keeps its `updated_at`. Concurrent calls
-- are serialized; the last one wins. The table's checks bound keys, content and count.
CREATE FUNCTION platform_prompt_sections_replace(p_ids uuid[], p_keys text[], p_contents text[])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
  IF cardinality(p_ids) <> cardinality(p_keys) OR cardinality(p_keys) <> cardinality(p_contents) THEN
    RAISE EXCEPTION 'ids, keys and contents differ in length' USING ERRCODE = '22023';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('prompt_sections:global', 0));
  DELETE FROM prompt_sections WHERE tenant_id IS NULL AND NOT (section_key = ANY (p_keys));
  INSERT INTO prompt_sections (id, tenant_id, section_key, position, content)
  SELECT i.id, NULL, i.section_key, i.position, i.content
  FROM unnest(p_ids, p_keys, p_contents) WITH ORDINALITY AS i(id, section_key, content, position)
  ON CONFLICT (section_key) WHERE tenant_id IS NULL DO UPDATE SET
    position = EXCLUDED.position,
    content = EXCLUDED.content,
    updated_at = CASE
      WHEN (prompt_sections.content, prompt_sections.position)
           IS NOT DISTINCT FROM (EXCLUDED.content, EXCLUDED.position)
      THEN prompt_sections.updated_at ELSE now() END;
END
$$;

REVOKE ALL ON FUNCTION platform_prompt_sections_replace(uuid[], text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_prompt_sections_replace(uuid[], text[], text[]) TO switchyard_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON prompt_sections TO switchyard_app;
