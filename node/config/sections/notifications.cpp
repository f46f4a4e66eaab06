// notifications.*: the notification service's pushers.
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

// RFC 8292 2.1: the JWT's sub is a mailto: or https: contact URI.
bool ValidVapidSubject(std::string_view s) {
  auto starts = [s](std::string_view p) { return s.size() > p.size() && s.substr(0, p.size()) == p; };
  return s.empty() || starts("mailto:") || starts("https://");
}

const Key kKeys[] = {
    {"allow_private_endpoints", BoolField{GC_CONFIG_REF(notifications.allow_private_endpoints)},
     "Pusher URLs and Web Push endpoints may be http:// and private or loopback addresses (tests only)."},
    {"push_concurrency", IntField{GC_CONFIG_REF(notifications.push_concurrency), 1, 64},
     "Webhook and Web Push POSTs in flight at once (at most one per pusher)."},
    {"vapid_subject", StringField{GC_CONFIG_REF(notifications.vapid_subject), ValidVapidSubject,
                                  "a mailto: or https:// contact, or empty"},
     "Web Push: the contact push services may use about this node (VAPID sub); empty: https://NODE_NAME."},
    {"webpush_ttl_s", IntField{GC_CONFIG_REF(notifications.webpush_ttl_s), 0, 2419200},
     "Web Push: how long a push service keeps a notification for an offline browser (TTL, seconds)."},
};

}  // namespace

Section NotificationsConfigSection() {
  return {"notifications", "Notification pushers (webhooks, Web Push): where the node may POST, how many at once, and what Web Push says.", kKeys};
}

}  // namespace gc::config
