// FederationStore: what federation keeps in storage besides its peers
// (peer_store.h): the home's deliveries to participants (fed_group_peers),
// the participant's outbox of local sends to remote homes (fed_outbox), the
// joins waiting for a group's snapshot (fed_pending_joins): federation's
// own tables only. What replication reads and writes of the group log
// (entries with their chain fields, backfilled history) goes through the
// group service's LogEntryStore (services/groups/log_entry_store.h) and
// GroupLog. PgFederationStore (pg_federation_store.h) keeps it in
// PostgreSQL; the mechanisms in federation/*.cpp hold no SQL.
//
// A group is named by its row (GroupState::row) or its address. Every call
// may block on the database and is thread-safe. Errors are
// kUnavailable/kInternal from the database; none of them checks admission,
// membership or signatures (the callers do).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node/common/result.h"

namespace gc {

// One (group homed here, participant peer) delivery.
struct PushTrack {
  int64_t group_row = 0;
  std::string peer;
  int64_t acked = 0;             // the peer holds the log up to here (-1: it needs a snapshot)
  std::optional<int64_t> until;  // a peer that left: deliver up to here, then stop
};

// A local user's event queued for a remote home.
struct OutboxEntry {
  std::string event_id, sender;
  std::string body;  // the signed origin event {event, content}, JSON text
  std::optional<std::string> txn_id;
  bool own_membership = false;  // the sender's change of their own membership
};

// An earlier send with the same client transaction id.
struct OutboxRecord {
  std::string event_id;
  std::string state;  // pending, done, refused
  int64_t seq = 0;    // 0 until the home sequenced it
  std::string last_error;
};

// The first pending send of one (home, sender).
struct OutboxHead {
  int64_t id = 0;
  std::string peer, event_id, body, sender;
  int64_t next_at = 0;  // not before (ms)
};

// Outbox state per peer, for the admin's view.
struct PeerOutboxDepth {
  std::string peer;
  int64_t pending = 0, refused = 0;
  std::optional<int64_t> oldest_pending_at;  // created_at (ms)
};

class FederationStore {
 public:
  virtual ~FederationStore() = default;

  // --- The home's deliveries (home_push.cpp, requests.cpp)
  // Deliveries still under way: current participants, and leavers not yet
  // delivered up to their until_seq.
  virtual Result<std::vector<PushTrack>> Tracks() = 0;
  // Saves acknowledged positions ((group row, peer) -> seq), in one
  // transaction.
  virtual Status SaveAcks(const std::map<std::pair<int64_t, std::string>, int64_t>& acks) = 0;
  // The next delivery of group `row` to `peer` is a snapshot (creating the
  // delivery if there is none).
  virtual Status NeedSnapshot(int64_t row, const std::string& peer) = 0;
  // Lowers a current participant's acknowledged position to `acked`; false
  // if `peer` is not a current participant of group `row`.
  virtual Result<bool> Rewind(int64_t row, const std::string& peer, int64_t acked) = 0;
  virtual Result<bool> IsParticipant(int64_t row, const std::string& peer) = 0;
  // Every delivery, finished ones included (the admin's view).
  virtual Result<std::vector<PushTrack>> AllTracks() = 0;

  // --- The participant's outbox (outbox.cpp, peer_liveness.cpp)
  virtual Result<std::optional<OutboxRecord>> OutboxByTxn(const std::string& sender, const std::string& txn_id) = 0;
  // Queues `entries` for `home` (group `group_id`) at `now`, in order, in one
  // transaction; an event already queued is left as it is.
  virtual Status QueueOutbox(const std::string& home, const std::string& group_id,
                             const std::vector<OutboxEntry>& entries, int64_t now) = 0;
  // Is a change of `user`'s own membership in `group_id` still pending, or
  // sequenced beyond `last_seq` (not yet in the replica)?
  virtual Result<bool> HasPendingChange(const std::string& user, const std::string& group_id, int64_t last_seq) = 0;
  virtual Result<std::vector<OutboxHead>> OutboxHeads() = 0;
  virtual Status OutboxDone(int64_t id, int64_t seq) = 0;
  virtual Status OutboxRefused(int64_t id, const std::string& error) = 0;
  // Counts a failed attempt; the next one is due after a capped exponential
  // backoff from `now`.
  virtual Status OutboxRetry(int64_t id, int64_t now, const std::string& error) = 0;
  // Makes every pending send to `peer` due now.
  virtual Status OutboxRetryNow(const std::string& peer) = 0;
  // The client transaction ids that the sends of `event_ids` were queued
  // with ((event id, txn id), only those with one).
  virtual Result<std::vector<std::pair<std::string, std::string>>> OutboxTxnIds(
      const std::vector<std::string>& event_ids) = 0;
  virtual Result<std::vector<PeerOutboxDepth>> OutboxDepths() = 0;
  // Drops finished sends and pending joins created before `before_ms`.
  virtual Status Prune(int64_t before_ms) = 0;

  // --- Joins of groups without a replica, repair (join.cpp)
  virtual Status RecordPendingJoin(const std::string& group_id, const std::string& user, int64_t now) = 0;
  virtual Status ForgetPendingJoin(const std::string& group_id, const std::string& user) = 0;
  virtual Result<std::set<std::string>> PendingJoiners(const std::string& group_id) = 0;
  // Groups with a pending join (the caller checks which have a replica).
  virtual Result<std::vector<std::string>> PendingJoinGroups() = 0;
};

}  // namespace gc
