// PgSearchIndexStore: the SearchIndexStore in PostgreSQL. Indexing runs in
// PostgreSQL itself (statements over the events table); the cursor is the
// one row of search_cursor (migrations/).
#pragma once

#include "services/messaging/search_index_store.h"

namespace gc {

class PgConn;
class PgPool;

class PgSearchIndexStore : public SearchIndexStore {
 public:
  explicit PgSearchIndexStore(PgPool& db) : db_(db) {}

  Result<int64_t> Cursor() override;
  Result<int64_t> IndexRound(int64_t lo, int64_t hi) override;

 private:
  PgPool& db_;
};

// Brings event_search up to date for the events with lo <= stream_pos <= hi,
// inside the caller's transaction on `c`, whether or not some of them were
// indexed before (backfilled history, which has negative positions below
// the cursor and may be stored again, uses this directly).
Status IndexSearchRange(PgConn& c, int64_t lo, int64_t hi);

}  // namespace gc
