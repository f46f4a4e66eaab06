#include "services/messaging/search_index.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>

#include "node/common/barrier.h"
#include "node/common/log.h"
#include "services/messaging/search_index_store.h"

namespace gc {

namespace {

constexpr int64_t kMaxRange = 5000;  // positions per transaction
// How long commits gather before a round: short in the usual trickle; long
// while a flood arrives (a replica catching up, a bulk import), which leaves
// the CPU to the writer and makes the rounds bigger and cheaper per row. A
// search does not wait for either: it wakes the indexer at once.
constexpr auto kGather = std::chrono::milliseconds(250);
constexpr auto kGatherFlood = std::chrono::milliseconds(3000);
constexpr int64_t kFlood = 2000;  // positions in one round

}  // namespace

SearchIndex::SearchIndex(GroupLog& log, SearchIndexStore& store) : log_(log), store_(store) {}

SearchIndex::~SearchIndex() { Stop(); }

Status SearchIndex::Start() {
  auto cursor = store_.Cursor();
  if (!cursor.ok()) return cursor.error();
  indexed_ = *cursor;
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
      auto done = store_.IndexRound(lo, hi);
      if (!done.ok()) {
        // The database is away or overloaded: try again a little later
        // (searches meanwhile see what is indexed).
        LogWarn("search indexing failed", {{"from", lo}, {"error", done.error().message}});
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
        // hi, or the cursor another process sharing the database moved
        // (ahead; or behind, after the database lost its last rounds, rows
        // and cursor together: the next round indexes from there).
        indexed_ = *done;
      }
      indexed_cv_.notify_all();
    }
    lock.lock();
  }
}

}  // namespace gc
