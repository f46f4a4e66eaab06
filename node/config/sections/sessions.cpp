// sessions.*: how long a login lasts.
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

const Key kKeys[] = {
    {"idle_timeout_s", Int64Field{GC_CONFIG_REF(sessions.idle_timeout_s), 0, 315360000},
     "A session unused this many seconds ends (its token, tickets and streams); 0: never."},
};

}  // namespace

Section SessionsConfigSection() { return {"sessions", "Login sessions.", kKeys}; }

}  // namespace gc::config
