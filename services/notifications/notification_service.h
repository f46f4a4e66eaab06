// NotificationService: the inbox of notifications, the user's preferences,
// and the worker that makes notifications from the group log.
//
// The group log's `events` table is the transactional outbox: a send commits
// its event and nothing else, so a send's latency does not depend on how
// many people it notifies. This service follows the log in stream_pos order
// after a cursor stored in its own table (notification_cursor). Woken by each
// committed batch (EndBatch), the worker takes up to 1,000 positions at a
// time and, in one transaction, lets PostgreSQL make the inbox rows for them
// (one INSERT ... SELECT applying every rule below), withdraws the
// notifications of messages deleted in the range, and advances the cursor.
// The same statement owes the pushes and adds to each user's unread count,
// a row kept beside the entries (notification_unread: counting a user's
// unread entries instead costs as many index entries as they have unread).
// After the commit it hands what it made to the listener (stream frames,
// the push sender): every entry but the plain `message` ones, which are
// only counted. Their message reaches every open stream of the recipient as
// an `event` frame already, and a frame per member and message doubled the
// stream's work (at 1,000 msg/s to ten members the send p99 tripled): a
// client derives its badge from those events and its levels, and reads the
// inbox when it shows it (spec/stream.md 3.5.1). A crash between the send's 201 and the worker's commit
// loses nothing: at restart the worker starts from the cursor. A range is
// made at most once (the cursor moves from the range's start to its end
// first in the same transaction: a second worker on the range finds it
// moved and makes nothing), so the
// `notification_id` of an entry never changes and receivers can drop
// repeats of a push by it.
//
// Rules (spec: ../shared/CONTRACT.md "Notifications", spec/openapi.yaml):
// - a `message` notifies every local member who had joined the group by
//   then, except its sender: kind `mention` if the body mentions them,
//   `reply` if it answers one of their messages, else `message`;
// - plain `message` entries are coalesced per (user, group) while unread:
//   a plain message where the user has an unread `message` entry of the
//   group is added to it (latest event, sender, preview, created_at, and
//   `count` + 1; same notification_id, pushed again) instead of making a
//   new entry; once read, the next one makes a new entry. One row per
//   member and message was most of PostgreSQL's work at level `all`; the
//   update is HOT (migration 0008). Mentions, replies and invites are one
//   entry each;
// - the level for (user, group) is the group's own level, else the user's
//   default, else `all`: `all` keeps every kind, `mentions` keeps mention and
//   reply, `none` keeps nothing;
// - a `member` event inviting a local user is kind `invite` (unless their
//   level for that group is `none`);
// - never for the user's own events; edits make nothing; a message deleted
//   before the worker reaches it makes nothing, one deleted later has its
//   entries marked withdrawn (and read, preview blanked), except that an
//   unread coalesced entry standing for other messages too only loses it
//   (one fewer; if it was the latest, the entry shows the one before);
// - during do-not-disturb (dnd_until after the event's origin_ts) the entry is recorded
//   with pushed = false: it is in the inbox and on open streams (the badge),
//   but no push or email is sent for it.
// Remote members are not notified here: their own node makes their
// notifications from its replica of the group, under their own settings.
//
// Thread-safety: thread-safe. EventSink methods are called by the log's
// writer and never block on the database.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "node/common/result.h"
#include "node/common/wakeable_loop.h"
#include "services/groups/group_log.h"
#include "services/messaging/messaging_service.h"
#include "services/notifications/notification_store.h"

namespace gc {

class SingletonLock;

struct InboxPage {
  std::vector<Notification> notifications;  // newest first
  int64_t unread = 0;                       // all of the user's unread entries
  bool has_more = false;
};

// Receives what the service made or changed, after it is committed. Called
// from the worker thread (Made) and from request threads (Read); must not
// block for long.
class NotificationListener {
 public:
  virtual ~NotificationListener() = default;
  // Entries were made or changed (withdrawn). `announced` holds, in the
  // order they were made, the ones to announce: withdrawals and new entries
  // of every kind but `message` (those are in the inbox and owe their
  // pushes, but are not listed); `unread` holds each of their users' unread
  // count after them. Called once per committed range that made or changed
  // anything, even when `announced` is empty.
  virtual void Made(const std::vector<Notification>& announced, const std::map<std::string, int64_t>& unread) = 0;
  // Entries were marked read (through the inbox or a group's read marker):
  // other devices clear their badge to `unread`.
  virtual void Read(const std::string& user, int64_t unread) = 0;
};

bool IsNotificationLevel(const std::string& level);

class NotificationService : public EventSink, public EphemeralSink {
 public:
  // `node_name` tells local users from remote ones.
  NotificationService(GroupLog& log, NotificationStore& store, std::string node_name);
  ~NotificationService() override;  // Stop()

  void set_listener(NotificationListener* listener) { listener_ = listener; }
  // Read markers and typing pass through to `next` (the stream hub); a read
  // marker also marks the group's notifications up to it read.
  void set_next_ephemeral(EphemeralSink* next) { next_ = next; }

  // Makes notifications only while `lock` is held (nullptr: always), so
  // that several processes of one node make each once. Before Start.
  void set_singleton(const SingletonLock* lock) { singleton_ = lock; }
  // Reads the cursor and starts the worker (after GroupLog::Start).
  Status Start();
  void Stop();

  // The inbox, newest first: entries with notification_id < before (all if
  // nullopt), at most `limit`; only unread ones with `unread_only`.
  Result<InboxPage> Inbox(const std::string& user, std::optional<int64_t> before, int limit, bool unread_only);
  // Marks the user's entries with notification_id <= up_to read, all but an
  // entry the worker is adding a message to at that moment (it stays
  // unread). Returns the unread count after it.
  Result<int64_t> MarkRead(const std::string& user, int64_t up_to);
  // Marks the user's entries of the group with seq <= seq read.
  Result<int64_t> MarkGroupRead(const std::string& user, const std::string& group_id, int64_t seq);

  Result<NotificationSettings> Settings(const std::string& user);
  // Changes what is given: `default_level` (all|mentions|none, else
  // kInvalid); `dnd_until` set (a value) or cleared (nullopt inside).
  Status UpdateSettings(const std::string& user, std::optional<std::string> default_level,
                        std::optional<std::optional<int64_t>> dnd_until);
  // The level of a group row for the user: its own, or nullopt (the default
  // applies). `row` must come from GroupService::Resolve (a member's group).
  Result<std::optional<std::string>> GroupLevel(const std::string& user, int64_t row);
  // Sets (a level) or removes (nullopt) the group's own level.
  Status SetGroupLevel(const std::string& user, int64_t row, std::optional<std::string> level);

  // Waits until every event committed up to `pos` has been processed, at most
  // `timeout_ms`. For tests and benchmarks.
  bool WaitProcessed(int64_t pos, int timeout_ms);

  // Metrics.
  int64_t processed_pos() const { return processed_.load(); }
  int64_t backlog() const;
  double lag_seconds() const;
  std::atomic<uint64_t> made{0};
  std::atomic<uint64_t> merged{0};  // plain messages added to an entry instead of making one
  std::atomic<uint64_t> withdrawn{0};
  std::atomic<uint64_t> failures{0};

  // EventSink
  void Publish(const GroupEvent&, const std::vector<std::string>&, const std::vector<std::string>&) override {}
  void EndBatch() override;
  // EphemeralSink
  void Typing(const std::string& group_id, const std::string& user, bool typing,
              std::shared_ptr<const std::vector<std::string>> recipients) override;
  void ReadMarker(const std::string& user, const std::string& group_id, int64_t seq) override;

 private:
  // One round of the worker (loop_): makes every range up to the log's end.
  std::optional<std::chrono::milliseconds> Round();
  GroupLog& log_;
  NotificationStore& store_;
  std::string node_name_;
  NotificationListener* listener_ = nullptr;
  EphemeralSink* next_ = nullptr;
  const SingletonLock* singleton_ = nullptr;
  uint64_t singleton_seen_ = 0;  // the lock's generation the cursor was read at; worker thread only
  std::atomic<int64_t> processed_{0};
  std::atomic<int64_t> pending_since_ms_{0};  // when the oldest unprocessed batch committed (0: none)
  int backoff_ = 0;              // worker thread only
  std::mutex mu_;                // with processed_cv_: WaitProcessed
  std::condition_variable processed_cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  WakeableLoop loop_;
};

}  // namespace gc
