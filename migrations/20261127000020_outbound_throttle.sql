-- Outbound throttling.
--
-- 1. Per-sender throughput: every send takes a slot from its sender's bucket first (a WhatsApp
--    number, a Telnyx number). The buckets use GCRA: `tat` is the bucket's theoretical arrival
--    time; a send is allowed while tat + emission - now <= burst * emission, and pushes tat one
--    emission interval forward. The table holds provider sender ids only and is reached through
--    `take_send_slot`, shared by every worker, so the limit holds across workers.
-- 2. A WhatsApp number's own limit (Meta's default is 80 messages/s; higher tiers exist).
-- 3. Fairness: the relay picks due rows round-robin across tenants, so one tenant's backlog
--    cannot fill every batch while another tenant's live replies wait.
CREATE TABLE send_rate_buckets (
  bucket text PRIMARY KEY,
  tat    timestamptz NOT NULL
);

-- Seconds to wait before a slot is free in `p_bucket` at `p_per_second` with bursts of
-- `p_burst`; 0 when a slot was taken now.
CREATE FUNCTION take_send_slot(p_bucket text, p_per_second double precision, p_burst integer)
RETURNS double precision
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
  v_emission double precision := 1.0 / greatest(p_per_second, 0.001);
  v_tolerance double precision := v_emission * greatest(p_burst, 1);
  v_now timestamptz := clock_timestamp();
  v_tat timestamptz;
  v_ahead double precision;
BEGIN
  INSERT INTO send_rate_buckets AS b (bucket, tat) VALUES (p_bucket, v_now)
  ON CONFLICT (bucket) DO NOTHING;
  SELECT greatest(b.tat, v_now) INTO v_tat FROM send_rate_buckets b
  WHERE b.bucket = p_bucket FOR UPDATE;
  v_ahead := extract(epoch FROM (v_tat - v_now)) + v_emission;
  IF v_ahead > v_tolerance THEN
    RETURN v_ahead - v_tolerance;
  END IF;
  UPDATE send_rate_buckets SET tat = v_tat + make_interval(secs => v_emission)
  WHERE bucket = p_bucket;
  RETURN 0;
END
$$;
REVOKE ALL ON FUNCTION take_send_slot(text, double precision, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION take_send_slot(text, double precision, integer) TO switchyard_app;

ALTER TABLE whatsapp_channels
  ADD COLUMN messages_per_second integer CHECK (messages_per_second BETWEEN 1 AND 1000);

CREATE INDEX outbox_tenant_due ON outbox (tenant_id, next_attempt_at) WHERE status = 'pending';

CREATE OR REPLACE FUNCTION outbox_due(p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  WITH waiting AS (
    SELECT DISTINCT o.tenant_id FROM outbox o
    WHERE o.status = 'pending' AND o.next_attempt_at <= now()
  )
  SELECT w.tenant_id, r.id FROM waiting w
  CROSS JOIN LATERAL (
    SELECT o.id, o.next_attempt_at,
           row_number() OVER (ORDER BY o.next_attempt_at) AS turn
    FROM outbox o
    WHERE o.tenant_id = w.tenant_id AND o.status = 'pending' AND o.next_attempt_at <= now()
    ORDER BY o.next_attempt_at
    LIMIT p_limit
  ) r
  ORDER BY r.turn, r.next_attempt_at
  LIMIT p_limit
$$;
