-- Replaying dead letters and unroutable events.

-- Dead letters are listed, and replayed in bulk, in id order (the envelope ids are UUIDv7, so
-- that is the order the events arrived in): a page of the list is what a bulk replay walks
-- through. These indexes replace the ones by last failure, which no query orders by.
DROP INDEX dead_letters_listing;
DROP INDEX dead_letters_recent;
CREATE INDEX dead_letters_by_tenant ON dead_letters (tenant_id, status, id);
CREATE INDEX dead_letters_by_status ON dead_letters (status, id);

-- The replayer holding a running job's lease (each ingress replica has its own id). Progress
-- is written only by the holder, so a replica that stalled past its lease and woke up cannot
-- move a job another replica has taken over.
ALTER TABLE replay_jobs ADD COLUMN lease_owner uuid;

-- The tenant whose own key verified an unroutable event (a tenant's own Meta app secret,
-- Telnyx public key or Twilio auth token); NULL when the platform's key or Google's push token
-- did, and for events recorded before this column. A replay routes the event to that tenant
-- only: a tenant's key speaks for no other tenant, when the event arrives or later. Not a
-- foreign key: an event vouched for by a tenant that was deleted must stay unroutable, not
-- become the platform's.
ALTER TABLE unroutable_events ADD COLUMN signer_tenant_id uuid;
CREATE INDEX unroutable_events_pending ON unroutable_events (id) WHERE replayed_at IS NULL;
