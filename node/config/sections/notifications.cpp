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
// RFC 8292 2.1: the JWT's sub is a mailto: or https: contact URI.
bool ValidVapidSubject(std::string_view s) {
  auto starts = [s](std::string_view p) { return s.size() > p.size() && s.substr(0, p.size()) == p; };
  return s.empty() || starts("mailto:") || starts("https://");
}

const Key kNotificationsKeys[] = {
    {"allow_private_endpoints", BoolField{GC_CONFIG_REF(notifications.allow_private_endpoints)},
     "Pusher URLs and Web Push endpoints may be http:// and private or loopback addresses (tests only). "
     "https:// is always verified against the system's CAs, or the file named by SSL_CERT_FILE."},
    {"push_concurrency", IntField{GC_CONFIG_REF(notifications.push_concurrency), 1, 64},
     "Webhook and Web Push POSTs in flight at once (at most one per pusher)."},
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
    {"vapid_subject", StringField{GC_CONFIG_REF(notifications.vapid_subject), ValidVapidSubject,
                                  "a mailto: or https:// contact, or empty"},
     "Web Push: the contact push services may use about this node (VAPID sub); empty: https://NODE_NAME."},
    {"webpush_ttl_s", IntField{GC_CONFIG_REF(notifications.webpush_ttl_s), 0, 2419200},
     "Web Push: how long a push service keeps a notification for an offline browser (TTL, seconds)."},
};

}  // namespace

Section NotificationsConfigSection() {
  return {"notifications", "Notification pushers (webhooks, Web Push) and email: where the node may POST, how many at once, what Web Push says, and the SMTP relay.", kNotificationsKeys};
}

}  // namespace gc::config
