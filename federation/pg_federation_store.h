// PgFederationStore: the FederationStore in PostgreSQL: federation's own
// tables (fed_group_peers, fed_outbox, fed_pending_joins;
// federation/migrations/), never the group log's (those are behind
// services/groups/log_entry_store.h).
#pragma once

#include "federation/federation_store.h"
#include "services/groups/participant_recorder.h"

namespace gc {

class PgPool;

class PgFederationStore : public FederationStore, public ParticipantRecorder {
 public:
  explicit PgFederationStore(PgPool& db) : db_(db) {}

  Result<std::vector<PushTrack>> Tracks() override;
  Status SaveAcks(const std::map<std::pair<int64_t, std::string>, int64_t>& acks) override;
  Status NeedSnapshot(int64_t row, const std::string& peer) override;
  Result<bool> Rewind(int64_t row, const std::string& peer, int64_t acked) override;
  Result<bool> IsParticipant(int64_t row, const std::string& peer) override;
  Result<std::vector<PushTrack>> AllTracks() override;
  // ParticipantRecorder (the group log, in a membership event's transaction).
  Status ServerJoined(PgConn& c, int64_t group_row, const std::string& server) override;
  Status ServerLeft(PgConn& c, int64_t group_row, const std::string& server, int64_t seq) override;

  Result<std::optional<OutboxRecord>> OutboxByTxn(const std::string& sender, const std::string& txn_id) override;
  Status QueueOutbox(const std::string& home, const std::string& group_id, const std::vector<OutboxEntry>& entries,
                     int64_t now) override;
  Result<bool> HasPendingChange(const std::string& user, const std::string& group_id, int64_t last_seq) override;
  Result<std::vector<OutboxHead>> OutboxHeads() override;
  Status OutboxDone(int64_t id, int64_t seq) override;
  Status OutboxRefused(int64_t id, const std::string& error) override;
  Status OutboxRetry(int64_t id, int64_t now, const std::string& error) override;
  Status OutboxRetryNow(const std::string& peer) override;
  Result<std::vector<std::pair<std::string, std::string>>> OutboxTxnIds(
      const std::vector<std::string>& event_ids) override;
  Result<std::vector<PeerOutboxDepth>> OutboxDepths() override;
  Status Prune(int64_t before_ms) override;

  Status RecordPendingJoin(const std::string& group_id, const std::string& user, int64_t now) override;
  Status ForgetPendingJoin(const std::string& group_id, const std::string& user) override;
  Result<std::set<std::string>> PendingJoiners(const std::string& group_id) override;
  Result<std::vector<std::string>> PendingJoinGroups() override;

 private:
  PgPool& db_;
};

}  // namespace gc
