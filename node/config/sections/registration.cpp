// registration.*: who may create an account.
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

bool ValidRegistrationMode(std::string_view s) { return s == "open" || s == "invite" || s == "closed"; }

const Key kRegistrationKeys[] = {
    {"mode", StringField{GC_CONFIG_REF(registration.mode), ValidRegistrationMode, "open, invite or closed"},
     "open: anyone; invite: an invite token is needed; closed: admins only."},
};

}  // namespace

Section RegistrationConfigSection() { return {"registration", "Account registration.", kRegistrationKeys}; }

}  // namespace gc::config
