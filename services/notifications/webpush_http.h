// HTTP route of Web Push: GET /api/v1/push/vapid-public-key, the key a
// browser subscribes with (services/notifications/webpush.h). Pushers
// themselves are registered at /api/v1/me/pushers (notifications_http.h).
#pragma once

namespace gc {

class Router;
class WebPushSender;

void AddWebPushRoutes(Router& router, const WebPushSender& webpush);

}  // namespace gc
