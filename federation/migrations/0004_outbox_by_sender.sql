-- The outbox sends each (home, sender)'s events one at a time, in id order
-- (9.6): it looks up the first pending event of each.
CREATE INDEX fed_outbox_sender_pending ON fed_outbox (peer, sender, id) WHERE state = 'pending';
