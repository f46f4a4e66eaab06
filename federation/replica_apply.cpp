// The participant's apply: the entries a home pushes, or sends as a
// snapshot, become this node's replica of the group (spec/federation.md 6.4,
// 8.1, 8.2, 9.3).
//
// Pushes and snapshots from every home are handled one at a time, in the
// order they arrive, on one thread (the applier). Each entry is checked
// (origin event and signature, content, event id, chain link;
// inbound_checks.cpp), and the home's signature over the last entry vouches
// for the whole linked run. Only the run that continues the held chain is
// appended: a gap or a bad entry ends it, and the answer `have` tells the
// home where to resume. A different entry for a seq already held is a fork
// of the log, refused and counted. A snapshot creates the replica, with
// this node's users only as far as they asked to join (join.cpp) or were
// invited: a home cannot make this node's users members of its groups.
//
// The group log's writer commits the entries while the applier checks the
// next push, which continues from the entries handed over (spec_heads_); a
// push is answered with `have` once its entries are committed (Applied),
// which also completes the local sends and joins waiting for them.
#include <algorithm>

#include "federation/federation.h"
#include "federation/frame_text.h"
#include "federation/inbound_checks.h"
#include "federation/wire.h"
#include "node/common/address.h"
#include "node/common/log.h"
#include "node/common/worker_pool.h"
#include "services/groups/signed_log/chain.h"

namespace gc {

using nlohmann::json;
using namespace wire;

void Federation::HandleEntries(const std::string& peer, const std::string& re, const json& body, bool snapshot) {
  if (!IsStr(body, "group_id") || !body.contains("entries")) {
    return AnswerError(peer, re, Error::Invalid("push needs group_id and entries"));
  }
  std::string gid = body["group_id"];
  if (!ParseGroupId(gid)) return AnswerError(peer, re, Error::Invalid("group_id is not a group address"));
  if (ServerOf(gid) != peer) return AnswerError(peer, re, Error::Forbidden("only a group's home node pushes its entries"));
  const json* state = nullptr;
  if (snapshot) {
    if (!body.contains("state") || !body["state"].is_object()) return AnswerError(peer, re, Error::Invalid("snapshot needs state"));
    state = &body["state"];
  }
  HaveFn answer = [this, peer, re, gid](const Result<int64_t>& have) {
    if (!have.ok()) return AnswerError(peer, re, have.error());
    Answer(peer, re, true, {{"group_id", gid}, {"have", *have}});
  };
  auto now = ApplyEntries(peer, gid, body["entries"], state, answer);
  if (!now.ok()) return answer(now.error());
  if (*now) answer(**now);  // else answered once the entries are written
}

Result<std::optional<int64_t>> Federation::ApplyEntries(const std::string& home, const std::string& group_id,
                                                        const json& entries, const json* state, const HaveFn& answer) {
  if (!entries.is_array() || entries.size() > static_cast<size_t>(kPushBatch)) {
    return Error::Invalid("entries must be an array of at most 500");
  }
  auto admitted = peers_.Resolve(home);  // the home must still be a pinned, admitted peer
  if (!admitted.ok()) return admitted.error();
  auto row = log_.FindByAddress(group_id);
  int64_t last = 0;
  std::string head;
  if (row.ok()) {
    auto st = log_.Read(*row, [](const GroupState& s) { return std::make_pair(s.last_seq, s.head_hash); });
    if (!st.ok()) return st.error();
    last = st->first;
    head = st->second;
    // Entries queued for the writer but not yet committed count as held.
    std::lock_guard<std::mutex> lock(mu_);
    auto spec = spec_heads_.find(group_id);
    if (spec != spec_heads_.end() && spec->second.first > last) {
      last = spec->second.first;
      head = spec->second.second;
    }
  } else if (!state) {
    return std::optional<int64_t>(-1);  // no replica: ask for a snapshot
  }
  std::vector<Draft> drafts;
  std::vector<const json*> held;
  int64_t want = row.ok() ? last + 1 : 0;
  std::string prev = head;
  Status bad = OkStatus();
  for (const auto& e : entries) {
    if (!IsInt(e, "seq")) {
      bad = Error::Invalid("malformed entry");
      break;
    }
    if (row.ok() && e["seq"].get<int64_t>() <= last) {
      held.push_back(&e);  // held already (checked for a fork below)
      continue;
    }
    auto d = VerifyEntry(home, group_id, e);
    if (!d.ok()) {
      bad = d.error();
      break;
    }
    if (want == 0) {  // the first entry of a new replica anchors the chain
      want = d->fixed->seq;
      prev = d->fixed->prev;
    }
    if (d->fixed->seq != want || d->fixed->prev != prev) break;  // a gap: the home resends from `have`
    ++want;
    prev = d->fixed->entry_hash;
    drafts.push_back(std::move(*d));
  }
  if (!bad.ok()) {
    ++rejected;
    LogWarn("federation entry refused", {{"peer", home}, {"group", group_id}, {"error", bad.error().message}});
  }
  // A different entry for a seq already held is a fork of the log: the home
  // rewrote history. Refused and reported; the replica keeps what it has.
  for (const json* e : held) {
    if (!IsInt(*e, "seq") || !IsStr(*e, "event_id") || !IsStr(*e, "prev") || !IsInt(*e, "home_ts")) continue;
    auto hash = EntryHash(group_id, (*e)["seq"], (*e)["prev"], (*e)["event_id"], (*e)["home_ts"]);
    auto stored = entries_.EntryHashAt(*row, (*e)["seq"].get<int64_t>());
    if (!hash.ok() || !stored.ok() || !*stored) continue;
    if (**stored != *hash) {
      ++forks;
      ++rejected;
      LogError("federation fork: the home sent a different entry for a seq this node holds",
               {{"peer", home}, {"group", group_id}, {"seq", (*e)["seq"].get<int64_t>()}});
      return Error::Conflict("entry " + std::to_string((*e)["seq"].get<int64_t>()) +
                             " differs from the one this node holds (a fork of the log)");
    }
    break;  // one check per push is enough: the chain links the rest
  }
  if (!row.ok() && drafts.empty()) return bad.ok() ? Error::Invalid("a snapshot needs entries") : bad.error();
  if (!drafts.empty()) {
    // The signature over the last entry vouches for the whole linked run,
    // for a new replica as for one held (6.4).
    const FixedEvent& f = *drafts.back().fixed;
    if (!HomeSigned(home, group_id, f)) {
      ++rejected;
      LogWarn("federation entries refused: the home signature does not verify", {{"peer", home}, {"group", group_id}});
      return Error::Unauthorized("the home signature of entry " + std::to_string(f.seq) + " does not verify");
    }
  }
  if (!row.ok()) {
    // A new replica from a snapshot.
    const json& s = *state;
    GroupState init;
    init.address = group_id;
    init.server = home;
    init.title = StrOr(s, "title", "");
    init.topic = StrOr(s, "topic", "");
    init.visibility = StrOr(s, "visibility", "public") == "private" ? "private" : "public";
    init.join_rule = StrOr(s, "join_rule", "open") == "invite" ? "invite" : "open";
    init.created_by = StrOr(s, "created_by", "");
    init.created_at = s.contains("created_at") && s["created_at"].is_number_integer() ? s["created_at"].get<int64_t>() : 0;
    init.base_seq = drafts.front().fixed->seq;
    init.last_seq = init.base_seq - 1;
    init.head_hash = drafts.front().fixed->prev;
    // A home may invite this node's users; that they joined it may only say
    // of those who asked this node to join (fed_pending_joins, 8.2). Other
    // local users it lists as joined are left out.
    auto asked = PendingJoiners(group_id);
    if (!asked.ok()) return asked.error();
    bool has_local = !asked->empty();
    if (s.contains("members") && s["members"].is_array()) {
      for (const auto& m : s["members"]) {
        if (!IsStr(m, "user_id") || !IsStr(m, "membership")) continue;
        std::string u = m["user_id"], ms = m["membership"], role = StrOr(m, "role", "member");
        if (!ParseUserId(u) || (ms != "join" && ms != "invite" && ms != "ban")) continue;
        if (role != "owner" && role != "admin") role = "member";
        if (ServerOf(u) == self_ && ms == "join" && !asked->count(u)) {
          ++rejected;
          LogWarn("snapshot member left out: a local user who did not ask to join",
                  {{"peer", home}, {"group", group_id}, {"user", u}});
          continue;
        }
        init.members[u] = Member{ms, role};
        if (ServerOf(u) == self_ && ms == "invite") has_local = true;
      }
    }
    if (!has_local) return Error::Forbidden("no user of this node was invited to that group or asked to join it");
    auto created = log_.CreateReplica(std::move(init), std::move(drafts));
    if (!created.ok()) return created.error();
    entries_applied += created->size();
    auto nrow = log_.FindByAddress(group_id);
    if (!nrow.ok()) return nrow.error();
    auto now_last = log_.Read(*nrow, [](const GroupState& st) { return st.last_seq; });
    if (!now_last.ok()) return now_last.error();
    workers_->Post([this, group_id] { SettleJoins(group_id); });
    return std::optional<int64_t>(*now_last);
  }
  if (drafts.empty()) {
    auto now_last = log_.Read(*row, [](const GroupState& st) { return st.last_seq; });
    if (!now_last.ok()) return now_last.error();
    return std::optional<int64_t>(*now_last);
  }
  // Written by the group log's writer while this thread verifies the next
  // push, which continues from these entries (spec_heads_).
  {
    std::lock_guard<std::mutex> lock(mu_);
    spec_heads_[group_id] = {drafts.back().fixed->seq, drafts.back().fixed->entry_hash};
  }
  int64_t r = *row;
  log_.ApplyAsync(r, std::move(drafts), [this, r, group_id, answer](Result<std::vector<GroupEvent>> applied) {
    // On the writer thread: hand over at once.
    auto shared = std::make_shared<Result<std::vector<GroupEvent>>>(std::move(applied));
    workers_->Post([this, r, group_id, answer, shared] { Applied(r, group_id, *shared, answer); });
  });
  return std::optional<int64_t>();
}

void Federation::SendsTxnIds(int64_t row, const std::vector<GroupEvent>& applied) {
  std::vector<std::string> own;
  for (const GroupEvent& e : applied) {
    if (e.origin == self_) own.push_back(e.event_id);
  }
  auto txn_ids = store_.OutboxTxnIds(own);
  if (txn_ids.ok()) (void)entries_.SetTxnIds(row, *txn_ids);
}

void Federation::Applied(int64_t row, const std::string& group_id,
                         const Result<std::vector<GroupEvent>>& applied, const HaveFn& answer) {
  if (!applied.ok()) {
    // Later pushes verified against these entries fail as gaps; the next
    // one starts again from what is committed.
    {
      std::lock_guard<std::mutex> lock(mu_);
      spec_heads_.erase(group_id);
    }
    return answer(applied.error());
  }
  entries_applied += applied->size();
  bool own = std::any_of(applied->begin(), applied->end(), [&](const GroupEvent& e) { return e.origin == self_; });
  if (own) SendsTxnIds(row, *applied);
  auto now_last = log_.Read(row, [](const GroupState& st) { return st.last_seq; });
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = spec_heads_.find(group_id);
    if (it != spec_heads_.end() && now_last.ok() && it->second.first <= *now_last) spec_heads_.erase(it);
  }
  if (!now_last.ok()) return answer(now_last.error());
  answer(*now_last);
  // Local users waiting for these entries (their sends, their joins).
  SendsApplied(group_id, *now_last);
  SettleJoins(group_id);
}

Result<Draft> Federation::VerifyEntry(const std::string& home, const std::string& group_id, const json& entry) {
  return gc::VerifyEntry(home, group_id, entry,
                         [this](const std::string& server, const std::string& kid) { return KeyOf(server, kid); });
}

bool Federation::HomeSigned(const std::string& home, const std::string& group_id, const FixedEvent& f) {
  auto kid = SignerKeyId(f.signatures, home);
  if (!kid) return false;
  auto pub = KeyOf(home, *kid);
  auto bytes = CanonicalEntry(group_id, f.seq, f.prev, f.event_id, f.home_ts);
  return pub.ok() && bytes.ok() && VerifyBytes(*bytes, f.signatures[home][*kid].get<std::string>(), *pub);
}

}  // namespace gc
