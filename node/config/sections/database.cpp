// database.*: the PostgreSQL connection, or the embedded cluster.
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

bool ValidDatabaseUrl(std::string_view s) {
  if (s.empty()) return true;
  if (s.substr(0, 13) == "postgresql://" || s.substr(0, 11) == "postgres://") return true;
  return s.find('=') != std::string_view::npos;  // key=value conninfo
}

const Key kDatabaseKeys[] = {
    {"url", StringField{GC_CONFIG_REF(database.url), ValidDatabaseUrl,
                        "empty, a postgresql:// URL or a key=value connection string"},
     "PostgreSQL connection; empty: an embedded cluster under data_dir/pg, started by the node."},
    {"pool_size", IntField{GC_CONFIG_REF(database.pool_size), 1, 256}, "Database connections kept open."},
    {"connect_timeout_s", IntField{GC_CONFIG_REF(database.connect_timeout_s), 1, 600},
     "Seconds to wait for a database connection."},
    {"pg_bin_dir", StringField{GC_CONFIG_REF(database.pg_bin_dir), nullptr, "a string"},
     "PostgreSQL programs for the embedded cluster; empty: auto-detect /usr/lib/postgresql/VERSION/bin."},
};

}  // namespace

Section DatabaseConfigSection() { return {"database", "The PostgreSQL database.", kDatabaseKeys}; }

}  // namespace gc::config
