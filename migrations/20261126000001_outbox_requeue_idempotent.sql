-- A send whose worker stopped mid-call may or may not have reached the provider. For most
-- channels it is never sent again (that could send twice) and is marked 'unknown' for an
-- operator. SMS goes through Telnyx with the outbox row id as Idempotency-Key: Telnyx answers
-- a repeated request with the message it already accepted, so such a row goes back to
-- 'pending' and is sent again, safely. Returns how many rows were marked 'unknown'.
CREATE OR REPLACE FUNCTION outbox_mark_abandoned()
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
  WITH requeued AS (
    UPDATE outbox SET status = 'pending', claimed_until = NULL, next_attempt_at = now(),
           updated_at = now(),
           last_error = 'the worker stopped during the send; sent again under the same Idempotency-Key'
    WHERE status = 'sending' AND claimed_until < now() AND channel = 'sms'
    RETURNING 1
  ), abandoned AS (
    UPDATE outbox SET status = 'unknown', updated_at = now(),
           last_error = 'the worker stopped during the send; not retried, to never send twice'
    WHERE status = 'sending' AND claimed_until < now() AND channel <> 'sms'
    RETURNING 1
  )
  SELECT count(*)::integer FROM abandoned
$$;
