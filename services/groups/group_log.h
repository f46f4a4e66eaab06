// GroupLog: the sequencer of every group hosted by this node.
//
// All changes to groups (creation, membership, settings, messages, edits,
// deletes, reactions) are operations submitted here. One writer thread takes
// them in order, in batches: for each it checks the operation against the
// group's current state, appends the resulting events with the next per-group
// `seq` and node-wide `stream_pos`, runs the operation's projections (member
// rows, reactions, ...) in the same transaction, and commits the batch once
// (group commit). Only after the commit does it apply the result to the
// in-memory state visible to readers, answer the callers and then publish
// the events to the sinks (the stream, search, federation, notifications),
// so nothing is acknowledged before it is durable, stream positions become
// visible strictly in order, and an answer does not wait for the fan-out.
//
// If a batch fails to commit, every group it touched is evicted from memory
// (reloaded from the database on next use) and its operations are retried
// one by one, so one bad operation cannot fail its neighbours.
//
// Thread-safety: every public method is thread-safe. Submit blocks the
// caller until the batch holding its operation has committed.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "node/common/result.h"
#include "services/groups/entry_signer.h"
#include "services/groups/participant_recorder.h"

namespace gc {

class PgPool;
class PgConn;

// An event as stored and as clients see it (see EventJson).
struct GroupEvent {
  int64_t stream_pos = 0;
  int64_t seq = 0;
  std::string event_id;
  int64_t group_row = 0;
  std::string group_id;  // "#eng:acme.test"
  std::string type;
  std::string sender;
  std::string origin;
  int64_t origin_ts = 0;
  nlohmann::json content;
  std::optional<std::string> relates_to;
  std::optional<std::string> txn_id;
  // History projections (not part of the event as sent):
  std::optional<nlohmann::json> edit_content;
  std::optional<int64_t> edited_at;
  std::optional<int64_t> deleted_at;
  // The hash chain (spec/federation.md section 6); filled when appended, not
  // read back by EventFromRow (see LoadChainEntries).
  std::string nonce, content_hash, prev_hash, entry_hash;
  int64_t home_ts = 0;
  nlohmann::json origin_signatures;  // {origin: {key_id: sig}} when the origin is not the home
  nlohmann::json signatures;         // {home: {key_id: sig}} over the entry
  // EventJson(*this) serialized, made once by the writer after the commit
  // for the events it answers a caller with, and shared by every copy: the
  // caller's answer and the stream frame use the same bytes. Null elsewhere
  // (history, replica entries): use ClientJsonText.
  std::shared_ptr<const std::string> client_json;
};

// An event whose identity was fixed elsewhere: by its origin node (a remote
// user's event this node, the home, sequences) or, with seq set, by the home
// node (an entry a replica appends as it is).
struct FixedEvent {
  std::string event_id, origin, nonce, content_hash;
  int64_t origin_ts = 0;
  nlohmann::json origin_signatures;
  // Replica entries only:
  int64_t seq = 0;
  std::string prev, entry_hash;
  int64_t home_ts = 0;
  nlohmann::json signatures;
};

// The client shape: {event_id, group_id, seq, stream_pos, type, sender,
// origin_ts, content} plus, for messages in history, edited/deleted flags with
// the latest text in content.
nlohmann::json EventJson(const GroupEvent& e);
// EventJson(e) as text (the bytes of e.client_json when it is set).
std::shared_ptr<const std::string> ClientJsonText(const GroupEvent& e);

struct Member {
  std::string membership;  // join | invite | leave | ban
  std::string role;        // owner | admin | member
};

struct GroupState {
  int64_t row = 0;
  std::string address;
  std::string server;
  std::string title;
  std::string topic;
  std::string visibility;  // public | private
  std::string join_rule;   // open | invite
  std::string created_by;
  int64_t created_at = 0;
  int64_t last_seq = 0;
  int64_t last_event_at = 0;
  bool deleted = false;
  std::string head_hash;  // entry hash of the last event ("" before the first)
  int64_t base_seq = 1;   // first seq held (a replica may start later)
  std::unordered_map<std::string, Member> members;  // every user with a membership row

  const Member* Find(const std::string& user) const;
  bool IsJoined(const std::string& user) const;
  int JoinedCount() const;
  int OwnerCount() const;
  // Users with membership "join" (rebuilt lazily after membership changes).
  std::shared_ptr<const std::vector<std::string>> Joined() const;
  void MembershipChanged() { joined_cache_.reset(); }

 private:
  mutable std::shared_ptr<const std::vector<std::string>> joined_cache_;
};

// One event an operation wants appended.
struct Draft {
  std::string sender;
  std::string type;
  nlohmann::json content;
  std::optional<std::string> relates_to;
  std::optional<std::string> txn_id;
  // Runs inside the batch transaction right after the event row is written
  // (projections: member rows, reactions, edit text, ...).
  std::function<Status(PgConn&, const GroupEvent&)> project;
  // Applied to the group's state after the batch commits.
  std::function<void(GroupState&)> apply;
  // Users who must receive this event besides the joined members (e.g. the
  // user who was just kicked or invited).
  std::vector<std::string> also_notify;
  // Set when the event was built elsewhere (see FixedEvent).
  std::shared_ptr<const FixedEvent> fixed;
};

// What an operation sees: the group as it will be when its events are
// appended (earlier operations of the batch included), and the batch
// transaction for look-ups. It must not change `group`; Draft::apply does.
struct OpContext {
  const GroupState& group;
  PgConn& conn;
  int64_t now_ms;
};
using Operation = std::function<Result<std::vector<Draft>>(OpContext&)>;

// A client's idempotency key for a send: the same (sender, txn_id) appends
// at most one event. The writer checks it for the whole batch at once (one
// look-up per batch, not a round trip per send), before the operation runs:
// a key already stored, or taken by an earlier request of the same batch,
// answers with that event and appends nothing (kConflict if that event is in
// another group).
struct TxnKey {
  std::string sender;
  std::string txn_id;
};

// Receives committed events in stream_pos order (the stream hub).
class EventSink {
 public:
  virtual ~EventSink() = default;
  // `members`: the group's joined local users after the event; `extra`:
  // others who must see it (the user an event is about).
  virtual void Publish(const GroupEvent& event, const std::vector<std::string>& members,
                       const std::vector<std::string>& extra) = 0;
  // Brackets the events of one committed batch, so that receivers can send
  // them together.
  virtual void BeginBatch() {}
  virtual void EndBatch() {}
};

// Where operations on groups homed on other nodes go (the federation
// service). Submit runs the operation against the local replica, then hands
// the drafts over; the home node sequences them.
using SubmitDone = std::function<void(Result<std::vector<GroupEvent>>)>;
class RemoteGroups {
 public:
  virtual ~RemoteGroups() = default;
  // Queues the drafts durably for the home and calls `done` once, from any
  // thread, without parking one: with the sequenced events, with events
  // without seq (still queued: the home has not answered in time) or with the
  // home's refusal.
  virtual void SubmitRemote(const GroupState& group, std::vector<Draft> drafts, SubmitDone done) = 0;
  // Fetches entries before `before_seq` (the first one held) from the home
  // node and stores them: older history on demand.
  virtual Status Backfill(const GroupState& group, int64_t before_seq) = 0;
  // 409 pending_change while `user`'s own membership change in the group
  // (queued for the home, or sequenced but not yet applied here) is not
  // reflected by the replica: anything `user` does there would be judged
  // against a stale view (a join answered "already in" right after a queued
  // leave). Sends of a queued change's retries are not affected.
  virtual Status PendingChange(const GroupState& group, const std::string& user) = 0;
};

// While alive, GroupLog::Submit calls on this thread pin the one event the
// operation appends to `fixed` (a remote origin's event): the operation must
// build exactly that event (same type, sender, relates_to and content hash)
// or it is refused.
class ScopedOriginPin {
 public:
  explicit ScopedOriginPin(std::shared_ptr<const FixedEvent> fixed);
  ~ScopedOriginPin();
  ScopedOriginPin(const ScopedOriginPin&) = delete;
  ScopedOriginPin& operator=(const ScopedOriginPin&) = delete;

 private:
  std::shared_ptr<const FixedEvent> saved_;
};

class GroupLog {
 public:
  GroupLog(PgPool& db, std::string server_name);
  ~GroupLog();

  void add_sink(EventSink* sink) { sinks_.push_back(sink); }
  void set_remote(RemoteGroups* remote) { remote_ = remote; }
  RemoteGroups* remote() const { return remote_; }
  // Entries of groups homed here are signed with this key (64-byte Ed25519).
  // Before Start(), which starts the signing threads for it.
  void set_signing_key(std::string key_id, std::string secret_key) {
    key_id_ = std::move(key_id);
    secret_key_ = std::move(secret_key);
  }
  // Where the servers taking part in groups homed here are recorded (before
  // Start; without one they are not recorded).
  void set_participants(ParticipantRecorder* participants) { participants_ = participants; }
  // Opens the writer's connection, reads the next stream position, starts the
  // writer thread.
  Status Start(const std::string& conninfo);
  // Finishes queued operations, then stops the writer.
  void Stop();

  // Runs `op` on group `row` (kNotFound if it does not exist or was deleted)
  // and returns the appended events once durable. For a replica of a remote
  // group the drafts go to the RemoteGroups handler instead.
  Result<std::vector<GroupEvent>> Submit(int64_t row, Operation op);
  // Submit for callers that must not wait (HTTP handlers): `done` gets what
  // Submit would return, once, from any thread, and SubmitAsync returns at
  // once. For a group homed here the operation is queued for the writer and
  // `done` runs on the writer thread right after the batch commits: keep it
  // short and never wait in it for the log. For a replica the operation is
  // checked here and `done` runs when the home has answered or the wait for
  // it has ended. `txn` (groups homed here only) makes the send idempotent,
  // see TxnKey.
  void SubmitAsync(int64_t row, Operation op, SubmitDone done, std::optional<TxnKey> txn = std::nullopt);
  // Whether `row` is a live group homed on this node (not a replica).
  bool IsHomedHere(int64_t row);
  // Appends entries sequenced by the remote home node to replica `row`: every
  // draft has `fixed` with seq and prev. Entries already held are skipped;
  // kConflict ("gap") if the first new one does not follow the chain head.
  // The events returned (here and by ApplyAsync, CreateReplica) carry no
  // content: the stream and the database have it.
  Result<std::vector<GroupEvent>> Apply(int64_t row, std::vector<Draft> entries);
  // Apply without waiting: `done` runs on the writer thread once the entries
  // are committed (or refused); keep it short. Lets a replica verify the
  // next batch while this one is written. Requests run in the order queued.
  using ApplyDone = std::function<void(Result<std::vector<GroupEvent>>)>;
  void ApplyAsync(int64_t row, std::vector<Draft> entries, ApplyDone done);
  // Creates the replica of a remote group from a snapshot: `initial` holds
  // the home's state (members included) with last_seq/head_hash/base_seq set
  // to just before `entries`, which are then appended as by Apply.
  Result<std::vector<GroupEvent>> CreateReplica(GroupState initial, std::vector<Draft> entries);
  // Creates a group from `initial` (address, settings, created_by) and runs
  // `op` on it in the same transaction. kConflict if the address is taken.
  Result<std::vector<GroupEvent>> Create(GroupState initial, Operation op);

  // Read access to a group's current state (loaded from the database on first
  // use). fn(const GroupState&) runs under a shared lock; keep it short.
  // Returns kNotFound for unknown or deleted groups.
  template <typename Fn>
  auto Read(int64_t row, Fn&& fn) -> Result<decltype(fn(std::declval<const GroupState&>()))>;
  // Finds a live group by address.
  Result<int64_t> FindByAddress(const std::string& address);
  // A copy of a group's state.
  Result<GroupState> Snapshot(int64_t row);

  // Forgets a group's cached state (after a change made outside the log).
  void Evict(int64_t row);

  int64_t last_stream_pos() const { return last_committed_pos_.load(); }
  const std::string& server_name() const { return server_name_; }

 private:
  struct Request {
    int64_t row = 0;                    // 0: create from `initial`
    std::optional<GroupState> initial;
    Operation op;
    std::shared_ptr<const FixedEvent> pin;  // see ScopedOriginPin
    bool replica_apply = false;
    std::optional<TxnKey> txn;
    bool answer_elsewhere = false;  // `callback` runs on the completer thread
    std::promise<Result<std::vector<GroupEvent>>> done;
    ApplyDone callback;  // instead of `done` when set

    void Finish(Result<std::vector<GroupEvent>> result) {
      if (callback) {
        callback(std::move(result));
      } else {
        done.set_value(std::move(result));
      }
    }
  };
  struct Entry {
    std::shared_mutex mu;
    std::shared_ptr<GroupState> state;  // GUARDED_BY(mu)
  };

  Result<std::vector<GroupEvent>> Enqueue(std::unique_ptr<Request> r);
  // Queues `r` (with its callback set) without waiting.
  void EnqueueAsync(std::unique_ptr<Request> r);
  static std::unique_ptr<Request> ApplyRequest(int64_t row, std::vector<Draft> entries);
  void WriterLoop();
  // Answers SubmitAsync callers off the writer thread (see completer_).
  void CompleterLoop();
  // Answers `r` now, or (answer_elsewhere) after the batch, on the completer.
  void Complete(std::unique_ptr<Request> r, Result<std::vector<GroupEvent>> result);
  void RunBatch(std::vector<std::unique_ptr<Request>>& batch);
  // Hands the committed events of the last batch (to_publish_) to the sinks.
  void Publish();
  // Runs a batch in one transaction. On success fills `results` and
  // `published`; on a commit failure returns the error.
  Status TryBatch(std::vector<std::unique_ptr<Request>>& batch,
                  std::vector<Result<std::vector<GroupEvent>>>& results);
  // Gives `ev` its seq, ids and hashes, and, for an entry this node signs,
  // its entry's bytes in `*entry_bytes` to be signed by the caller (the
  // batch's signatures are made together, EntrySigner); `ev.signatures`
  // stays null then. Returns an error for this request only (the batch goes
  // on). group_log_chain.cpp.
  Status Chain(GroupState& state, const Draft& d, const Request& req, int64_t now, GroupEvent& ev,
               std::string& entry_bytes);
  // A replica's entries from the home: drops those already held; the rest
  // must continue the chain (kConflict "gap"); only replica applies may bring
  // them (kInvalid otherwise).
  static Status FollowHomeChain(const GroupState& state, std::vector<Draft>& drafts, const Request& req);
  Result<std::shared_ptr<Entry>> LoadEntry(int64_t row);

  PgPool& db_;
  std::string server_name_;
  std::vector<EventSink*> sinks_;
  RemoteGroups* remote_ = nullptr;
  std::string key_id_, secret_key_;
  ParticipantRecorder* participants_ = nullptr;
  std::unique_ptr<PgConn> writer_conn_;  // used only by the writer thread
  std::unique_ptr<EntrySigner> signer_;  // used only by the writer thread; null without a key
  std::thread writer_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<Request>> queue_;  // GUARDED_BY(queue_mu_)
  bool stopping_ = false;                       // GUARDED_BY(queue_mu_)
  int64_t next_stream_pos_ = 1;                 // writer thread only
  // Committed events waiting for the sinks (writer thread only), with their
  // audience: the joined members then (shared with the group's state) and
  // the others who must see it.
  struct Publication {
    GroupEvent event;
    std::shared_ptr<const std::vector<std::string>> members;
    std::vector<std::string> extra;
  };
  std::vector<Publication> to_publish_;
  // What SubmitAsync callers are told (the HTTP answer: its JSON, metrics,
  // access log) is done by one completer thread, handed over once per batch,
  // so that the writer goes on to the next batch at once.
  using Answer = std::pair<std::unique_ptr<Request>, Result<std::vector<GroupEvent>>>;
  std::vector<Answer> answers_;  // writer thread only: the current batch's
  std::thread completer_;
  std::mutex answers_mu_;
  std::condition_variable answers_cv_;
  std::vector<Answer> answer_queue_;  // GUARDED_BY(answers_mu_)
  bool answers_stopping_ = false;     // GUARDED_BY(answers_mu_)
  std::atomic<int64_t> last_committed_pos_{0};

  std::mutex entries_mu_;
  std::unordered_map<int64_t, std::shared_ptr<Entry>> entries_;  // GUARDED_BY(entries_mu_)
  std::unordered_map<std::string, int64_t> by_address_;          // GUARDED_BY(entries_mu_): live groups
};

template <typename Fn>
auto GroupLog::Read(int64_t row, Fn&& fn) -> Result<decltype(fn(std::declval<const GroupState&>()))> {
  auto e = LoadEntry(row);
  if (!e.ok()) return e.error();
  std::shared_lock lock((*e)->mu);
  if (!(*e)->state || (*e)->state->deleted) return Error::NotFound("no such group");
  return fn(*(*e)->state);
}

// Columns read by EventFromRow; queries select them FROM events e JOIN groups g.
#define GC_EVENT_COLUMNS                                                                          \
  "e.stream_pos, e.event_id, e.seq, e.type, e.sender, e.origin, e.origin_ts, e.content::text, " \
  "e.relates_to, e.edit_content::text, e.edited_at, e.deleted_at, e.group_id, g.address"
class PgResult;
GroupEvent EventFromRow(const PgResult& r, int row);

// Random event id: "$" + 22 base64url characters (128 bits).
std::string NewEventId();
int64_t NowMs();

}  // namespace gc
