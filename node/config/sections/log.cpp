// log.*: what the node writes to stderr.
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

bool ValidLogLevel(std::string_view s) { return s == "debug" || s == "info" || s == "warn" || s == "error"; }

const Key kLogKeys[] = {
    {"level", StringField{GC_CONFIG_REF(log.level), ValidLogLevel, "debug, info, warn or error"},
     "Lowest level written to stderr."},
    {"access", BoolField{GC_CONFIG_REF(log.access)}, "One JSON line per HTTP request."},
};

}  // namespace

Section LogConfigSection() { return {"log", "Logging (JSON lines on stderr).", kLogKeys}; }

}  // namespace gc::config
