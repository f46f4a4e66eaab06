// node.*: who this node is and where it keeps its files.
#include "node/config/config_checks.h"
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

const Key kNodeKeys[] = {
    {"name", StringField{GC_CONFIG_REF(node.name), ValidServerName, kServerNameExpect},
     "Server name, part of every address (@alice:acme.test); do not change it once users exist.",
     /*required=*/true},
    {"data_dir", StringField{GC_CONFIG_REF(node.data_dir), NonEmpty, "a non-empty directory path"},
     "Directory for keys, media and the embedded database (relative to the working directory).",
     /*required=*/true},
};

}  // namespace

Section NodeConfigSection() { return {"node", "The node's identity and its data directory.", kNodeKeys}; }

}  // namespace gc::config
