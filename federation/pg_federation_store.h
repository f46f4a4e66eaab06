// PgFederationStore: the FederationStore in PostgreSQL. Federation's own
// tables (fed_group_peers, fed_outbox, fed_pending_joins;
// federation/migrations/) in pg_federation_store.cpp; the reads and writes of
// the group log's tables (events, groups, reactions) that replication needs
// in pg_federation_log.cpp.
#pragma once

#include "federation/federation_store.h"

namespace gc {

class PgPool;

class PgFederationStore : public FederationStore {
 public:
  explicit PgFederationStore(PgPool& db) : db_(db) {}

  Result<std::vector<PushTrack>> Tracks() override;
  Status SaveAcks(const std::map<std::pair<int64_t, std::string>, int64_t>& acks) override;
  Status NeedSnapshot(int64_t row, const std::string& peer) override;
  Result<bool> Rewind(int64_t row, const std::string& peer, int64_t acked) override;
  Result<bool> IsParticipant(int64_t row, const std::string& peer) override;
  Result<std::vector<WireEntry>> WireEntries(int64_t row, const std::string& group_id, int64_t from_seq,
                                             int64_t to_seq) override;
  Result<std::vector<PeerPushDepth>> PushDepths() override;

  Result<std::optional<OutboxRecord>> OutboxByTxn(const std::string& sender, const std::string& txn_id) override;
  Status QueueOutbox(const std::string& home, const std::string& group_id, const std::vector<OutboxEntry>& entries,
                     int64_t now) override;
  Result<bool> HasPendingChange(const std::string& user, const std::string& group_id, int64_t last_seq) override;
  Result<std::vector<OutboxHead>> OutboxHeads() override;
  Status OutboxDone(int64_t id, int64_t seq) override;
  Status OutboxRefused(int64_t id, const std::string& error) override;
  Status OutboxRetry(int64_t id, int64_t now, const std::string& error) override;
  Status OutboxRetryNow(const std::string& peer) override;
  Result<std::vector<PeerOutboxDepth>> OutboxDepths() override;
  Status Prune(int64_t before_ms) override;

  Status RecordPendingJoin(const std::string& group_id, const std::string& user, int64_t now) override;
  Status ForgetPendingJoin(const std::string& group_id, const std::string& user) override;
  Result<std::set<std::string>> PendingJoiners(const std::string& group_id) override;
  Result<std::vector<std::string>> JoinsWithoutReplica() override;
  Result<std::vector<ReplicaHead>> LocalReplicas(const std::string& self) override;

  Result<std::optional<int64_t>> SeqOf(const std::string& event_id) override;
  Result<std::optional<std::string>> EntryHashAt(int64_t row, int64_t seq) override;
  Result<std::optional<std::string>> PrevHashAt(int64_t row, int64_t seq) override;
  Status TxnIdsFromOutbox(int64_t row, int64_t after_seq) override;
  Status StoreBackfill(const GroupState& group, std::vector<Draft>& drafts) override;
  Result<std::optional<StoredChain>> ChainOf(const std::string& address) override;
  Result<std::vector<StoredEntry>> EntriesAfter(int64_t row, int64_t after_seq, int limit) override;

 private:
  PgPool& db_;
};

}  // namespace gc
