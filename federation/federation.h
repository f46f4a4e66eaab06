// Federation: replicates groups between nodes (spec/federation.md).
//
// Home side: every event of a group homed here is pushed to each peer that
// holds a replica (fed_group_peers), in seq order, in batches, until the peer
// acknowledges how far it holds the log; the event log itself is the durable
// queue, so a restart of either side loses nothing. A peer without a replica
// (a user of it was just invited or joined) first gets a snapshot: the
// group's state and its latest entries. Remote users' events arrive as
// signed origin events (join, submit) and are sequenced by the same service
// code as local ones (ScopedOriginPin).
//
// Participant side: pushed entries are verified (home signature with the
// pinned key, origin signature, chain, event id, content hash, shape) and
// appended to the local replica, which serves history and the stream even
// while the home is down. Local users' events for remote groups are signed,
// stored in fed_outbox and sent until the home acknowledges or refuses them,
// one at a time per sender so that the home sequences them in the order
// written (outbox.cpp). Joins of groups without a replica are recorded
// durably and answered once the home's snapshot shows the user joined
// (join.cpp). Nothing waits on a peer with a parked thread: answers and
// deadlines (TimerQueue) complete the waiting requests.
//
// The implementation has a file per mechanism; federation.cpp opens with
// the list, and the private members below are grouped by file.
//
// Thread-safety: thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "federation/federation_store.h"
#include "federation/frame_text.h"
#include "federation/peers.h"
#include "federation/transport.h"
#include "node/common/principal.h"
#include "node/common/result.h"
#include "services/groups/group_log.h"
#include "services/groups/group_service.h"
#include "services/groups/signed_log/chain.h"
#include "services/media/remote_media.h"

namespace gc {

struct Config;
struct NodeKeys;
class GroupService;
class MediaService;
class MessagingService;
class RateLimiter;
class TimerQueue;
class UserService;
class WorkerPool;

class Federation : public RemoteGroups, public RemoteMembership, public EventSink, public RemoteMediaSource {
 public:
  // `store` and `peer_store` hold what federation keeps (federation_store.h,
  // peer_store.h); `entries` is the group log's stored entries as
  // replication reads them (services/groups/log_entry_store.h). All outlive
  // the Federation.
  Federation(const Config& config, const NodeKeys& keys, FederationStore& store, PeerStore& peer_store,
             LogEntryStore& entries, GroupLog& log);
  ~Federation() override;

  void set_services(GroupService* groups, MessagingService* messaging, UserService* users) {
    groups_ = groups;
    messaging_ = messaging;
    users_ = users;
  }
  void set_media(MediaService* media) { media_ = media; }
  // Binds federation.listen; endpoint() is then the bound address.
  Status Bind();
  const std::string& endpoint() const { return transport_.endpoint(); }
  // The signed node document served at /.well-known/groupchat/node.
  void set_node_document(std::string doc) { node_document_ = std::move(doc); }
  Status Start();
  void Stop();

  // RemoteGroups: local users' events for groups homed elsewhere, queued in
  // the outbox (outbox.cpp).
  void SubmitRemote(const GroupState& group, std::vector<Draft> drafts, SubmitDone done) override;
  // Older history asked of the home (`history` message, requests.cpp).
  Status Backfill(const GroupState& group, int64_t before_seq) override;
  Status PendingChange(const GroupState& group, const std::string& user) override;
  // Joins a group homed elsewhere that this node holds no replica of; `done`
  // once the replica exists and shows the user joined (join.cpp).
  void JoinRemote(const UserProfile& me, const std::string& group_id, JoinDone done) override;
  // A remote user can be invited if their node is admitted.
  Status CheckRemoteUser(const std::string& user_id) override;
  // The public profile of a user of another node, asked of their node
  // (`profile` message) and cached for 5 minutes (requests.cpp).
  Result<nlohmann::json> RemoteProfile(const std::string& user_id);
  // RemoteMediaSource: a chunk of another node's media, asked of its origin
  // (`media.fetch`, media_fetch.cpp).
  Result<RemoteMediaChunk> FetchMediaChunk(const std::string& origin, const std::string& media_id, int64_t offset,
                                           bool avatar, std::chrono::milliseconds timeout) override;

  // EventSink: wakes the pusher for groups homed here (home_push.cpp).
  void Publish(const GroupEvent& event, const std::vector<std::string>& members,
               const std::vector<std::string>& extra) override;
  void EndBatch() override;

  PeerDirectory& peers() { return peers_; }
  // Introductions and the admin's view of peers (peer_liveness.cpp).
  // POST /_federation/v1/hello {name}: a node introduces itself; it is
  // resolved through its own node document and pinned (if admitted).
  Status Hello(const std::string& name);
  // Peers with their delivery state, for the admin API.
  Result<nlohmann::json> PeersJson();
  // Clears backoff for a peer's queues (admin "retry").
  void RetryPeer(const std::string& name);
  // Blocks or unblocks a peer (closing its connection when blocked).
  Status SetPeerState(const std::string& name, const std::string& state);
  // Flushes peers' contact times, prunes finished outbox rows and stale
  // pending joins (a day old).
  void Housekeeping();

  std::atomic<uint64_t> rejected{0}, entries_applied{0}, entries_pushed{0}, forks{0};

  // An entry in its wire form (spec 6.2), serialized.
  using WireEntry = ::gc::WireEntry;
  const FederationTransport& transport() const { return transport_; }

 private:
  using AnswerFn = std::function<void(bool ok, const nlohmann::json& body)>;
  struct Track {  // one (group homed here, peer) delivery
    int64_t acked = 0;   // the peer holds the log up to here (-1: no replica yet)
    int64_t sent = 0;    // highest seq sent (in flight or acknowledged)
    std::optional<int64_t> until;
    std::map<std::string, std::pair<int64_t, int64_t>> inflight;  // msg id -> (last seq in it, sent ms)
    int64_t next_try_ms = 0;
    int attempts = 0;
  };
  // Body of the next push (or snapshot) of group `row` from seq `from`.
  struct Prepared {
    std::string type;
    std::string body;  // JSON text
    int64_t to = 0;
    size_t count = 0;
  };
  struct OutItem {
    int64_t id;
    std::string peer, sender, event_id;
    int64_t sent_ms;
  };

  // Frames out and in, waiting for answers (federation.cpp)
  std::string NewMsgId();
  bool Request(const std::string& peer, const std::string& type, nlohmann::json body, AnswerFn on_answer,
                   std::string* msg_id = nullptr);
  // The same with a body already serialized (pushes: entries are assembled
  // as text, never as JSON trees).
  bool RequestText(const std::string& peer, const std::string& type, const std::string& body_text,
                   AnswerFn on_answer, std::string* msg_id = nullptr);
  void Answer(const std::string& peer, const std::string& re, bool ok, nlohmann::json body);
  // `body_text`: the body already serialized (Answer serializes a JSON body).
  void AnswerText(const std::string& peer, const std::string& re, const std::string& body_text, bool ok = true);
  // Request, then `done` with the answer's body (kUnavailable after
  // `timeout`, the peer's refusal as an error): once, on a worker thread or
  // the caller's (a peer that cannot be reached at all). The request is sent
  // from a worker: an introduction to the peer (2.6) may block that long.
  using CallDone = std::function<void(Result<nlohmann::json>)>;
  void CallAsync(const std::string& peer, const std::string& type, nlohmann::json body,
                 std::chrono::milliseconds timeout, CallDone done);
  // The same, waiting for it (callers that may block).
  Result<nlohmann::json> Call(const std::string& peer, const std::string& type, nlohmann::json body,
                              std::chrono::milliseconds timeout);
  void AnswerError(const std::string& peer, const std::string& re, const Error& e);
  void OnRequest(const std::string& peer, std::string frame);
  void OnAnswer(const std::string& peer, std::string frame);
  std::string Admit(const std::string& key);
  // The public key `server` signs with under `key_id` (this node's own,
  // current or retired; a peer's, following its rotation).
  Result<std::string> KeyOf(const std::string& server, const std::string& key_id);

  // Introductions and liveness (peer_liveness.cpp)
  // Introduces this node to `peer` over HTTP once (again after failures).
  Status EnsureIntroduced(const std::string& peer);
  // After a timeout: introduce again next time, and treat the peer as down.
  void Forget(const std::string& peer, const std::string& what);
  bool PeerDown(const std::string& peer);
  // Any frame from `peer`: if it was down, its deliveries restart at once.
  void PeerAlive(const std::string& peer);

  // Home: peers' submits and joins (home_submit.cpp)
  void HandleSubmit(const std::string& peer, const std::string& re, const nlohmann::json& body, bool is_join);
  Result<std::optional<GroupEvent>> Dispatch(const UserProfile& who, int64_t row, const std::string& group_id,
                                             const std::string& type, const nlohmann::json& content);
  // Verifies a signed origin event {event, content} from `peer`.
  Result<std::shared_ptr<FixedEvent>> VerifyOrigin(const std::string& peer, const nlohmann::json& body,
                                                   ChainEvent* out);

  // Requests: catchup, profile, history (requests.cpp)
  void HandleCatchup(const std::string& peer, const std::string& re, const nlohmann::json& body);
  void HandleHistory(const std::string& peer, const std::string& re, const nlohmann::json& body);
  void HandleProfile(const std::string& peer, const std::string& re, const nlohmann::json& body);
  // The origin's side of media.fetch (media_fetch.cpp).
  void HandleMediaFetch(const std::string& peer, const std::string& re, const nlohmann::json& body);

  // Home: pushes to participants (home_push.cpp)
  void PusherLoop();
  // Sends group `row` to `peer` again from acked + 1 (-1: a snapshot first).
  void Rewind(int64_t row, const std::string& peer, int64_t acked);
  // The peer's next delivery of group `row` is a snapshot (durably).
  void NeedSnapshot(int64_t row, const std::string& peer);
  Result<Prepared> PreparePush(int64_t row, int64_t from, int64_t target, bool snapshot);
  void OnPushAnswer(const std::pair<int64_t, std::string>& key, const std::string& id, int64_t to, size_t count,
                    bool ok, const nlohmann::json& answer);
  // After a failure: forget what is in flight, resend from acked later.
  void Backoff(Track& t, int64_t now);
  // Entries from_seq..to_seq of group `row` in the wire form, from memory
  // when held there, else from the database.
  Result<std::vector<WireEntry>> LoadEntries(int64_t row, const std::string& group_id, int64_t from_seq,
                                             int64_t to_seq);
  static nlohmann::json EntryOf(const GroupEvent& event);  // the wire form (6.2)

  // Participant: applying pushes and snapshots (replica_apply.cpp)
  void HandleEntries(const std::string& peer, const std::string& re, const nlohmann::json& body, bool snapshot);
  // Verifies pushed or snapshot entries and has them written. Returns the
  // seq held to answer now, or nullopt when `answer` gets it once the
  // entries are committed (the writer works while the next push is checked).
  using HaveFn = std::function<void(const Result<int64_t>&)>;
  Result<std::optional<int64_t>> ApplyEntries(const std::string& home, const std::string& group_id,
                                              const nlohmann::json& entries, const nlohmann::json* state,
                                              const HaveFn& answer);
  // Gives this node's events among `applied` (group `row`, back from their
  // home) the client transaction ids their sends were queued with.
  void SendsTxnIds(int64_t row, const std::vector<GroupEvent>& applied);
  void Applied(int64_t row, const std::string& group_id, const Result<std::vector<GroupEvent>>& applied,
               const HaveFn& answer);
  Result<Draft> VerifyEntry(const std::string& home, const std::string& group_id, const nlohmann::json& entry);
  // Does the home's signature over entry `f` verify (with the key its key id
  // names, current or retired)?
  bool HomeSigned(const std::string& home, const std::string& group_id, const FixedEvent& f);

  // Participant: the outbox (outbox.cpp)
  struct PendingSend;
  void OutboxLoop();
  // Sends the first pending event of each (home, sender) that is due.
  void SendOutboxHeads(std::unique_lock<std::mutex>& lock, int64_t now);
  // The home's final answer to a queued event (not a retryable failure).
  void OnSendAnswer(const std::string& event_id, bool ok, const nlohmann::json& answer);
  // Answers the local sender (once): with the events, seq 0 for those the
  // home has not sequenced yet, or with the home's refusal.
  void FinishSend(const std::shared_ptr<PendingSend>& send);
  // Senders waiting for entries of `group_id` up to `last` to be applied.
  void SendsApplied(const std::string& group_id, int64_t last);
  // A local user's draft as an origin event {event, content} signed by this
  // node; *event_id its id.
  Result<nlohmann::json> SignOrigin(const std::string& group_id, const Draft& d, std::string* event_id);

  // Participant: joins and replica repair (join.cpp)
  struct PendingJoin;
  // Answers the joins of `group_id` that the replica now shows joined.
  void SettleJoins(const std::string& group_id);
  void FinishJoin(const std::shared_ptr<PendingJoin>& join, Status status);
  // Local users who asked this node to join `group_id` (fed_pending_joins).
  Result<std::set<std::string>> PendingJoiners(const std::string& group_id);
  // Asks the home of every replica (homed on `home`, or all when empty) for
  // what this node may have lost in a crash, and for the snapshot of groups
  // a local user asked to join but that have no replica.
  void RepairReplicas(const std::string& home);

  const Config& config_;
  const NodeKeys& keys_;
  FederationStore& store_;
  LogEntryStore& entries_;
  GroupLog& log_;
  GroupService* groups_ = nullptr;
  MessagingService* messaging_ = nullptr;
  UserService* users_ = nullptr;
  MediaService* media_ = nullptr;
  std::mutex profiles_mu_;
  std::map<std::string, std::pair<int64_t, nlohmann::json>> profiles_;  // GUARDED_BY(profiles_mu_)
  std::string self_;
  PeerDirectory peers_;
  FederationTransport transport_;
  std::string node_document_;
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<WorkerPool> workers_;   // answers' callbacks, catchup/history/profile, calls, repair
  std::unique_ptr<TimerQueue> timers_;    // deadlines of waits on peers
  std::unique_ptr<WorkerPool> applier_;   // pushes and snapshots, one at a time (in order)
  std::vector<std::unique_ptr<WorkerPool>> lanes_;  // submits and joins, by sender

  std::mutex answers_mu_;
  std::map<std::string, std::pair<int64_t, AnswerFn>> answers_;  // msg id -> (sent ms, callback)

  std::mutex mu_;  // guards the pusher's and the outbox's shared state below
  std::condition_variable push_cv_, out_cv_;
  bool stopping_ = false;
  // The home's pushes (home_push.cpp)
  bool reload_tracks_ = true;
  bool poke_ = false;  // something for the pusher to look at (an answer, a retry)
  std::set<int64_t> dirty_;                                        // groups with new events
  std::set<int64_t> tracked_;                                      // groups with participants
  std::map<int64_t, std::deque<GroupEvent>> recent_;               // their latest entries
  std::map<std::pair<int64_t, std::string>, Track> tracks_;        // pusher thread mostly
  std::map<std::pair<int64_t, std::string>, int64_t> unsaved_acks_;  // acknowledged, not yet in the database
  // The outbox (outbox.cpp)
  bool outbox_dirty_ = true;
  std::map<std::string, OutItem> out_inflight_;                    // msg id -> item
  std::map<std::string, int64_t> peer_backoff_until_;              // outbox, per peer
  // The participant's apply (replica_apply.cpp). Per replica group: seq and
  // entry hash of the last entry handed to the writer and not yet known
  // committed (ApplyEntries continues from it).
  std::map<std::string, std::pair<int64_t, std::string>> spec_heads_;  // GUARDED_BY(mu_)
  // Local senders waiting for the home's answer (by event id), then for
  // the entry's arrival (by group id, with the seq to reach).
  std::map<std::string, std::shared_ptr<PendingSend>> send_waits_;  // GUARDED_BY(mu_)
  std::multimap<std::string, std::pair<int64_t, std::shared_ptr<PendingSend>>> applied_waits_;  // GUARDED_BY(mu_)
  // Local users waiting for their join of a group to show in its replica.
  std::multimap<std::string, std::shared_ptr<PendingJoin>> join_waits_;  // GUARDED_BY(mu_), by group id
  // Introductions and liveness (peer_liveness.cpp)
  std::mutex intro_mu_;
  std::condition_variable intro_cv_;
  std::set<std::string> introducing_;            // GUARDED_BY(intro_mu_): introductions under way
  struct Intro {
    bool ok;
    int64_t at;
    Error error;
  };
  std::map<std::string, Intro> introduced_;      // GUARDED_BY(intro_mu_)
  std::map<std::string, int64_t> down_since_;    // GUARDED_BY(intro_mu_)
  std::thread pusher_, outbox_;
};

}  // namespace gc
