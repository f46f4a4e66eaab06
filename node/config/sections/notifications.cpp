// notifications.*: the notification service's pushers.
#include "node/config/config_checks.h"
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

bool ValidSmtpUrl(std::string_view s) {
  return s.empty() || ((s.rfind("smtp://", 0) == 0 || s.rfind("smtps://", 0) == 0) &&
                       s.find_first_of("\r\n ") == std::string_view::npos);
}
// No line breaks: the value becomes the From header as it is.
bool ValidFrom(std::string_view s) { return s.find_first_of("\r\n") == std::string_view::npos && s.size() <= 256; }
bool ValidOptionalBaseUrl(std::string_view s) { return s.empty() || ValidBaseUrl(s); }

const Key kKeys[] = {
    {"allow_private_endpoints", BoolField{GC_CONFIG_REF(notifications.allow_private_endpoints)},
     "Pusher URLs may be http:// and private or loopback addresses (tests only)."},
    {"push_concurrency", IntField{GC_CONFIG_REF(notifications.push_concurrency), 1, 64},
     "Webhook POSTs in flight at once (at most one per pusher)."},
    {"email.smtp_url", StringField{GC_CONFIG_REF(notifications.email.smtp_url), ValidSmtpUrl,
                                   "empty, or an smtp:// or smtps:// URL"},
     "SMTP server for missed-mention mail (smtp://host:587 uses STARTTLS when offered; user:password@ "
     "authenticates; shown without the password); empty: no email."},
    {"email.from", StringField{GC_CONFIG_REF(notifications.email.from), ValidFrom,
                               "a From address such as \"GroupChat <chat@acme.test>\" on one line"},
     "From header of the mails; its address is also the SMTP envelope sender (required with smtp_url)."},
    {"email.delay_s", IntField{GC_CONFIG_REF(notifications.email.delay_s), 0, 604800},
     "A mention or reply still unread this many seconds after it was made is mailed (batched per user)."},
    {"email.public_url", StringField{GC_CONFIG_REF(notifications.email.public_url), ValidOptionalBaseUrl,
                                     "empty, or an http:// or https:// URL"},
     "Base URL of the links in mails (message, unsubscribe), as users reach the node; empty: http://<http.listen>."},
};

}  // namespace

Section NotificationsConfigSection() {
  return {"notifications", "Notification pushers (webhooks) and email: where the node may POST, how many at once, and the SMTP relay.", kKeys};
}

}  // namespace gc::config
