#include "services/messaging/search_index.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>

#include "node/common/barrier.h"
#include "node/common/log.h"
#include "node/db/pg.h"

namespace gc {

namespace {

// The words of a message's current text (its latest edit, if any).
#define GC_SEARCH_WORDS "to_tsvector('simple', coalesce(t.edit_content ->> 'body', t.content ->> 'body', ''))"

// Messages in the range, and older messages edited in the range.
GC_SQL(kIndexUpsert,
       "INSERT INTO event_search (stream_pos, group_id, search) "
       "SELECT t.stream_pos, t.group_id, " GC_SEARCH_WORDS " FROM events t "
       "WHERE t.stream_pos BETWEEN $1 AND $2 AND t.type = 'message' AND t.deleted_at IS NULL "
       "UNION ALL "
       "SELECT t.stream_pos, t.group_id, " GC_SEARCH_WORDS " FROM "
       "(SELECT DISTINCT relates_to FROM events WHERE stream_pos BETWEEN $1 AND $2 AND type = 'message.edit') x "
       "JOIN events t ON t.event_id = x.relates_to "
       "WHERE t.type = 'message' AND t.deleted_at IS NULL AND t.stream_pos NOT BETWEEN $1 AND $2 "
       "ON CONFLICT (stream_pos) DO UPDATE SET search = EXCLUDED.search");
// Messages deleted in the range.
GC_SQL(kIndexDelete,
       "DELETE FROM event_search s USING events e, events t "
       "WHERE e.stream_pos BETWEEN $1 AND $2 AND e.type = 'message.delete' "
       "AND t.event_id = e.relates_to AND s.stream_pos = t.stream_pos");
GC_SQL(kReadCursor, "SELECT indexed_pos FROM search_cursor");
GC_SQL(kSetCursor, "UPDATE search_cursor SET indexed_pos = $1");

constexpr int64_t kMaxRange = 5000;  // positions per transaction
// How long commits gather before a round: short in the usual trickle; long
// while a flood arrives (a replica catching up, a bulk import), which leaves
// the CPU to the writer and makes the rounds bigger and cheaper per row. A
// search does not wait for either: it wakes the indexer at once.
constexpr auto kGather = std::chrono::milliseconds(250);
constexpr auto kGatherFlood = std::chrono::milliseconds(3000);
constexpr int64_t kFlood = 2000;  // positions in one round

}  // namespace

SearchIndex::SearchIndex(GroupLog& log, PgPool& db) : log_(log), db_(db) {}

SearchIndex::~SearchIndex() { Stop(); }

Status SearchIndex::IndexRange(PgConn& c, int64_t lo, int64_t hi) {
  auto up = c.Exec(kIndexUpsert, {lo, hi});
  if (!up.ok()) return up.error();
  auto del = c.Exec(kIndexDelete, {lo, hi});
  if (!del.ok()) return del.error();
  return OkStatus();
}

Status SearchIndex::Start() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kReadCursor); });
  if (!r.ok()) return r.error();
  indexed_ = r->rows() > 0 ? r->int64(0, 0) : 0;
  news_ = true;  // whatever the log committed after the cursor
  thread_ = SpawnGuarded("gc-search-idx", [this] { Loop(); });
  return OkStatus();
}

void SearchIndex::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  indexed_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SearchIndex::EndBatch() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    news_ = true;
  }
  wake_.notify_one();
}

bool SearchIndex::WaitIndexed(int64_t pos, int timeout_ms) {
  if (indexed_.load() >= pos) return true;
  std::unique_lock<std::mutex> lock(mu_);
  if (!thread_.joinable()) return false;
  ++waiting_;
  news_ = true;
  wake_.notify_one();
  bool ok = indexed_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                 [&] { return stopping_ || indexed_.load() >= pos; });
  --waiting_;
  return ok && indexed_.load() >= pos;
}

void SearchIndex::Loop() {
  int failures = 0;
  int64_t last_round = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait(lock, [&] { return stopping_ || news_ || waiting_ > 0; });
    if (stopping_) return;
    // Let a burst of commits gather into one transaction, unless a search
    // is waiting.
    if (waiting_ == 0) {
      wake_.wait_for(lock, last_round >= kFlood ? kGatherFlood : kGather, [&] { return stopping_ || waiting_ > 0; });
    }
    if (stopping_) return;
    news_ = false;
    int64_t target = log_.last_stream_pos();
    last_round = target - indexed_.load();
    lock.unlock();
    while (indexed_.load() < target) {
      int64_t lo = indexed_.load() + 1, hi = std::min(target, indexed_.load() + kMaxRange);
      Status st = db_.Transaction([&](PgConn& c) -> Status {
        // Nothing here needs the disk flush before the commit returns: after
        // a crash the cursor may be a little behind, and indexing again is
        // harmless (upserts and deletes).
        GC_TRY(c.ExecScript("SET LOCAL synchronous_commit TO off"));
        GC_TRY(IndexRange(c, lo, hi));
        auto r = c.Exec(kSetCursor, {hi});
        if (!r.ok()) return r.error();
        return OkStatus();
      });
      if (!st.ok()) {
        // The database is away or overloaded: try again a little later
        // (searches meanwhile see what is indexed).
        LogWarn("search indexing failed", {{"from", lo}, {"error", st.error().message}});
        failures = std::min(failures + 1, 6);
        lock.lock();
        news_ = true;
        wake_.wait_for(lock, std::chrono::milliseconds(100 << failures), [&] { return stopping_; });
        lock.unlock();
        break;
      }
      failures = 0;
      {
        std::lock_guard<std::mutex> relock(mu_);  // no wake-up lost to a waiter between check and wait
        indexed_ = hi;
      }
      indexed_cv_.notify_all();
    }
    lock.lock();
  }
}

}  // namespace gc
