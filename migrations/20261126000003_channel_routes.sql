-- Tenant resolution for SMS and voice webhooks: which tenant's channels claim a routing key
-- (`phone:+1555…`, `telnyx-connection:…`), and whether each is active. Ids and flags only;
-- the ingress reads a tenant's verification keys through row-level security afterwards.
CREATE FUNCTION channel_route(p_key text)
RETURNS TABLE (tenant_id uuid, channel text, is_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT tenant_id, channel, is_active FROM channel_configs
  WHERE routing_keys @> ARRAY[p_key]
  ORDER BY channel
$$;

REVOKE ALL ON FUNCTION channel_route(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION channel_route(text) TO switchyard_app;
