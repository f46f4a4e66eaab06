// The part of PgFederationStore that reads and writes the group log's tables
// (events, groups, reactions, group_members): entries in their wire form for
// pushes and history, the chain checks of replicas and verify-group, and
// older history stored below a replica's log. These are the group log's
// tables, but what replication reads of them (wire text straight from the
// rows, negative stream positions for backfill) is federation's concern;
// they live here, in storage code, so that the mechanisms hold no SQL.
#include <nlohmann/json.hpp>

#include "federation/frame_text.h"
#include "federation/pg_federation_store.h"
#include "node/db/pg.h"
#include "services/groups/group_log.h"
#include "services/groups/projections.h"
#include "services/messaging/pg_search_index_store.h"

namespace gc {

namespace {

using wire::AppendQuoted;

#define GC_FED_ENTRY_COLUMNS                                                                                     \
  "seq, event_id, type, sender, origin, origin_ts, nonce, content_hash, relates_to, content::text, home_ts, " \
  "prev_hash, entry_hash, signatures::text, origin_signatures::text"

GC_SQL(kFedEntries, "SELECT " GC_FED_ENTRY_COLUMNS " FROM events WHERE group_id = $1 AND seq >= $2 AND seq <= $3 "
                    "ORDER BY seq");
GC_SQL(kFedEntriesAfter, "SELECT " GC_FED_ENTRY_COLUMNS " FROM events WHERE group_id = $1 AND seq > $2 "
                         "ORDER BY seq LIMIT $3");
GC_SQL(kFedChainOf,
       "SELECT id, server, head_hash, base_seq, last_seq FROM groups WHERE address = $1 AND deleted_at IS NULL");
GC_SQL(kFedEventSeq, "SELECT seq FROM events WHERE event_id = $1");
GC_SQL(kFedEntryHashAt, "SELECT entry_hash FROM events WHERE group_id = $1 AND seq = $2");
GC_SQL(kFedPrevOf, "SELECT prev_hash FROM events WHERE group_id = $1 AND seq = $2");
GC_SQL(kFedTxnFromOutbox,
       "UPDATE events e SET txn_id = o.txn_id FROM fed_outbox o WHERE o.event_id = e.event_id "
       "AND e.group_id = $1 AND e.seq > $2 AND o.txn_id IS NOT NULL AND e.txn_id IS NULL");
// Replicas with local users in them ($1: this node's name), and how far each
// reaches.
GC_SQL(kFedLocalReplicas,
       "SELECT g.address, g.server, g.last_seq FROM groups g WHERE g.server <> $1 AND g.deleted_at IS NULL "
       "AND EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.membership IN ('join', 'invite') "
       "AND m.user_id LIKE '%:' || $1)");
// Backfilled entries get negative stream positions: they are history, never
// news on the stream (which replays positions above a client's cursor).
GC_SQL(kFedBackfillEvent,
       "INSERT INTO events (stream_pos, event_id, group_id, seq, type, sender, origin, origin_ts, content, relates_to, "
       "nonce, content_hash, home_ts, prev_hash, entry_hash, signatures, origin_signatures) VALUES ($1, $2, $3, $4, $5, "
       "$6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15, $16::jsonb, $17::jsonb) ON CONFLICT DO NOTHING");
GC_SQL(kFedBackfillBase, "UPDATE groups SET base_seq = LEAST(base_seq, $2) WHERE id = $1");
GC_SQL(kFedRelationsOf,
       "SELECT " GC_EVENT_COLUMNS ", e.home_ts FROM events e JOIN groups g ON g.id = e.group_id "
       "WHERE e.group_id = $1 AND e.relates_to = ANY($2::text[]) "
       "AND e.type IN ('message.edit', 'message.delete', 'reaction') ORDER BY e.seq");
GC_SQL(kFedClearReactions, "DELETE FROM reactions WHERE target = ANY($1::text[])");

// The wire form of an entry (spec 6.2) straight from a GC_FED_ENTRY_COLUMNS
// row: the JSON columns are copied as PostgreSQL prints them, nothing is
// parsed.
std::string EntryTextFromRow(const PgResult& r, int i, const std::string& group_id) {
  std::string out;
  out.reserve(768);
  out += "{\"seq\":";
  out += std::to_string(r.int64(i, 0));
  out += ",\"event_id\":";
  AppendQuoted(out, r.view(i, 1));
  out += ",\"event\":{\"group_id\":";
  AppendQuoted(out, group_id);
  out += ",\"type\":";
  AppendQuoted(out, r.view(i, 2));
  out += ",\"sender\":";
  AppendQuoted(out, r.view(i, 3));
  out += ",\"origin\":";
  AppendQuoted(out, r.view(i, 4));
  out += ",\"origin_ts\":";
  out += std::to_string(r.int64(i, 5));
  out += ",\"nonce\":";
  AppendQuoted(out, r.is_null(i, 6) ? std::string_view() : r.view(i, 6));
  out += ",\"content_hash\":";
  AppendQuoted(out, r.is_null(i, 7) ? std::string_view() : r.view(i, 7));
  if (!r.is_null(i, 8)) {
    out += ",\"relates_to\":";
    AppendQuoted(out, r.view(i, 8));
  }
  if (!r.is_null(i, 14)) {
    out += ",\"signatures\":";
    out += r.view(i, 14);
  }
  out += "},\"content\":";
  out += r.view(i, 9);
  out += ",\"home_ts\":";
  out += std::to_string(r.opt_int64(i, 10).value_or(0));
  out += ",\"prev\":";
  AppendQuoted(out, r.is_null(i, 11) ? std::string_view() : r.view(i, 11));
  out += ",\"signatures\":";
  out += r.is_null(i, 13) ? std::string_view("{}") : r.view(i, 13);
  out += '}';
  return out;
}

}  // namespace

Result<std::vector<WireEntry>> PgFederationStore::WireEntries(int64_t row, const std::string& group_id,
                                                              int64_t from_seq, int64_t to_seq) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedEntries, {row, from_seq, to_seq}); });
  if (!r.ok()) return r.error();
  std::vector<WireEntry> entries;
  entries.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) entries.push_back({r->int64(i, 0), EntryTextFromRow(*r, i, group_id)});
  return entries;
}

Result<std::vector<StoredEntry>> PgFederationStore::EntriesAfter(int64_t row, int64_t after_seq, int limit) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedEntriesAfter, {row, after_seq, limit}); });
  if (!r.ok()) return r.error();
  std::vector<StoredEntry> out;
  out.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) {
    StoredEntry e;
    e.seq = r->int64(i, 0);
    e.event_id = r->text(i, 1);
    e.type = r->text(i, 2);
    e.sender = r->text(i, 3);
    e.origin = r->text(i, 4);
    e.origin_ts = r->int64(i, 5);
    e.nonce = r->opt_text(i, 6);
    e.content_hash = r->opt_text(i, 7);
    e.relates_to = r->opt_text(i, 8);
    e.content = r->text(i, 9);
    e.home_ts = r->opt_int64(i, 10);
    e.prev_hash = r->opt_text(i, 11);
    e.entry_hash = r->opt_text(i, 12);
    e.signatures = r->opt_text(i, 13);
    e.origin_signatures = r->opt_text(i, 14);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::optional<StoredChain>> PgFederationStore::ChainOf(const std::string& address) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedChainOf, {address}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<StoredChain>();
  return std::optional<StoredChain>(StoredChain{r->int64(0, 0), r->text(0, 1), r->text(0, 2), r->int64(0, 3)});
}

Result<std::optional<int64_t>> PgFederationStore::SeqOf(const std::string& event_id) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedEventSeq, {event_id}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<int64_t>();
  return std::optional<int64_t>(r->int64(0, 0));
}

Result<std::optional<std::string>> PgFederationStore::EntryHashAt(int64_t row, int64_t seq) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedEntryHashAt, {row, seq}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<std::string>();
  return r->opt_text(0, 0);
}

Result<std::optional<std::string>> PgFederationStore::PrevHashAt(int64_t row, int64_t seq) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedPrevOf, {row, seq}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(r->opt_text(0, 0).value_or(""));
}

Status PgFederationStore::TxnIdsFromOutbox(int64_t row, int64_t after_seq) {
  return StatusOf(db_.With([&](PgConn& c) { return c.Exec(kFedTxnFromOutbox, {row, after_seq}); }));
}

Result<std::vector<ReplicaHead>> PgFederationStore::LocalReplicas(const std::string& self) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kFedLocalReplicas, {self}); });
  if (!r.ok()) return r.error();
  std::vector<ReplicaHead> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back({r->text(i, 0), r->text(i, 1), r->int64(i, 2)});
  return out;
}

Status PgFederationStore::StoreBackfill(const GroupState& group, std::vector<Draft>& drafts) {
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
      GC_TRY(StatusOf(c.Exec(kFedBackfillEvent,
                         {ev.stream_pos, ev.event_id, ev.group_row, ev.seq, ev.type, ev.sender, ev.origin,
                          ev.origin_ts, ev.content.dump(), ev.relates_to, f.nonce, f.content_hash, f.home_ts, f.prev,
                          f.entry_hash, f.signatures.dump(),
                          f.origin_signatures.is_null() ? std::optional<std::string>()
                                                        : f.origin_signatures.dump()})));
      // Old membership and settings are not replayed (the state is newer);
      // a message's mentions are.
      if (ev.type == "message" && d.project) GC_TRY(d.project(c, ev));
      if (ev.type == "message") ids.push_back(ev.event_id);
    }
    GC_TRY(StatusOf(c.Exec(kFedBackfillBase, {group.row, drafts.front().fixed->seq})));
    if (ids.empty()) return OkStatus();
    // Edits, deletes and reactions of the fetched messages, fetched or held,
    // in log order (those held were applied when no message was there).
    std::string arr = "{";
    for (size_t i = 0; i < ids.size(); ++i) arr += (i ? ",\"" : "\"") + ids[i] + "\"";
    arr += "}";
    GC_TRY(StatusOf(c.Exec(kFedClearReactions, {arr})));
    auto rel = c.Exec(kFedRelationsOf, {group.row, arr});
    if (!rel.ok()) return rel.error();
    for (int i = 0; i < rel->rows(); ++i) {
      GroupEvent ev = EventFromRow(*rel, i);
      ev.home_ts = rel->opt_int64(i, 14).value_or(0);
      Draft d = EventDraft(ev.sender, ev.type, ev.content, ev.relates_to);
      if (d.project) GC_TRY(d.project(c, ev));
    }
    // Backfilled positions lie below the search indexer's cursor: index
    // them here, with the edits and deletes just applied.
    return IndexSearchRange(c, -((group.row << 32) | drafts.back().fixed->seq),
                            -((group.row << 32) | drafts.front().fixed->seq));
  });
}

}  // namespace gc
