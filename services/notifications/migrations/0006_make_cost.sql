-- What the notification worker's statement (kNotifMake in
-- services/notifications/notification_service.cpp) reads once per
-- statement instead of once per member of each event's group:
--
-- the deactivated users (a hashed subplan; a member is local by its
-- address, and only these few are excluded),
CREATE INDEX users_deactivated ON users (local_part) WHERE deactivated_at IS NOT NULL;
-- the per-group levels of the groups in the range,
CREATE INDEX notification_group_levels_by_group ON notification_group_levels (group_id);
-- and the settings that differ from the defaults (level `all`, no DND).
CREATE INDEX notification_settings_special ON notification_settings (user_id)
  WHERE default_level <> 'all' OR dnd_until IS NOT NULL;
