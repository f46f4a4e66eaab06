// SQL that both the group log's readers (group_log.cpp) and its writer
// (group_log_writer.cpp) run. Private to the group log.
#pragma once

#include "node/db/pg.h"

namespace gc {

GC_SQL(kFindGroup, "SELECT id FROM groups WHERE address = $1 AND deleted_at IS NULL");

}  // namespace gc
