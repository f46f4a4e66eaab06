// HTTP routes of notifications: the inbox (/api/v1/me/notifications...),
// preferences (/api/v1/me/notification-settings and
// /api/v1/groups/{group_id}/notification-level), pushers (/api/v1/me/pushers), and the JSON of an entry,
// shared with the stream frames.
#pragma once

#include <nlohmann/json.hpp>

#include "services/notifications/notification_service.h"

namespace gc {

class Router;
class GroupService;
class PushSender;

// {notification_id, kind, group_id, event_id, sender, sender_display_name,
//  group_title, body_preview, created_at, read, withdrawn}
nlohmann::json NotificationJson(const Notification& n);

// Stream frames: {"type":"notification","notification":{...},"unread":N} for
// a new or withdrawn entry, {"type":"notification.read","unread":N} when
// entries were read on some device.
std::string NotificationFrame(const Notification& n, int64_t unread);
std::string NotificationReadFrame(int64_t unread);

void AddNotificationRoutes(Router& router, GroupService& groups, NotificationService& notifications,
                           PushSender& pushers);

}  // namespace gc
