#include "services/notifications/webpush_http.h"

#include "node/http/json_body.h"
#include "node/http/router.h"
#include "services/notifications/webpush.h"

namespace gc {

void AddWebPushRoutes(Router& router, const WebPushSender& webpush) {
  // GET /api/v1/push/vapid-public-key -> {public_key}: the uncompressed P-256
  // point, base64url, as PushManager.subscribe's applicationServerKey takes
  // it. Public (it is in every push the node sends), so no token is needed.
  RouteOptions open;
  open.auth = false;
  open.fast = true;
  std::string key = webpush.public_key();
  router.Add("GET", "/api/v1/push/vapid-public-key", open,
             [key](RequestContext&) { return JsonResponse(200, {{"public_key", key}}); });
}

}  // namespace gc
