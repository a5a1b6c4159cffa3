-- A tenant's connected Gmail mailbox: where its sync stands and how its connection is doing.
-- The address, the OAuth tokens (sealed) and the routing key live in the `email` channel
-- config; this row holds what changes as the mailbox is used: the history cursor (only ever
-- moves forward), when the `users.watch` lapses (Gmail requires renewing it at least every
-- 7 days), when the access token expires, and whether the owner must consent again (a revoked
-- refresh token is not retried).
CREATE TABLE gmail_mailboxes (
  tenant_id               uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  address                 text NOT NULL,
  history_id              bigint NOT NULL,
  watch_expires_at        timestamptz,
  access_token_expires_at timestamptz,
  status                  text NOT NULL DEFAULT 'active'
                          CHECK (status IN ('active', 'needs_consent')),
  last_error              text,
  connected_at            timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE gmail_mailboxes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON gmail_mailboxes
  USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON gmail_mailboxes TO switchyard_app;
