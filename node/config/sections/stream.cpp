// stream.*: the real-time WebSocket stream.
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

const Key kStreamKeys[] = {
    {"max_connections", IntField{GC_CONFIG_REF(stream.max_connections), 1, 1000000},
     "Open streams at once; past it new ones get HTTP 503."},
    {"send_queue_bytes", IntField{GC_CONFIG_REF(stream.send_queue_bytes), 4096, 268435456},
     "Bytes queued for one client before it is dropped as too slow (close code 4001)."},
    {"max_frame_bytes", IntField{GC_CONFIG_REF(stream.max_frame_bytes), 256, 1048576},
     "Largest frame a client may send, in bytes."},
    {"idle_timeout_s", IntField{GC_CONFIG_REF(stream.idle_timeout_s), 5, 3600},
     "Seconds without any traffic before the stream is closed; the server pings at half of it."},
    {"typing_ttl_s", IntField{GC_CONFIG_REF(stream.typing_ttl_s), 1, 60},
     "Seconds a typing notification lasts unless refreshed."},
};

}  // namespace

Section StreamConfigSection() {
  return {"stream", "The real-time stream (WebSocket at /api/v1/stream on http.listen).", kStreamKeys};
}

}  // namespace gc::config
