-- Web Push pushers (services/notifications/webpush.h): a browser's
-- PushSubscription is a pusher of kind 'webpush' whose url is the
-- subscription's endpoint and whose keys are stored beside it (unpadded
-- base64url). A webpush pusher has no secret (the column holds '').

ALTER TABLE pushers DROP CONSTRAINT pushers_kind_check;
ALTER TABLE pushers ADD CONSTRAINT pushers_kind_check CHECK (kind IN ('webhook', 'webpush'));
ALTER TABLE pushers ADD COLUMN p256dh text;  -- the subscription's P-256 public key
ALTER TABLE pushers ADD COLUMN auth text;    -- its 16-byte authentication secret
ALTER TABLE pushers ADD CONSTRAINT pushers_webpush_keys
  CHECK (kind <> 'webpush' OR (p256dh IS NOT NULL AND auth IS NOT NULL));
-- A browser's endpoint belongs to the user who registered it last.
CREATE INDEX pushers_url ON pushers (url);
