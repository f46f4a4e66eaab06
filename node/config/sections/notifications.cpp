// notifications.*: the notification service's pushers.
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

const Key kKeys[] = {
    {"allow_private_endpoints", BoolField{GC_CONFIG_REF(notifications.allow_private_endpoints)},
     "Pusher URLs may be http:// and private or loopback addresses (tests only)."},
    {"push_concurrency", IntField{GC_CONFIG_REF(notifications.push_concurrency), 1, 64},
     "Webhook POSTs in flight at once (at most one per pusher)."},
};

}  // namespace

Section NotificationsConfigSection() {
  return {"notifications", "Notification pushers (webhooks): where the node may POST and how many at once.", kKeys};
}

}  // namespace gc::config
