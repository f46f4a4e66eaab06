// The home's side of submits and joins: the events that peers' users write
// in groups homed here (spec/federation.md 5, 8.3, 8.4, 9.4).
//
// A remote user's event arrives as an origin event signed by the user's
// node. It is verified (the origin is the sending peer, its signature with
// the pinned key, canonical content of the type's shape; inbound_checks.cpp)
// and then carried out by the same service code as a local user's action
// (Dispatch), with the origin event pinned (ScopedOriginPin) so that the log
// appends exactly that event: the same rules hold for local and remote
// users, and the entry keeps the origin's event id and signature. An event
// already sequenced is acknowledged again with its seq: a resend after a
// lost answer is harmless. The dispatcher (federation.cpp) hands each
// sender's events to one of a few serial lanes, so one user's events are
// sequenced in the order they arrive while different users' run in
// parallel. A join from a node without a replica asks for a snapshot
// (NeedSnapshot, home_push.cpp).
#include "federation/federation.h"
#include "federation/inbound_checks.h"
#include "federation/wire.h"
#include "services/groups/group_service.h"
#include "services/messaging/messaging_service.h"

namespace gc {

using nlohmann::json;
using namespace wire;

namespace {


}  // namespace

void Federation::HandleSubmit(const std::string& peer, const std::string& re, const json& body, bool is_join) {
  ChainEvent ce;
  auto fixed = VerifyOrigin(peer, body, &ce);
  if (!fixed.ok()) return AnswerError(peer, re, fixed.error());
  if (ServerOf(ce.group_id) != self_) return AnswerError(peer, re, Error::NotFound("this node is not the group's home"));
  const json& content = body["content"];
  if (is_join && (ce.type != "member" || StrOr(content, "membership", "") != "join" ||
                  StrOr(content, "user_id", "") != ce.sender)) {
    return AnswerError(peer, re, Error::Invalid("a join carries the sender's own member join event"));
  }
  // Replays are harmless: an event already sequenced is acknowledged again.
  auto seen = entries_.SeqOf((*fixed)->event_id);
  if (!seen.ok()) return AnswerError(peer, re, seen.error());
  auto row = log_.FindByAddress(ce.group_id);
  if (!row.ok()) return AnswerError(peer, re, Error::NotFound("no such group"));
  if (*seen) {
    auto joined = log_.Read(*row, [&](const GroupState& s) { return s.IsJoined(ce.sender); });
    if (is_join && !BoolOr(body, "have_replica", true) && joined.ok() && *joined) NeedSnapshot(*row, peer);
    return Answer(peer, re, true, {{"event_id", (*fixed)->event_id}, {"seq", **seen}, {"replayed", true}});
  }
  UserProfile who;
  who.user_id = ce.sender;
  Result<std::optional<GroupEvent>> r = Error::Internal("unset");
  {
    ScopedOriginPin pin(*fixed);
    r = Dispatch(who, *row, ce.group_id, ce.type, content);
  }
  if (!r.ok()) return AnswerError(peer, re, r.error());
  // The joiner's node needs the group's state before anything else.
  if (is_join && !BoolOr(body, "have_replica", true)) NeedSnapshot(*row, peer);
  // The seq the event got (actions answer without it); none if the action
  // changed nothing (e.g. a join of a member).
  json ack = {{"event_id", (*fixed)->event_id}};
  auto got = entries_.SeqOf((*fixed)->event_id);
  if (got.ok() && *got) ack["seq"] = **got;
  else ack["noop"] = true;
  Answer(peer, re, true, ack);
}

Result<std::optional<GroupEvent>> Federation::Dispatch(const UserProfile& who, int64_t row, const std::string& gid,
                                                       const std::string& type, const json& c) {
  auto one = [](Result<GroupEvent> r) -> Result<std::optional<GroupEvent>> {
    if (!r.ok()) return r.error();
    return std::optional<GroupEvent>(*r);
  };
  auto status = [](Status s) -> Result<std::optional<GroupEvent>> {
    if (!s.ok()) return s.error();
    return std::optional<GroupEvent>();  // the seq travels with the push
  };
  auto str = [&](const char* k) { return c.contains(k) && c[k].is_string() ? c[k].get<std::string>() : ""; };
  auto opt = [&](const char* k) {
    return c.contains(k) && c[k].is_string() ? std::optional<std::string>(c[k].get<std::string>()) : std::nullopt;
  };
  if (type == "message") {
    SendRequest req;
    req.body = str("body");
    req.reply_to = opt("reply_to");
    req.media_id = opt("media_id");
    return one(messaging_->Send(who, row, req));
  }
  if (type == "message.edit") return one(messaging_->Edit(who, row, str("event_id"), str("body")));
  if (type == "message.delete") return messaging_->Delete(who, row, str("event_id"));
  if (type == "reaction") {
    return messaging_->React(who, row, str("event_id"), str("key"), !(c.contains("removed") && c["removed"] == true));
  }
  if (type == "group.settings") {
    GroupSettingsPatch p{opt("title"), opt("topic"), opt("visibility"), opt("join_rule")};
    auto r = groups_->UpdateSettings(who, gid, p);
    if (!r.ok()) return r.error();
    return std::optional<GroupEvent>();
  }
  if (type == "group.delete") return status(groups_->Delete(who, gid));
  if (type == "member") {
    std::string user = str("user_id"), m = str("membership"), reason = str("reason");
    if (user == who.user_id && m == "join") {
      auto r = groups_->Join(who, gid);
      if (!r.ok()) return r.error();
      return std::optional<GroupEvent>();
    }
    if (user == who.user_id && m == "leave") return status(groups_->Leave(who, gid));
    if (m == "invite") return status(groups_->Invite(who, gid, user));
    if (m == "ban") return status(groups_->Ban(who, gid, user, reason));
    if (m == "join") return status(groups_->SetRole(who, gid, user, str("role")));
    if (m == "leave") {
      auto banned = log_.Read(row, [&](const GroupState& s) {
        const Member* t = s.Find(user);
        return t && t->membership == "ban";
      });
      if (banned.ok() && *banned) return status(groups_->Unban(who, gid, user));
      return status(groups_->Kick(who, gid, user, reason));
    }
  }
  return Error::Invalid("events of type " + type + " cannot be submitted");
}

Result<std::shared_ptr<FixedEvent>> Federation::VerifyOrigin(const std::string& peer, const json& body,
                                                             ChainEvent* out) {
  return VerifyOriginEvent(peer, body, [this](const std::string& server, const std::string& kid) {
    return KeyOf(server, kid);
  }, out);
}

}  // namespace gc
