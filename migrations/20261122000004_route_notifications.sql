-- Every ingress replica caches tenant routes in memory. A change to a routing row notifies
-- channel `switchyard_routes` with `{channel}:{routing key}`, and each replica forgets that key.
CREATE FUNCTION notify_whatsapp_route_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM pg_notify('switchyard_routes', 'whatsapp:' || OLD.phone_number_id);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM pg_notify('switchyard_routes', 'whatsapp:' || NEW.phone_number_id);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER whatsapp_route_change
  AFTER INSERT OR UPDATE OR DELETE ON whatsapp_channels
  FOR EACH ROW EXECUTE FUNCTION notify_whatsapp_route_change();
