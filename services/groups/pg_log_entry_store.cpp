// PgLogEntryStore: the group log's stored entries as replication and
// verify-group read them (with their chain fields, JSON columns as text),
// and older history stored below a replica's log at negative stream
// positions. See log_entry_store.h.
#include "services/groups/pg_log_entry_store.h"

#include <nlohmann/json.hpp>

#include "node/db/pg.h"
#include "node/db/pg_array.h"
#include "services/groups/group_log.h"
#include "services/groups/projections.h"

namespace gc {

namespace {

#define GC_LES_ENTRY_COLUMNS                                                                                     \
  "seq, event_id, type, sender, origin, origin_ts, nonce, content_hash, relates_to, content::text, home_ts, " \
  "prev_hash, entry_hash, signatures::text, origin_signatures::text"

GC_SQL(kLesEntries, "SELECT " GC_LES_ENTRY_COLUMNS " FROM events WHERE group_id = $1 AND seq >= $2 AND seq <= $3 "
                    "ORDER BY seq");
GC_SQL(kLesEntriesAfter, "SELECT " GC_LES_ENTRY_COLUMNS " FROM events WHERE group_id = $1 AND seq > $2 "
                         "ORDER BY seq LIMIT $3");
GC_SQL(kLesChainOf,
       "SELECT id, server, head_hash, base_seq, last_seq FROM groups WHERE address = $1 AND deleted_at IS NULL");
GC_SQL(kLesEventSeq, "SELECT seq FROM events WHERE event_id = $1");
GC_SQL(kLesEntryHashAt, "SELECT entry_hash FROM events WHERE group_id = $1 AND seq = $2");
GC_SQL(kLesPrevOf, "SELECT prev_hash FROM events WHERE group_id = $1 AND seq = $2");
GC_SQL(kLesLastSeqs, "SELECT id, last_seq FROM groups WHERE id = ANY($1::bigint[])");
GC_SQL(kLesSetTxnId,
       "UPDATE events SET txn_id = $3 WHERE group_id = $1 AND event_id = $2 AND txn_id IS NULL");
// Replicas with local users in them ($1: this node's name), and how far each
// reaches.
GC_SQL(kLesLocalReplicas,
       "SELECT g.address, g.server, g.last_seq FROM groups g WHERE g.server <> $1 AND g.deleted_at IS NULL "
       "AND EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.membership IN ('join', 'invite') "
       "AND m.user_id LIKE '%:' || $1)");
// Backfilled entries get negative stream positions: they are history, never
// news on the stream (which replays positions above a client's cursor).
GC_SQL(kLesBackfillEvent,
       "INSERT INTO events (stream_pos, event_id, group_id, seq, type, sender, origin, origin_ts, content, relates_to, "
       "nonce, content_hash, home_ts, prev_hash, entry_hash, signatures, origin_signatures) VALUES ($1, $2, $3, $4, $5, "
       "$6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15, $16::jsonb, $17::jsonb) ON CONFLICT DO NOTHING");
GC_SQL(kLesBackfillBase, "UPDATE groups SET base_seq = LEAST(base_seq, $2) WHERE id = $1");
GC_SQL(kLesRelationsOf,
       "SELECT " GC_EVENT_COLUMNS ", e.home_ts FROM events e JOIN groups g ON g.id = e.group_id "
       "WHERE e.group_id = $1 AND e.relates_to = ANY($2::text[]) "
       "AND e.type IN ('message.edit', 'message.delete', 'reaction') ORDER BY e.seq");
GC_SQL(kLesClearReactions, "DELETE FROM reactions WHERE target = ANY($1::text[])");

#undef GC_LES_ENTRY_COLUMNS

Status LesDone(const Result<PgResult>& r) { return r.ok() ? OkStatus() : Status(r.error()); }

std::vector<StoredEntry> LesEntriesOf(const PgResult& r) {
  std::vector<StoredEntry> out;
  out.reserve(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    StoredEntry e;
    e.seq = r.int64(i, 0);
    e.event_id = r.text(i, 1);
    e.type = r.text(i, 2);
    e.sender = r.text(i, 3);
    e.origin = r.text(i, 4);
    e.origin_ts = r.int64(i, 5);
    e.nonce = r.opt_text(i, 6);
    e.content_hash = r.opt_text(i, 7);
    e.relates_to = r.opt_text(i, 8);
    e.content = r.text(i, 9);
    e.home_ts = r.opt_int64(i, 10);
    e.prev_hash = r.opt_text(i, 11);
    e.entry_hash = r.opt_text(i, 12);
    e.signatures = r.opt_text(i, 13);
    e.origin_signatures = r.opt_text(i, 14);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

Result<std::vector<StoredEntry>> PgLogEntryStore::Entries(int64_t row, int64_t from_seq, int64_t to_seq) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kLesEntries, {row, from_seq, to_seq}); });
  if (!r.ok()) return r.error();
  return LesEntriesOf(*r);
}

Result<std::vector<StoredEntry>> PgLogEntryStore::EntriesAfter(int64_t row, int64_t after_seq, int limit) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kLesEntriesAfter, {row, after_seq, limit}); });
  if (!r.ok()) return r.error();
  return LesEntriesOf(*r);
}

Result<std::optional<StoredChain>> PgLogEntryStore::ChainOf(const std::string& address) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kLesChainOf, {address}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<StoredChain>();
  return std::optional<StoredChain>(StoredChain{r->int64(0, 0), r->text(0, 1), r->text(0, 2), r->int64(0, 3)});
}

Result<std::optional<int64_t>> PgLogEntryStore::SeqOf(const std::string& event_id) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kLesEventSeq, {event_id}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<int64_t>();
  return std::optional<int64_t>(r->int64(0, 0));
}

Result<std::optional<std::string>> PgLogEntryStore::EntryHashAt(int64_t row, int64_t seq) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kLesEntryHashAt, {row, seq}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<std::string>();
  return r->opt_text(0, 0);
}

Result<std::optional<std::string>> PgLogEntryStore::PrevHashAt(int64_t row, int64_t seq) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kLesPrevOf, {row, seq}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(r->opt_text(0, 0).value_or(""));
}

Result<std::map<int64_t, int64_t>> PgLogEntryStore::LastSeqs(const std::vector<int64_t>& rows) {
  std::map<int64_t, int64_t> out;
  if (rows.empty()) return out;
  std::string arr = PgArray::Of(rows);
  auto r = db_.With([&](PgConn& c) { return c.Exec(kLesLastSeqs, {arr}); });
  if (!r.ok()) return r.error();
  for (int i = 0; i < r->rows(); ++i) out[r->int64(i, 0)] = r->int64(i, 1);
  return out;
}

Status PgLogEntryStore::SetTxnIds(int64_t row, const std::vector<std::pair<std::string, std::string>>& txn_ids) {
  if (txn_ids.empty()) return OkStatus();
  return db_.Transaction([&](PgConn& c) -> Status {
    for (const auto& [event_id, txn_id] : txn_ids) GC_TRY(LesDone(c.Exec(kLesSetTxnId, {row, event_id, txn_id})));
    return OkStatus();
  });
}

Result<std::vector<ReplicaHead>> PgLogEntryStore::LocalReplicas(const std::string& self) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kLesLocalReplicas, {self}); });
  if (!r.ok()) return r.error();
  std::vector<ReplicaHead> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back({r->text(i, 0), r->text(i, 1), r->int64(i, 2)});
  return out;
}

Status PgLogEntryStore::StoreBackfill(const GroupState& group, std::vector<Draft>& drafts) {
  if (drafts.empty()) return OkStatus();
  return db_.Transaction([&](PgConn& c) -> Status {
    std::vector<std::string> ids;
    for (Draft& d : drafts) {
      const FixedEvent& f = *d.fixed;
      GroupEvent ev;
      ev.stream_pos = -((group.row << 32) | f.seq);
      ev.event_id = f.event_id;
      ev.group_row = group.row;
      ev.group_id = group.address;
      ev.seq = f.seq;
      ev.type = d.type;
      ev.sender = d.sender;
      ev.origin = f.origin;
      ev.origin_ts = f.origin_ts;
      ev.home_ts = f.home_ts;
      ev.content = d.content;
      ev.relates_to = d.relates_to;
      GC_TRY(LesDone(c.Exec(kLesBackfillEvent,
                            {ev.stream_pos, ev.event_id, ev.group_row, ev.seq, ev.type, ev.sender, ev.origin,
                             ev.origin_ts, ev.content.dump(), ev.relates_to, f.nonce, f.content_hash, f.home_ts,
                             f.prev, f.entry_hash, f.signatures.dump(),
                             f.origin_signatures.is_null() ? std::optional<std::string>()
                                                           : f.origin_signatures.dump()})));
      // Old membership and settings are not replayed (the state is newer);
      // a message's mentions are.
      if (ev.type == "message" && d.project) GC_TRY(d.project(c, ev));
      if (ev.type == "message") ids.push_back(ev.event_id);
    }
    GC_TRY(LesDone(c.Exec(kLesBackfillBase, {group.row, drafts.front().fixed->seq})));
    if (ids.empty()) return OkStatus();
    // Edits, deletes and reactions of the fetched messages, fetched or held,
    // in log order (those held were applied when no message was there).
    std::string arr = PgArray::Of(ids);
    GC_TRY(LesDone(c.Exec(kLesClearReactions, {arr})));
    auto rel = c.Exec(kLesRelationsOf, {group.row, arr});
    if (!rel.ok()) return rel.error();
    for (int i = 0; i < rel->rows(); ++i) {
      GroupEvent ev = EventFromRow(*rel, i);
      ev.home_ts = rel->opt_int64(i, 14).value_or(0);
      Draft d = EventDraft(ev.sender, ev.type, ev.content, ev.relates_to);
      if (d.project) GC_TRY(d.project(c, ev));
    }
    // Backfilled positions lie below the search indexer's cursor: the hook
    // indexes them here, with the edits and deletes just applied.
    if (!after_backfill_) return OkStatus();
    return after_backfill_(c, -((group.row << 32) | drafts.back().fixed->seq),
                           -((group.row << 32) | drafts.front().fixed->seq));
  });
}

}  // namespace gc
