-- A conversation's sends leave in the order they were queued: a row is not claimed while an
-- earlier row of its conversation is still pending or being sent (see `outbox::claim`). This
-- index finds those earlier rows.
CREATE INDEX outbox_conversation_open ON outbox (conversation_id, created_at, id)
  WHERE status IN ('pending', 'sending');
