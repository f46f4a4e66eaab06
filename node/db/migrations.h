// Schema migrations: numbered SQL files per service, compiled into the binary.
//
// services/<svc>/migrations/NNNN_name.sql is the only source of a service's
// schema. At start (and with `groupchat migrate`) every migration not yet
// recorded in schema_migrations is applied in its own transaction together
// with its record, under an advisory lock so that several processes sharing
// one database never apply the same migration twice.
#pragma once

#include <vector>

#include "node/common/result.h"

namespace gc {

class PgPool;

struct Migration {
  const char* service;
  int version;
  const char* name;
  const char* sql;
};

// Every migration, in the order it must be applied: services by dependency
// (users before groups, ...), then by version.
std::vector<Migration> OrderedMigrations();

// Applies pending migrations; returns how many were applied.
Result<int> ApplyMigrations(PgPool& pool);

// Generated at build time (cmake/embed_migrations.cmake).
const std::vector<Migration>& EmbeddedMigrations();

}  // namespace gc
