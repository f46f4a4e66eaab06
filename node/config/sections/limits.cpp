// limits.*: sizes of what users send.
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

const Key kLimitsKeys[] = {
    {"max_message_bytes", Int64Field{GC_CONFIG_REF(limits.max_message_bytes), 1, 1048576},
     "Largest message body in bytes."},
    {"max_upload_bytes", Int64Field{GC_CONFIG_REF(limits.max_upload_bytes), 1, 4294967296LL},
     "Largest media upload in bytes."},
};

}  // namespace

Section LimitsConfigSection() { return {"limits", "Size limits on what users send.", kLimitsKeys}; }

}  // namespace gc::config
