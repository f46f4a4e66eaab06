// SearchIndexStore: what the search indexer (search_index.h) reads from and
// writes to storage: its cursor, and one round of indexing. PgSearchIndexStore
// (pg_search_index_store.h) keeps it in PostgreSQL (tables event_search and
// search_cursor); the indexer holds no SQL.
//
// Every call may block on the database and is thread-safe. Errors are
// kUnavailable/kInternal from the database.
#pragma once

#include <cstdint>

#include "node/common/result.h"

namespace gc {

class SearchIndexStore {
 public:
  virtual ~SearchIndexStore() = default;

  // The last stream position indexed (0 before the first round).
  virtual Result<int64_t> Cursor() = 0;
  // In one transaction: moves the cursor from lo - 1 to `hi` and brings the
  // index up to date for the events with lo <= stream_pos <= hi (new and
  // edited messages in, deleted ones out); answers `hi`. If the cursor was
  // not at lo - 1 (another process sharing the database indexed from
  // there), it changes nothing and answers where the cursor is. The commit
  // need not reach the disk before it returns: after a crash the cursor
  // and the rows of its last rounds are lost together, and indexed again.
  virtual Result<int64_t> IndexRound(int64_t lo, int64_t hi) = 0;
};

}  // namespace gc
