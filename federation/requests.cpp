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
#include "services/users/user_service.h"

namespace gc {

using nlohmann::json;
using namespace wire;

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
  auto r = store_.Rewind(*row, peer, std::max<int64_t>(from - 1, -1));
  if (!r.ok()) return AnswerError(peer, re, r.error());
  if (!*r) return AnswerError(peer, re, Error::Forbidden("not a participant of the group"));
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
  auto part = store_.IsParticipant(*row, peer);
  if (!part.ok()) return AnswerError(peer, re, part.error());
  if (!*part) return AnswerError(peer, re, Error::Forbidden("not a participant of the group"));
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
  auto anchor = entries_.PrevHashAt(group.row, before_seq);
  if (!anchor.ok()) return anchor.error();
  if (!*anchor || **anchor != last.entry_hash) {
    ++rejected;
    LogWarn("federation history refused: it does not link to the held log", {{"group", group.address}});
    return Error::Invalid("history does not link to the held log");
  }
  if (!HomeSigned(group.server, group.address, last)) return Error::Unauthorized("the home signature does not verify");
  Status st = entries_.StoreBackfill(group, drafts);
  if (!st.ok()) return st;
  LogInfo("fetched older history", {{"group", group.address}, {"from_seq", drafts.front().fixed->seq},
                                    {"entries", static_cast<int64_t>(drafts.size())}});
  return OkStatus();
}

}  // namespace gc
