-- The mailboxes whose Gmail watch lapses before a given time (or whose expiry is unknown):
-- the worker's renewal job reads them across tenants, then renews each in its tenant's
-- transaction. Tenant ids only.
CREATE FUNCTION gmail_watches_due(p_before timestamptz, p_limit integer)
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT tenant_id FROM gmail_mailboxes
  WHERE status = 'active' AND (watch_expires_at IS NULL OR watch_expires_at < p_before)
  ORDER BY watch_expires_at NULLS FIRST
  LIMIT p_limit
$$;

REVOKE ALL ON FUNCTION gmail_watches_due(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gmail_watches_due(timestamptz, integer) TO switchyard_app;
