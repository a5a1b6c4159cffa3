-- SMS (Telnyx, legacy Twilio), voice (Telnyx call control / AI assistant) and email (Gmail)
-- configuration. Non-secret settings are plain JSON; secrets are sealed one by one. The
-- routing keys a config claims (phone numbers, a connection id, an email address) are listed
-- in routing_keys: a key belongs to at most one tenant (checked under an advisory lock by
-- tenancy code through routing_key_owner), and may serve several channels of that tenant.
CREATE TABLE channel_configs (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  channel      text NOT NULL CHECK (channel IN ('sms', 'voice', 'email')),
  settings     jsonb NOT NULL DEFAULT '{}'::jsonb,
  secrets      jsonb NOT NULL DEFAULT '{}'::jsonb,
  routing_keys text[] NOT NULL DEFAULT '{}',
  is_active    boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, channel)
);
CREATE INDEX channel_configs_routing_keys ON channel_configs USING gin (routing_keys);

ALTER TABLE channel_configs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON channel_configs
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON channel_configs TO switchyard_app;

-- Which tenant claims a routing key (id only).
CREATE FUNCTION routing_key_owner(p_key text)
RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT tenant_id FROM channel_configs WHERE routing_keys @> ARRAY[p_key] LIMIT 1 $$;

-- Platform statistics: tenants per channel, active and inactive.
CREATE FUNCTION platform_channel_stats()
RETURNS TABLE (channel text, active bigint, inactive bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  SELECT 'whatsapp', count(*) FILTER (WHERE is_active), count(*) FILTER (WHERE NOT is_active)
  FROM whatsapp_channels
  UNION ALL
  SELECT c.channel, count(*) FILTER (WHERE is_active), count(*) FILTER (WHERE NOT is_active)
  FROM (VALUES ('sms'), ('voice'), ('email')) AS c (channel)
  LEFT JOIN channel_configs cc ON cc.channel = c.channel
  GROUP BY c.channel
$$;

REVOKE ALL ON FUNCTION routing_key_owner(text), platform_channel_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION routing_key_owner(text), platform_channel_stats() TO switchyard_app;

CREATE FUNCTION notify_channel_route_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE k text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    FOREACH k IN ARRAY OLD.routing_keys LOOP
      PERFORM pg_notify('switchyard_routes', OLD.channel || ':' || k);
    END LOOP;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    FOREACH k IN ARRAY NEW.routing_keys LOOP
      PERFORM pg_notify('switchyard_routes', NEW.channel || ':' || k);
    END LOOP;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER channel_route_change
  AFTER INSERT OR UPDATE OR DELETE ON channel_configs
  FOR EACH ROW EXECUTE FUNCTION notify_channel_route_change();
