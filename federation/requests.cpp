// The one-off requests between nodes, both sides of each (spec/federation.md
// 8.5, 8.6a, 8.6b): `catchup`, `profile` and `history`. (`key_query` is
// answered in the dispatcher, federation.cpp.)
//
// - catchup: a participant asks the home to push again from a seq, because
//   a crash may have cost it entries it had acknowledged, or because the
//   home was out of reach. The home only moves the participant's delivery
//   position back; the entries come by the ordinary pushes (home_push.cpp).
//   Asked by join.cpp (RepairReplicas).
// - profile: the public profile of a user of the answering node, asked when
//   a local user looks at a remote one and cached here for 5 minutes.
// - history: entries older than a replica's first one, when a client pages
//   back to it. They are checked like pushed entries and must link to the
//   held log (the last fetched entry hashes to the first held one's `prev`),
//   so the held chain vouches for them; they are stored with negative
//   stream positions, history that the stream never replays as news.
//
// A home answers catchup and history only for current participants of the
// group.
#include <algorithm>

#include "federation/federation.h"
#include "federation/frame_text.h"
#include "federation/wire.h"
#include "node/common/address.h"
#include "node/common/log.h"
#include "node/db/pg.h"
#include "services/groups/projections.h"
#include "services/messaging/pg_search_index_store.h"
#include "services/users/user_service.h"

namespace gc {

using nlohmann::json;
using namespace wire;

namespace {

// Only a current participant (not stopped at until_seq) can rewind.
GC_SQL(kRewind,
       "UPDATE fed_group_peers SET acked_seq = LEAST(acked_seq, $3) WHERE group_id = $1 AND peer = $2 "
       "AND until_seq IS NULL");
GC_SQL(kIsParticipant, "SELECT 1 FROM fed_group_peers WHERE group_id = $1 AND peer = $2 AND until_seq IS NULL");
GC_SQL(kPrevOf, "SELECT prev_hash FROM events WHERE group_id = $1 AND seq = $2");
// Backfilled entries get negative stream positions: they are history, never
// news on the stream (which replays positions above a client's cursor).
GC_SQL(kBackfillEvent,
       "INSERT INTO events (stream_pos, event_id, group_id, seq, type, sender, origin, origin_ts, content, relates_to, "
       "nonce, content_hash, home_ts, prev_hash, entry_hash, signatures, origin_signatures) VALUES ($1, $2, $3, $4, $5, "
       "$6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15, $16::jsonb, $17::jsonb) ON CONFLICT DO NOTHING");
GC_SQL(kBackfillBase, "UPDATE groups SET base_seq = LEAST(base_seq, $2) WHERE id = $1");
GC_SQL(kRelationsOf,
       "SELECT " GC_EVENT_COLUMNS ", e.home_ts FROM events e JOIN groups g ON g.id = e.group_id "
       "WHERE e.group_id = $1 AND e.relates_to = ANY($2::text[]) "
       "AND e.type IN ('message.edit', 'message.delete', 'reaction') ORDER BY e.seq");
GC_SQL(kClearReactions, "DELETE FROM reactions WHERE target = ANY($1::text[])");

}  // namespace

void Federation::HandleCatchup(const std::string& peer, const std::string& re, const json& body) {
  if (!IsStr(body, "group_id") || !IsInt(body, "from_seq")) {
    return AnswerError(peer, re, Error::Invalid("catchup needs group_id and from_seq"));
  }
  std::string gid = body["group_id"];
  int64_t from = body["from_seq"];
  auto row = log_.FindByAddress(gid);
  if (!row.ok() || ServerOf(gid) != self_) return AnswerError(peer, re, Error::NotFound("no such group here"));
  // Only a participant (a peer with a delivery row) can ask; it gets the log
  // from `from_seq` by the normal pushes (0: a snapshot).
  auto r = db_.With([&](PgConn& c) { return c.Exec(kRewind, {*row, peer, std::max<int64_t>(from - 1, -1)}); });
  if (!r.ok()) return AnswerError(peer, re, r.error());
  if (r->affected() == 0) return AnswerError(peer, re, Error::Forbidden("not a participant of the group"));
  Rewind(*row, peer, std::max<int64_t>(from - 1, -1));
  Answer(peer, re, true, {{"group_id", gid}});
}

void Federation::HandleProfile(const std::string& peer, const std::string& re, const json& body) {
  std::string user = IsStr(body, "user_id") ? body["user_id"].get<std::string>() : "";
  auto addr = ParseUserId(user);
  if (!addr || addr->server != self_ || !users_) return AnswerError(peer, re, Error::NotFound("no such user"));
  auto u = users_->GetUser(user);
  if (!u.ok()) return AnswerError(peer, re, u.error());
  Answer(peer, re, true,
         {{"user_id", (*u)->user_id},
          {"display_name", (*u)->display_name},
          {"avatar_media_id", (*u)->avatar_media_id ? json(*(*u)->avatar_media_id) : json(nullptr)},
          {"deactivated", (*u)->deactivated}});
}

Result<json> Federation::RemoteProfile(const std::string& user_id) {
  auto addr = ParseUserId(user_id);
  if (!addr) return Error::NotFound("no such user");
  {
    std::lock_guard<std::mutex> lock(profiles_mu_);
    auto it = profiles_.find(user_id);
    if (it != profiles_.end() && NowMs() - it->second.first < 300000) return it->second.second;
  }
  auto answer = Call(addr->server, "profile", {{"user_id", user_id}}, std::chrono::seconds(5));
  if (!answer.ok()) return answer.error();
  // Only what a profile holds, and only for the user asked about.
  const json& b = *answer;
  if (!IsStr(b, "user_id") || b["user_id"] != user_id) return Error::Unavailable(addr->server + " answered for another user");
  std::string name = IsStr(b, "display_name") ? b["display_name"].get<std::string>() : "";
  if (name.size() > 1024) name.clear();
  json p = {{"user_id", user_id},
            {"display_name", name},
            {"avatar_media_id", IsStr(b, "avatar_media_id") ? b["avatar_media_id"] : json(nullptr)},
            {"presence", "unknown"}};
  if (b.contains("deactivated") && b["deactivated"] == true) p["deactivated"] = true;
  std::lock_guard<std::mutex> plock(profiles_mu_);
  if (profiles_.size() > 10000) profiles_.clear();
  profiles_[user_id] = {NowMs(), p};
  return p;
}

void Federation::HandleHistory(const std::string& peer, const std::string& re, const json& body) {
  if (!IsStr(body, "group_id") || !IsInt(body, "before_seq")) {
    return AnswerError(peer, re, Error::Invalid("history needs group_id and before_seq"));
  }
  std::string gid = body["group_id"];
  int64_t before = body["before_seq"];
  int64_t limit = IsInt(body, "limit") ? std::clamp<int64_t>(body["limit"].get<int64_t>(), 1, kPushBatch) : 100;
  auto row = log_.FindByAddress(gid);
  if (!row.ok() || ServerOf(gid) != self_) return AnswerError(peer, re, Error::NotFound("no such group here"));
  // Only a current participant gets a group's history.
  auto part = db_.With([&](PgConn& c) { return c.Exec(kIsParticipant, {*row, peer}); });
  if (!part.ok()) return AnswerError(peer, re, part.error());
  if (part->rows() == 0) return AnswerError(peer, re, Error::Forbidden("not a participant of the group"));
  auto entries = LoadEntries(*row, gid, std::max<int64_t>(1, before - limit), before - 1);
  if (!entries.ok()) return AnswerError(peer, re, entries.error());
  TrimToFrame(*entries, /*keep_latest=*/true);  // the entries next to before_seq
  AnswerText(peer, re, EntriesBody(gid, *entries));
}

Status Federation::Backfill(const GroupState& group, int64_t before_seq) {
  auto answer = Call(group.server, "history", {{"group_id", group.address}, {"before_seq", before_seq}, {"limit", 200}},
                     std::chrono::seconds(5));
  if (!answer.ok()) return answer.error();
  const json& entries = answer->contains("entries") ? (*answer)["entries"] : json();
  if (!entries.is_array() || entries.empty()) return OkStatus();
  auto admitted = peers_.Resolve(group.server);  // the home must still be a pinned, admitted peer
  if (!admitted.ok()) return admitted.error();
  // Verify the run, then that its last entry is the one the held log starts
  // from: the held chain vouches for it (and its signature is checked too).
  std::vector<Draft> drafts;
  for (const auto& e : entries) {
    auto d = VerifyEntry(group.server, group.address, e);
    if (!d.ok()) return d.error();
    if (!drafts.empty()) {
      const FixedEvent& prev = *drafts.back().fixed;
      if (d->fixed->seq != prev.seq + 1 || d->fixed->prev != prev.entry_hash) {
        return Error::Invalid("history entries do not form a chain");
      }
    }
    drafts.push_back(std::move(*d));
  }
  const FixedEvent& last = *drafts.back().fixed;
  if (last.seq != before_seq - 1) return Error::Invalid("history does not end right before the held log");
  auto anchor = db_.With([&](PgConn& c) { return c.Exec(kPrevOf, {group.row, before_seq}); });
  if (!anchor.ok()) return anchor.error();
  if (anchor->rows() == 0 || anchor->opt_text(0, 0).value_or("") != last.entry_hash) {
    ++rejected;
    LogWarn("federation history refused: it does not link to the held log", {{"group", group.address}});
    return Error::Invalid("history does not link to the held log");
  }
  if (!HomeSigned(group.server, group.address, last)) return Error::Unauthorized("the home signature does not verify");
  Status st = db_.Transaction([&](PgConn& c) -> Status {
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
      auto r = c.Exec(kBackfillEvent,
                      {ev.stream_pos, ev.event_id, ev.group_row, ev.seq, ev.type, ev.sender, ev.origin, ev.origin_ts,
                       ev.content.dump(), ev.relates_to, f.nonce, f.content_hash, f.home_ts, f.prev, f.entry_hash,
                       f.signatures.dump(),
                       f.origin_signatures.is_null() ? std::optional<std::string>() : f.origin_signatures.dump()});
      if (!r.ok()) return r.error();
      // Old membership and settings are not replayed (the state is newer);
      // a message's mentions are.
      if (ev.type == "message" && d.project) GC_TRY(d.project(c, ev));
      if (ev.type == "message") ids.push_back(ev.event_id);
    }
    auto base = c.Exec(kBackfillBase, {group.row, drafts.front().fixed->seq});
    if (!base.ok()) return base.error();
    if (ids.empty()) return OkStatus();
    // Edits, deletes and reactions of the fetched messages, fetched or held,
    // in log order (those held were applied when no message was there).
    std::string arr = "{";
    for (size_t i = 0; i < ids.size(); ++i) arr += (i ? ",\"" : "\"") + ids[i] + "\"";
    arr += "}";
    auto clear = c.Exec(kClearReactions, {arr});
    if (!clear.ok()) return clear.error();
    auto rel = c.Exec(kRelationsOf, {group.row, arr});
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
  if (!st.ok()) return st;
  LogInfo("fetched older history", {{"group", group.address}, {"from_seq", drafts.front().fixed->seq},
                                    {"entries", static_cast<int64_t>(drafts.size())}});
  return OkStatus();
}

}  // namespace gc
