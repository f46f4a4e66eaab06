#include "services/groups/group_service.h"

#include <algorithm>
#include <set>

#include "node/common/address.h"
#include "node/common/completion.h"
#include "node/common/log.h"
#include "node/common/text.h"
#include "services/groups/projections.h"
#include "services/users/user_service.h"

namespace gc {

using nlohmann::json;

namespace {

// A `member` event draft changing `user` to membership/role.
Draft MemberDraft(const std::string& actor, const std::string& user, const std::string& membership,
                  const std::string& role, const std::string& reason) {
  json content = {{"user_id", user}, {"membership", membership}};
  if (membership == "join") content["role"] = role;
  if (!reason.empty()) content["reason"] = reason;
  return EventDraft(actor, "member", std::move(content));
}

// The `group.delete` draft: marks the group deleted (its name is free again)
// and tells its members. `by_node_admin` when a node admin, not an owner, did it.
Draft GroupDeleteDraft(const std::string& actor, const OpContext& ctx, bool by_node_admin) {
  json content = {{"group_id", ctx.group.address}};
  if (by_node_admin) content["by_node_admin"] = true;
  return EventDraft(actor, "group.delete", std::move(content));
}

Status ValidateTitle(const std::string& s, const char* field, size_t max_chars) {
  auto len = Utf8Length(s);
  if (!len) return Error::Invalid(std::string(field) + " must be valid UTF-8");
  if (*len > max_chars) return Error::Invalid(std::string(field) + " must be at most " + std::to_string(max_chars) + " characters");
  if (HasControlChars(s, std::string(field) == "topic")) return Error::Invalid(std::string(field) + " must not contain control characters");
  return OkStatus();
}

Status ValidateSettings(const GroupSettingsPatch& p) {
  if (p.title) GC_TRY(ValidateTitle(*p.title, "title", 256));
  if (p.topic) GC_TRY(ValidateTitle(*p.topic, "topic", 1024));
  if (p.visibility && *p.visibility != "public" && *p.visibility != "private") {
    return Error::Invalid("visibility must be public or private");
  }
  if (p.join_rule && *p.join_rule != "open" && *p.join_rule != "invite") {
    return Error::Invalid("join_rule must be open or invite");
  }
  return OkStatus();
}

GroupView ViewOf(const GroupState& s, const std::string& me) {
  GroupView v;
  v.group_id = s.address;
  v.title = s.title;
  v.topic = s.topic;
  v.visibility = s.visibility;
  v.join_rule = s.join_rule;
  v.created_by = s.created_by;
  v.created_at = s.created_at;
  v.member_count = s.JoinedCount();
  v.last_seq = s.last_seq;
  v.last_event_at = s.last_event_at;
  if (const Member* m = s.Find(me)) {
    v.my_membership = m->membership;
    if (m->membership == "join") v.my_role = m->role;
  }
  return v;
}

}  // namespace

int RoleRank(const std::string& role) {
  if (role == "owner") return 3;
  if (role == "admin") return 2;
  if (role == "member") return 1;
  return 0;
}

json GroupViewJson(const GroupView& g) {
  json j = {{"group_id", g.group_id},       {"title", g.title},
            {"topic", g.topic},             {"visibility", g.visibility},
            {"join_rule", g.join_rule},     {"created_by", g.created_by},
            {"created_at", g.created_at},   {"member_count", g.member_count},
            {"last_seq", g.last_seq},       {"last_event_at", g.last_event_at},
            {"role", g.my_role ? json(*g.my_role) : json(nullptr)},
            {"membership", g.my_membership ? json(*g.my_membership) : json(nullptr)}};
  return j;
}

GroupService::GroupService(GroupLog& log, GroupStore& store, UserService& users, std::string server_name)
    : log_(log), store_(store), users_(users), server_name_(std::move(server_name)) {}

Result<int64_t> GroupService::Resolve(const UserProfile& me, const std::string& group_id, bool must_be_member) {
  auto addr = ParseGroupId(group_id);
  if (!addr) return Error::NotFound("no such group");
  if (addr->server != server_name_ && !remote_) return Error::NotFound("no such group (federation is off)");
  auto row = log_.FindByAddress(group_id);
  if (!row.ok()) return row.error();
  auto visible = log_.Read(*row, [&](const GroupState& s) -> int {
    const Member* m = s.Find(me.user_id);
    bool joined = m && m->membership == "join";
    bool invited = m && m->membership == "invite";
    if (joined) return 2;
    if (s.visibility == "public" || invited) return 1;
    return 0;
  });
  if (!visible.ok()) return visible.error();
  if (*visible == 0) return Error::NotFound("no such group");
  if (must_be_member && *visible < 2) return Error::Forbidden("you are not a member of this group");
  return *row;
}

Result<GroupView> GroupService::Create(const UserProfile& me, const std::string& name,
                                       const GroupSettingsPatch& settings) {
  if (!IsValidLocalPart(name)) {
    return Error::Invalid("name must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'");
  }
  GC_TRY(ValidateSettings(settings));
  GroupState init;
  init.address = "#" + name + ":" + server_name_;
  init.server = server_name_;
  init.title = settings.title.value_or(name);
  init.topic = settings.topic.value_or("");
  init.visibility = settings.visibility.value_or("public");
  init.join_rule = settings.join_rule.value_or(init.visibility == "private" ? "invite" : "open");
  init.created_by = me.user_id;
  std::string user = me.user_id;
  auto r = log_.Create(init, [user](OpContext& ctx) -> Result<std::vector<Draft>> {
    const GroupState& s = ctx.group;
    Draft create;
    create.sender = user;
    create.type = "group.create";
    create.content = {{"group_id", s.address}, {"creator", user},       {"title", s.title},
                      {"topic", s.topic},      {"visibility", s.visibility}, {"join_rule", s.join_rule}};
    std::vector<Draft> out;
    out.push_back(std::move(create));
    out.push_back(MemberDraft(user, user, "join", "owner", ""));
    return out;
  });
  if (!r.ok()) return r.error();
  auto row = r->front().group_row;
  auto v = log_.Read(row, [&](const GroupState& s) { return ViewOf(s, me.user_id); });
  if (!v.ok()) return v.error();
  return *v;
}

Status GroupService::CheckPendingChange(int64_t row, const std::string& user) {
  RemoteGroups* remote = log_.remote();
  if (!remote) return OkStatus();
  auto head = log_.Read(row, [](const GroupState& s) {
    GroupState h;  // what the check needs, without copying the members
    h.row = s.row;
    h.address = s.address;
    h.server = s.server;
    h.last_seq = s.last_seq;
    return h;
  });
  if (!head.ok()) return head.error();
  if (head->server == server_name_) return OkStatus();
  return remote->PendingChange(*head, user);
}

Result<GroupView> GroupService::Get(const UserProfile& me, const std::string& group_id) {
  auto row = Resolve(me, group_id, false);
  if (!row.ok()) return row.error();
  auto v = log_.Read(*row, [&](const GroupState& s) { return ViewOf(s, me.user_id); });
  if (!v.ok()) return v.error();
  return *v;
}

Result<GroupView> GroupService::UpdateSettings(const UserProfile& me, const std::string& group_id,
                                               const GroupSettingsPatch& patch) {
  GC_TRY(ValidateSettings(patch));
  if (!patch.title && !patch.topic && !patch.visibility && !patch.join_rule) {
    return Error::Invalid("nothing to change: send title, topic, visibility or join_rule");
  }
  auto row = Resolve(me, group_id, true);
  if (!row.ok()) return row.error();
  std::string user = me.user_id;
  auto r = log_.Submit(*row, [user, patch](OpContext& ctx) -> Result<std::vector<Draft>> {
    const GroupState& s = ctx.group;
    const Member* m = s.Find(user);
    if (!m || m->membership != "join") return Error::Forbidden("you are not a member of this group");
    if (RoleRank(m->role) < 2) return Error::Forbidden("only owners and admins change group settings");
    std::string title = patch.title.value_or(s.title), topic = patch.topic.value_or(s.topic);
    std::string vis = patch.visibility.value_or(s.visibility), rule = patch.join_rule.value_or(s.join_rule);
    Draft d = EventDraft(user, "group.settings",
                         {{"title", title}, {"topic", topic}, {"visibility", vis}, {"join_rule", rule}});
    return std::vector<Draft>{d};
  });
  if (!r.ok()) return r.error();
  return Get(me, group_id);
}

Status GroupService::Delete(const UserProfile& me, const std::string& group_id) {
  auto row = Resolve(me, group_id, true);
  if (!row.ok()) return row.error();
  std::string user = me.user_id;
  auto r = log_.Submit(*row, [user](OpContext& ctx) -> Result<std::vector<Draft>> {
    const GroupState& s = ctx.group;
    const Member* m = s.Find(user);
    if (!m || m->membership != "join" || m->role != "owner") {
      return Error::Forbidden("only an owner can delete the group");
    }
    return std::vector<Draft>{GroupDeleteDraft(user, ctx, false)};
  });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<GroupView> GroupService::Join(const UserProfile& me, const std::string& group_id) {
  return Await<Result<GroupView>>([&](ViewDone done) { JoinAsync(me, group_id, done); });
}

void GroupService::JoinAsync(const UserProfile& me, const std::string& group_id, ViewDone done) {
  // What the caller gets once the join is done: the group as they now see it.
  auto view = [this, me, group_id, done](Status st) {
    if (!st.ok()) return done(st.error());
    done(Get(me, group_id));
  };
  auto addr = ParseGroupId(group_id);
  if (addr && addr->server != server_name_ && remote_ && !log_.FindByAddress(group_id).ok()) {
    // A group homed elsewhere that no one here is in yet: its home decides.
    return remote_->JoinRemote(me, group_id, view);
  }
  auto row = Resolve(me, group_id, false);
  if (!row.ok()) return done(row.error());
  if (Status st = CheckPendingChange(*row, me.user_id); !st.ok()) return done(st.error());
  std::string user = me.user_id;
  log_.SubmitAsync(*row, [user](OpContext& ctx) -> Result<std::vector<Draft>> {
    const GroupState& s = ctx.group;
    const Member* m = s.Find(user);
    if (m && m->membership == "join") return std::vector<Draft>{};  // already in: nothing to do
    if (m && m->membership == "ban") return Error::Forbidden("you are banned from this group");
    bool invited = m && m->membership == "invite";
    if (!invited && s.join_rule != "open") {
      if (s.visibility == "private") return Error::NotFound("no such group");
      return Error::Forbidden("this group is invite-only");
    }
    if (!invited && s.visibility == "private") return Error::NotFound("no such group");
    return std::vector<Draft>{MemberDraft(user, user, "join", "member", "")};
  }, [view](Result<std::vector<GroupEvent>> r) {
    if (!r.ok()) return view(r.error());
    view(OkStatus());
  });
}

namespace {

// What a membership change answers: only whether it was done.
SubmitDone AnswerStatusOnly(GroupService::StatusDone done) {
  return [done](Result<std::vector<GroupEvent>> r) {
    if (!r.ok()) return done(r.error());
    done(OkStatus());
  };
}

}  // namespace

Status GroupService::Leave(const UserProfile& me, const std::string& group_id) {
  return Await<Status>([&](StatusDone done) { LeaveAsync(me, group_id, done); });
}

void GroupService::LeaveAsync(const UserProfile& me, const std::string& group_id, StatusDone done) {
  auto row = Resolve(me, group_id, false);
  if (!row.ok()) return done(row.error());
  if (Status st = CheckPendingChange(*row, me.user_id); !st.ok()) return done(st.error());
  std::string user = me.user_id;
  log_.SubmitAsync(*row, [user](OpContext& ctx) -> Result<std::vector<Draft>> {
    const GroupState& s = ctx.group;
    const Member* m = s.Find(user);
    if (!m || (m->membership != "join" && m->membership != "invite")) {
      return Error::Forbidden("you are not a member of this group");
    }
    if (m->membership == "join" && m->role == "owner" && s.OwnerCount() == 1) {
      Error e = Error::Conflict("you are the last owner: make someone else owner first, or delete the group");
      e.detail_code = "last_owner";
      return e;
    }
    return std::vector<Draft>{MemberDraft(user, user, "leave", "member", "")};
  }, AnswerStatusOnly(done));
}

Status GroupService::Invite(const UserProfile& me, const std::string& group_id, const std::string& user_id) {
  return Await<Status>([&](StatusDone done) { InviteAsync(me, group_id, user_id, done); });
}

void GroupService::InviteAsync(const UserProfile& me, const std::string& group_id, const std::string& user_id,
                               StatusDone done) {
  auto target = ParseUserId(user_id);
  if (!target) return done(Error::Invalid("user_id must be an address like @alice:" + server_name_));
  if (target->server != server_name_) {
    if (!remote_) return done(Error::Invalid("inviting users of other nodes needs federation"));
    Status known = remote_->CheckRemoteUser(user_id);
    if (!known.ok()) return done(known.error());
  } else {
    auto exists = users_.GetUser(user_id);
    if (!exists.ok()) return done(exists.error());
  }
  MembershipAsync(me, group_id, user_id, "invite", "", std::move(done));
}

Status GroupService::Kick(const UserProfile& me, const std::string& group_id, const std::string& user_id,
                          const std::string& reason) {
  return Await<Status>([&](StatusDone done) { ModerateAsync(me, group_id, user_id, "kick", reason, done); });
}
Status GroupService::Ban(const UserProfile& me, const std::string& group_id, const std::string& user_id,
                         const std::string& reason) {
  return Await<Status>([&](StatusDone done) { ModerateAsync(me, group_id, user_id, "ban", reason, done); });
}
Status GroupService::Unban(const UserProfile& me, const std::string& group_id, const std::string& user_id) {
  return Await<Status>([&](StatusDone done) { ModerateAsync(me, group_id, user_id, "unban", "", done); });
}

void GroupService::ModerateAsync(const UserProfile& me, const std::string& group_id, const std::string& target,
                                 const std::string& action, const std::string& reason, StatusDone done) {
  if (action != "kick" && action != "ban" && action != "unban") {
    return done(Error::Invalid("action must be kick, ban or unban"));
  }
  MembershipAsync(me, group_id, target, action, reason, std::move(done));
}

void GroupService::MembershipAsync(const UserProfile& me, const std::string& group_id, const std::string& target,
                                   const std::string& action, const std::string& reason, StatusDone done) {
  if (!ParseUserId(target)) return done(Error::Invalid("user_id must be an address like @alice:" + server_name_));
  auto reason_len = Utf8Length(reason);
  if (!reason_len || *reason_len > 512) {
    return done(Error::Invalid("reason must be valid UTF-8, at most 512 characters"));
  }
  auto row = Resolve(me, group_id, true);
  if (!row.ok()) return done(row.error());
  std::string actor = me.user_id;
  log_.SubmitAsync(*row, [=](OpContext& ctx) -> Result<std::vector<Draft>> {
    const GroupState& s = ctx.group;
    const Member* a = s.Find(actor);
    if (!a || a->membership != "join") return Error::Forbidden("you are not a member of this group");
    if (RoleRank(a->role) < 2) return Error::Forbidden("only owners and admins can " + action + " members");
    const Member* t = s.Find(target);
    if (target == actor) return Error::Invalid("you cannot " + action + " yourself");
    if (t && t->membership == "join" && RoleRank(t->role) >= RoleRank(a->role)) {
      return Error::Forbidden("you can only " + action + " members below your own role");
    }
    if (action == "invite") {
      if (t && t->membership == "join") return Error::Conflict("already a member", "already_member");
      if (t && t->membership == "ban") return Error::Forbidden("that user is banned; unban them first");
      if (t && t->membership == "invite") return std::vector<Draft>{};
      return std::vector<Draft>{MemberDraft(actor, target, "invite", "member", "")};
    }
    if (action == "kick") {
      if (!t || (t->membership != "join" && t->membership != "invite")) return Error::NotFound("not a member");
      return std::vector<Draft>{MemberDraft(actor, target, "leave", "member", reason)};
    }
    if (action == "ban") {
      if (t && t->membership == "ban") return std::vector<Draft>{};
      return std::vector<Draft>{MemberDraft(actor, target, "ban", "member", reason)};
    }
    // unban
    if (!t || t->membership != "ban") return Error::NotFound("that user is not banned");
    return std::vector<Draft>{MemberDraft(actor, target, "leave", "member", "")};
  }, AnswerStatusOnly(done));
}

Status GroupService::SetRole(const UserProfile& me, const std::string& group_id, const std::string& user_id,
                             const std::string& role) {
  if (RoleRank(role) == 0) return Error::Invalid("role must be owner, admin or member");
  if (!ParseUserId(user_id)) return Error::Invalid("user_id must be an address");
  auto row = Resolve(me, group_id, true);
  if (!row.ok()) return row.error();
  std::string actor = me.user_id;
  auto r = log_.Submit(*row, [=](OpContext& ctx) -> Result<std::vector<Draft>> {
    const GroupState& s = ctx.group;
    const Member* a = s.Find(actor);
    if (!a || a->membership != "join" || a->role != "owner") return Error::Forbidden("only owners change roles");
    const Member* t = s.Find(user_id);
    if (!t || t->membership != "join") return Error::NotFound("that user is not a member of this group");
    if (t->role == role) return std::vector<Draft>{};
    if (user_id == actor && t->role == "owner" && s.OwnerCount() == 1) {
      Error e = Error::Conflict("you are the last owner: make someone else owner first");
      e.detail_code = "last_owner";
      return e;
    }
    return std::vector<Draft>{MemberDraft(actor, user_id, "join", role, "")};
  });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<std::vector<MemberInfo>> GroupService::Members(const UserProfile& me, const std::string& group_id,
                                                      const std::string& after, int limit) {
  auto row = Resolve(me, group_id, false);
  if (!row.ok()) return row.error();
  auto r = log_.Read(*row, [&](const GroupState& s) {
    std::vector<MemberInfo> all;
    for (const auto& [u, m] : s.members) {
      if ((m.membership == "join" || m.membership == "invite") && u > after) all.push_back({u, m.role, m.membership});
    }
    std::sort(all.begin(), all.end(), [](const MemberInfo& a, const MemberInfo& b) { return a.user_id < b.user_id; });
    if (static_cast<int>(all.size()) > limit) all.resize(limit);
    return all;
  });
  if (!r.ok()) return r.error();
  return *r;
}

Result<GroupService::AdminGroupInfo> GroupService::AdminGet(const std::string& group_id) {
  auto row = log_.FindByAddress(group_id);
  if (!row.ok()) return row.error();
  auto info = log_.Read(*row, [](const GroupState& s) {
    AdminGroupInfo i;
    i.view = ViewOf(s, "");
    std::set<std::string> servers;
    for (const auto& [u, m] : s.members) {
      if (m.membership != "join" && m.membership != "invite") continue;
      i.members.push_back({u, m.role, m.membership});
      if (m.membership == "join") servers.insert(u.substr(u.find(':') + 1));
    }
    std::sort(i.members.begin(), i.members.end(),
              [](const MemberInfo& a, const MemberInfo& b) { return a.user_id < b.user_id; });
    i.servers.assign(servers.begin(), servers.end());
    return i;
  });
  if (!info.ok()) return info.error();
  auto count = store_.MessageCount(*row);
  if (!count.ok()) return count.error();
  info->message_count = *count;
  return *info;
}

Result<std::vector<GroupService::AdminGroupInfo>> GroupService::AdminSearch(const std::string& q, int limit,
                                                                           int offset, int64_t* total) {
  auto rows = store_.AdminSearch(q, limit, offset, total);
  if (!rows.ok()) return rows.error();
  std::vector<AdminGroupInfo> out;
  for (int64_t row : *rows) {
    auto addr = log_.Read(row, [](const GroupState& s) { return s.address; });
    if (!addr.ok()) continue;
    auto info = AdminGet(*addr);
    if (info.ok()) out.push_back(std::move(*info));
  }
  return out;
}

Status GroupService::AdminSetOwner(const UserProfile& admin, const std::string& group_id, const std::string& user_id) {
  if (!ParseUserId(user_id)) return Error::Invalid("user_id must be an address like @alice:" + server_name_);
  auto row = log_.FindByAddress(group_id);
  if (!row.ok()) return row.error();
  std::string actor = admin.user_id;
  auto r = log_.Submit(*row, [=](OpContext& ctx) -> Result<std::vector<Draft>> {
    const Member* t = ctx.group.Find(user_id);
    if (!t || t->membership != "join") return Error::Invalid("the new owner must be a member of the group");
    if (t->role == "owner") return std::vector<Draft>{};
    Draft d = MemberDraft(actor, user_id, "join", "owner", "");
    d.content["by_node_admin"] = true;
    return std::vector<Draft>{d};
  });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<int64_t> GroupService::AdminDelete(const UserProfile& admin, const std::string& group_id) {
  auto row = log_.FindByAddress(group_id);
  if (!row.ok()) return row.error();
  std::string actor = admin.user_id;
  auto r = log_.Submit(*row, [actor](OpContext& ctx) -> Result<std::vector<Draft>> {
    return std::vector<Draft>{GroupDeleteDraft(actor, ctx, true)};
  });
  if (!r.ok()) return r.error();
  // The members have been told; now the history goes.
  return store_.PurgeHistory(*row);
}

Result<int64_t> GroupService::CountGroups() { return store_.CountGroups(); }

Result<std::vector<int64_t>> GroupService::JoinedGroups(const std::string& user_id) {
  return store_.JoinedGroups(user_id);
}

Result<std::vector<GroupListItem>> GroupService::ListMine(const UserProfile& me) {
  auto mine = store_.MyGroups(me.user_id);
  if (!mine.ok()) return mine.error();
  std::vector<GroupListItem> out;
  for (const auto& m : *mine) {
    auto v = log_.Read(m.row, [&](const GroupState& s) { return ViewOf(s, me.user_id); });
    if (!v.ok()) continue;
    GroupListItem item;
    item.group = *v;
    item.read_seq = m.read_seq;
    item.unread_count = m.unread_count;
    item.mention_count = m.mention_count;
    if (v->my_membership == std::optional<std::string>("join")) {
      auto last = store_.LastEvent(m.row);
      if (!last.ok()) return last.error();
      if (*last) item.last_event = EventJson(**last);
    }
    out.push_back(std::move(item));
  }
  return out;
}

Result<std::vector<GroupView>> GroupService::Directory(const std::string& q, int limit, int offset, int64_t* total) {
  auto rows = store_.PublicDirectory(q, limit, offset, total);
  if (!rows.ok()) return rows.error();
  std::vector<GroupView> out;
  UserProfile nobody;
  for (int64_t row : *rows) {
    auto v = log_.Read(row, [&](const GroupState& s) { return ViewOf(s, nobody.user_id); });
    if (v.ok()) out.push_back(*v);
  }
  return out;
}

}  // namespace gc
