-- Email conversations follow the mailbox's threads, not the contact: one customer can have
-- several threads with a tenant, and a thread is one conversation whoever writes in it. A
-- conversation with a `thread_key` (the Gmail `threadId`) is unique per tenant, channel and
-- thread; one without (WhatsApp, SMS, voice) stays unique per tenant, channel and contact.
ALTER TABLE conversations ADD COLUMN thread_key text;
ALTER TABLE conversations DROP CONSTRAINT conversations_tenant_id_channel_contact_id_key;
CREATE UNIQUE INDEX conversations_tenant_channel_contact
  ON conversations (tenant_id, channel, contact_id) WHERE thread_key IS NULL;
CREATE UNIQUE INDEX conversations_tenant_channel_thread
  ON conversations (tenant_id, channel, thread_key) WHERE thread_key IS NOT NULL;
