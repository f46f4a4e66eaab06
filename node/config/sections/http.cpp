// http.*: the one HTTP port (REST API, WebSocket stream, web client, console).
#include "node/config/config_checks.h"
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

bool ValidHttpListen(std::string_view s) { return IsHostPort(s, /*allow_star=*/false); }

const Key kHttpKeys[] = {
    {"listen", StringField{GC_CONFIG_REF(http.listen), ValidHttpListen,
                           "host:port (IPv4, [IPv6] or hostname; port 0 to 65535)"},
     "Address of the REST API, the stream, the web client and the admin console; port 0 picks a free one."},
    {"threads", IntField{GC_CONFIG_REF(http.threads), 1, 64}, "I/O threads."},
    {"workers", IntField{GC_CONFIG_REF(http.workers), 1, 256}, "Threads for blocking work such as database calls."},
    {"max_connections", IntField{GC_CONFIG_REF(http.max_connections), 1, 1000000},
     "Open HTTP connections before new ones get 503 (streams count in stream.max_connections)."},
    {"max_connections_per_ip", IntField{GC_CONFIG_REF(http.max_connections_per_ip), 1, 1000000},
     "Open connections from one client address, streams included; trusted proxies are not limited."},
    {"header_timeout_ms", IntField{GC_CONFIG_REF(http.header_timeout_ms), 100, 600000},
     "Milliseconds within which a whole request head must arrive."},
    {"idle_timeout_s", IntField{GC_CONFIG_REF(http.idle_timeout_s), 1, 86400},
     "Seconds an idle keep-alive connection stays open."},
    {"max_body_bytes", IntField{GC_CONFIG_REF(http.max_body_bytes), 1024, 1073741824},
     "Largest JSON request body in bytes (uploads use limits.max_upload_bytes)."},
    {"trusted_proxies", ListField{GC_CONFIG_REF(http.trusted_proxies), IsIpAddress, "an IP address"},
     "Reverse proxies whose X-Forwarded-For header is believed."},
    {"web_dir", StringField{GC_CONFIG_REF(http.web_dir), NonEmpty, "a directory path"},
     "Directory of the web client served at / (relative to the working directory)."},
    {"admin_dir", StringField{GC_CONFIG_REF(http.admin_dir), NonEmpty, "a directory path"},
     "Directory of the admin console served at /admin/."},
};

}  // namespace

Section HttpConfigSection() {
  return {"http", "The HTTP port: REST API, WebSocket stream, web client and admin console.", kHttpKeys};
}

}  // namespace gc::config
