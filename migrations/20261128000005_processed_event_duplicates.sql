-- How many more times an event reached a worker after it was applied: a provider retrying
-- the same webhook, the queue delivering it again (a lost lease or acknowledgement), a replay.
-- Each one was absorbed by the dedup key; a steady zero means no work was repeated.
ALTER TABLE processed_events ADD COLUMN duplicates integer NOT NULL DEFAULT 0;
