-- The trace context of the event that queued a delivery, so its attempts join that event's trace
-- although a background worker makes them, possibly much later.
ALTER TABLE deliveries ADD COLUMN trace jsonb NOT NULL DEFAULT '{}';
