#include "federation/pg_federation_store.h"

#include "node/db/pg.h"
#include "node/db/pg_array.h"

namespace gc {

namespace {

// Deliveries (the home's side).
GC_SQL(kFedTracks,
       "SELECT group_id, peer, acked_seq, until_seq FROM fed_group_peers "
       "WHERE until_seq IS NULL OR acked_seq < until_seq");
GC_SQL(kFedSetAcked, "UPDATE fed_group_peers SET acked_seq = $3 WHERE group_id = $1 AND peer = $2");
GC_SQL(kFedNeedSnapshot,
       "INSERT INTO fed_group_peers (group_id, peer, acked_seq) VALUES ($1, $2, -1) "
       "ON CONFLICT (group_id, peer) DO UPDATE SET acked_seq = -1");
// Only a current participant (not stopped at until_seq) can rewind.
GC_SQL(kFedRewind,
       "UPDATE fed_group_peers SET acked_seq = LEAST(acked_seq, $3) WHERE group_id = $1 AND peer = $2 "
       "AND until_seq IS NULL");
GC_SQL(kFedIsParticipant, "SELECT 1 FROM fed_group_peers WHERE group_id = $1 AND peer = $2 AND until_seq IS NULL");
GC_SQL(kFedAllTracks, "SELECT group_id, peer, acked_seq, until_seq FROM fed_group_peers");
// A server with a member (again) takes part (-1: a new participant needs a
// snapshot first); one that lost its last member stops at that seq.
GC_SQL(kFedServerJoined,
       "INSERT INTO fed_group_peers (group_id, peer, acked_seq) VALUES ($1, $2, -1) "
       "ON CONFLICT (group_id, peer) DO UPDATE SET until_seq = NULL");
GC_SQL(kFedServerLeft, "UPDATE fed_group_peers SET until_seq = $3 WHERE group_id = $1 AND peer = $2");

// The outbox (the participant's side).
GC_SQL(kFedOutboxInsert,
       "INSERT INTO fed_outbox (peer, event_id, sender, txn_id, body, created_at, group_id, own_membership) "
       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id");
// The sender's own membership change in the group that the local replica
// does not reflect yet: still queued, or sequenced at a seq not yet applied
// here ($3 is the replica's last_seq).
GC_SQL(kFedOutboxPendingChange,
       "SELECT event_id FROM fed_outbox WHERE sender = $1 AND group_id = $2 AND own_membership "
       "AND (state = 'pending' OR (state = 'done' AND seq > $3)) LIMIT 1");
GC_SQL(kFedOutboxByTxn, "SELECT event_id, state, seq, last_error FROM fed_outbox WHERE sender = $1 AND txn_id = $2");
// The first pending event of each (home, sender), due or not: a sender whose
// first event waits for its retry waits as a whole.
GC_SQL(kFedOutboxHeads,
       "SELECT DISTINCT ON (peer, sender) id, peer, event_id, body, sender, next_at FROM fed_outbox "
       "WHERE state = 'pending' ORDER BY peer, sender, id");
GC_SQL(kFedOutboxDone, "UPDATE fed_outbox SET state = 'done', seq = $2 WHERE id = $1");
GC_SQL(kFedOutboxRefused, "UPDATE fed_outbox SET state = 'refused', last_error = $2 WHERE id = $1");
// Retried after 1 s, 2 s, 4 s, ... at most 60 s ($2 is now); a peer that
// answers again resets the wait (Federation::RetryPeer).
GC_SQL(kFedOutboxRetry,
       "UPDATE fed_outbox SET attempts = attempts + 1, "
       "next_at = $2 + LEAST(60000, 1000 * (1::bigint << LEAST(attempts, 6))), last_error = $3 WHERE id = $1");
GC_SQL(kFedOutboxTxnIds,
       "SELECT event_id, txn_id FROM fed_outbox WHERE event_id = ANY($1::text[]) AND txn_id IS NOT NULL");
GC_SQL(kFedOutboxRetryPeer, "UPDATE fed_outbox SET next_at = 0 WHERE peer = $1 AND state = 'pending'");
GC_SQL(kFedOutboxDepth,
       "SELECT peer, count(*) FILTER (WHERE state = 'pending'), min(created_at) FILTER (WHERE state = 'pending'), "
       "count(*) FILTER (WHERE state = 'refused') FROM fed_outbox GROUP BY peer");
GC_SQL(kFedOutboxPrune, "DELETE FROM fed_outbox WHERE state <> 'pending' AND created_at < $1");

// Joins waiting for a snapshot.
GC_SQL(kFedPendingJoinInsert,
       "INSERT INTO fed_pending_joins (group_id, user_id, created_at) VALUES ($1, $2, $3) "
       "ON CONFLICT (group_id, user_id) DO UPDATE SET created_at = EXCLUDED.created_at");
GC_SQL(kFedPendingJoinDelete, "DELETE FROM fed_pending_joins WHERE group_id = $1 AND user_id = $2");
GC_SQL(kFedPendingJoiners, "SELECT user_id FROM fed_pending_joins WHERE group_id = $1");
GC_SQL(kFedPendingJoinGroups, "SELECT DISTINCT group_id FROM fed_pending_joins");
GC_SQL(kFedPendingJoinsPrune, "DELETE FROM fed_pending_joins WHERE created_at < $1");

std::vector<PushTrack> TracksOf(const PgResult& r) {
  std::vector<PushTrack> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.int64(i, 0), r.text(i, 1), r.int64(i, 2), r.opt_int64(i, 3)});
  return out;
}

}  // namespace

Result<std::vector<PushTrack>> PgFederationStore::Tracks() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kFedTracks); });
  if (!r.ok()) return r.error();
  return TracksOf(*r);
}

Status PgFederationStore::SaveAcks(const std::map<std::pair<int64_t, std::string>, int64_t>& acks) {
  return db_.Transaction([&](PgConn& c) -> Status {
    for (const auto& [k, have] : acks) GC_TRY(StatusOf(c.Exec(kFedSetAcked, {k.first, k.second, have})));
    return OkStatus();
  });
}

Status PgFederationStore::ServerJoined(PgConn& c, int64_t group_row, const std::string& server) {
  return StatusOf(c.Exec(kFedServerJoined, {group_row, server}));
}

Status PgFederationStore::ServerLeft(PgConn& c, int64_t group_row, const std::string& server, int64_t seq) {
  return StatusOf(c.Exec(kFedServerLeft, {group_row, server, seq}));
}

Status PgFederationStore::NeedSnapshot(int64_t row, const std::string& peer) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedNeedSnapshot, {row, peer}); }));
}

Result<bool> PgFederationStore::Rewind(int64_t row, const std::string& peer, int64_t acked) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedRewind, {row, peer, acked}); });
  if (!r.ok()) return r.error();
  return r->affected() > 0;
}

Result<bool> PgFederationStore::IsParticipant(int64_t row, const std::string& peer) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedIsParticipant, {row, peer}); });
  if (!r.ok()) return r.error();
  return r->rows() > 0;
}

Result<std::vector<PushTrack>> PgFederationStore::AllTracks() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kFedAllTracks); });
  if (!r.ok()) return r.error();
  return TracksOf(*r);
}

Result<std::optional<OutboxRecord>> PgFederationStore::OutboxByTxn(const std::string& sender,
                                                                   const std::string& txn_id) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedOutboxByTxn, {sender, txn_id}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<OutboxRecord>();
  return std::optional<OutboxRecord>(
      OutboxRecord{r->text(0, 0), r->text(0, 1), r->opt_int64(0, 2).value_or(0), r->opt_text(0, 3).value_or("")});
}

Status PgFederationStore::QueueOutbox(const std::string& home, const std::string& group_id,
                                      const std::vector<OutboxEntry>& entries, int64_t now) {
  return db_.Transaction([&](PgConn& c) -> Status {
    for (const OutboxEntry& e : entries) {
      GC_TRY(StatusOf(c.Exec(kFedOutboxInsert,
                         {home, e.event_id, e.sender, e.txn_id, e.body, now, group_id, e.own_membership})));
    }
    return OkStatus();
  });
}

Result<bool> PgFederationStore::HasPendingChange(const std::string& user, const std::string& group_id,
                                                 int64_t last_seq) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedOutboxPendingChange, {user, group_id, last_seq}); });
  if (!r.ok()) return r.error();
  return r->rows() > 0;
}

Result<std::vector<OutboxHead>> PgFederationStore::OutboxHeads() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kFedOutboxHeads); });
  if (!r.ok()) return r.error();
  std::vector<OutboxHead> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->int64(i, 0), r->text(i, 1), r->text(i, 2), r->text(i, 3), r->text(i, 4), r->int64(i, 5)});
  }
  return out;
}

Status PgFederationStore::OutboxDone(int64_t id, int64_t seq) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedOutboxDone, {id, seq}); }));
}

Status PgFederationStore::OutboxRefused(int64_t id, const std::string& error) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedOutboxRefused, {id, error}); }));
}

Status PgFederationStore::OutboxRetry(int64_t id, int64_t now, const std::string& error) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedOutboxRetry, {id, now, error}); }));
}

Status PgFederationStore::OutboxRetryNow(const std::string& peer) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedOutboxRetryPeer, {peer}); }));
}

Result<std::vector<std::pair<std::string, std::string>>> PgFederationStore::OutboxTxnIds(
    const std::vector<std::string>& event_ids) {
  std::vector<std::pair<std::string, std::string>> out;
  if (event_ids.empty()) return out;
  std::string arr = PgArray::Of(event_ids);
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedOutboxTxnIds, {arr}); });
  if (!r.ok()) return r.error();
  for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->text(i, 0), r->text(i, 1));
  return out;
}

Result<std::vector<PeerOutboxDepth>> PgFederationStore::OutboxDepths() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kFedOutboxDepth); });
  if (!r.ok()) return r.error();
  std::vector<PeerOutboxDepth> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back({r->text(i, 0), r->int64(i, 1), r->int64(i, 3), r->opt_int64(i, 2)});
  }
  return out;
}

Status PgFederationStore::Prune(int64_t before_ms) {
  Status outbox = StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedOutboxPrune, {before_ms}); }));
  Status joins = StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedPendingJoinsPrune, {before_ms}); }));
  return outbox.ok() ? joins : outbox;
}

Status PgFederationStore::RecordPendingJoin(const std::string& group_id, const std::string& user, int64_t now) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedPendingJoinInsert, {group_id, user, now}); }));
}

Status PgFederationStore::ForgetPendingJoin(const std::string& group_id, const std::string& user) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedPendingJoinDelete, {group_id, user}); }));
}

Result<std::set<std::string>> PgFederationStore::PendingJoiners(const std::string& group_id) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedPendingJoiners, {group_id}); });
  if (!r.ok()) return r.error();
  std::set<std::string> users;
  for (int i = 0; i < r->rows(); ++i) users.insert(r->text(i, 0));
  return users;
}

Result<std::vector<std::string>> PgFederationStore::PendingJoinGroups() {
  auto r = db_.With([](PgConn& c) { return c.Exec(kFedPendingJoinGroups); });
  if (!r.ok()) return r.error();
  std::vector<std::string> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(r->text(i, 0));
  return out;
}

}  // namespace gc
