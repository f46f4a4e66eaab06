// SearchIndex: keeps the full-text index of messages (table event_search)
// up to date with the group log, off the write path.
//
// Storing a message used to update a generated tsvector column and its GIN
// index in the same insert, which was about half of the database's cost of a
// send and of every entry a replica catches up. Now the group log commits
// events without it, and this indexer follows the log in stream_pos order:
// woken by each committed batch, it gathers for a moment (250 ms, or 3 s
// while thousands of events a second arrive), then indexes up to
// 5,000 positions per transaction with statements run by PostgreSQL
// itself (new messages inserted, edited ones upserted, deleted ones
// removed) and advances a cursor stored in the same transaction, so a
// restart resumes where it stopped. A search calls WaitIndexed first: it sees every message
// committed before it, as before.
//
// Thread-safety: thread-safe. Publish/EndBatch are called by the log's
// writer; WaitIndexed by any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "node/common/result.h"
#include "services/groups/group_log.h"

namespace gc {

class SearchIndexStore;

class SearchIndex : public EventSink {
 public:
  SearchIndex(GroupLog& log, SearchIndexStore& store);
  ~SearchIndex() override;  // Stop()

  // Reads the cursor and starts the indexer thread (after GroupLog::Start).
  Status Start();
  void Stop();

  // Indexes what the log has committed up to `pos`, waiting at most
  // `timeout_ms`. False on timeout (the search then runs on what is indexed).
  bool WaitIndexed(int64_t pos, int timeout_ms);
  int64_t indexed_pos() const { return indexed_.load(); }

  void Publish(const GroupEvent&, const std::vector<std::string>&, const std::vector<std::string>&) override {}
  void EndBatch() override;

 private:
  void Loop();

  GroupLog& log_;
  SearchIndexStore& store_;
  std::atomic<int64_t> indexed_{0};
  std::mutex mu_;
  std::condition_variable wake_;     // new events, an urgent wait, or stop
  std::condition_variable indexed_cv_;
  int waiting_ = 0;                  // GUARDED_BY(mu_): WaitIndexed callers
  bool news_ = false;                // GUARDED_BY(mu_)
  bool stopping_ = false;            // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace gc
