#include "admin/admin_http.h"

#include "federation/federation.h"
#include "node/common/address.h"

#include "admin/audit_log.h"
#include "node/common/log.h"
#include "node/config/config.h"
#include "node/db/pg.h"
#include "node/db/pg_probe.h"
#include "node/http/json_body.h"
#include "node/http/router.h"
#include "services/groups/group_service.h"
#include "services/media/media_service.h"
#include "services/messaging/messaging_service.h"
#include "services/users/user_service.h"

namespace gc {

using nlohmann::json;

namespace {

json AdminUserJson(const UserProfile& u) {
  return {{"user_id", u.user_id},
          {"display_name", u.display_name},
          {"is_admin", u.is_admin},
          {"email", u.email ? json(*u.email) : json(nullptr)},
          {"deactivated", u.deactivated},
          {"created_at", u.created_at_ms}};
}

json InviteJson(const Invite& i) {
  return {{"token", i.token},
          {"uses_allowed", i.uses_allowed ? json(*i.uses_allowed) : json(nullptr)},
          {"uses", i.uses},
          {"expires_at", i.expires_at_ms ? json(*i.expires_at_ms) : json(nullptr)},
          {"created_at", i.created_at_ms},
          {"created_by", i.created_by ? json(*i.created_by) : json(nullptr)},
          {"revoked", i.revoked}};
}

// Parses ?limit=&offset= with bounds; false (and a 400) when malformed.
bool Paging(const HttpRequest& req, int* limit, int* offset, HttpResponse* err) {
  auto l = QueryInt(req, "limit", 1, 500, 50);
  auto o = QueryInt(req, "offset", 0, 100000000, 0);
  if (!l.ok() || !o.ok()) {
    *err = ToHttp(!l.ok() ? l.error() : o.error());
    return false;
  }
  *limit = static_cast<int>(*l);
  *offset = static_cast<int>(*o);
  return true;
}

json AdminGroupJson(const GroupService::AdminGroupInfo& g, bool with_members) {
  json j = GroupViewJson(g.view);
  j.erase("role");
  j.erase("membership");
  j["message_count"] = g.message_count;
  j["participants"] = g.servers;
  if (with_members) {
    j["members"] = json::array();
    for (const auto& m : g.members) {
      j["members"].push_back({{"user_id", m.user_id}, {"role", m.role}, {"membership", m.membership}});
    }
  }
  return j;
}

json PeerCounts(Federation* f) {
  int up = 0, down = 0;
  if (f) {
    auto list = f->PeersJson();
    if (list.ok()) {
      for (const auto& p : *list) (p["status"] == "up" ? up : down)++;
    }
  }
  return {{"up", up}, {"down", down}};
}

json SessionJson(const SessionInfo& s) {
  return {{"session_id", s.id}, {"created_at", s.created_at_ms}, {"last_used_at", s.last_used_at_ms},
          {"ip", s.ip}, {"user_agent", s.user_agent}};
}

// Records an admin action; a failure to record is logged, not hidden.
void Audit(AuditLog& audit, RequestContext& ctx, const std::string& action, const std::string& target,
           const json& detail = json::object()) {
  auto st = audit.Record(ctx.user().user_id, action, target, ctx.req.remote_ip, ctx.req.request_id, detail);
  if (!st.ok()) LogError("could not write the audit log", {{"action", action}, {"error", st.error().message}});
}

}  // namespace

void AddAdminRoutes(Router& router, AdminDeps deps) {
  UserService& users = deps.users;
  AuditLog& audit = deps.audit;
  RouteOptions admin;
  admin.admin = true;

  // GET /api/v1/admin/users?q=&limit=&offset=
  router.Add("GET", "/api/v1/admin/users", admin, [&users](RequestContext& ctx) {
    int limit, offset;
    HttpResponse err;
    if (!Paging(ctx.req, &limit, &offset, &err)) return err;
    std::string q = ctx.req.query_param("q").value_or("");
    if (q.size() > 256) return ToHttp(Error::Invalid("q is too long"));
    int64_t total = 0;
    auto r = users.Search(q, limit, offset, &total);
    if (!r.ok()) return ToHttp(r.error());
    json list = json::array();
    for (const auto& u : *r) list.push_back(AdminUserJson(*u));
    return JsonResponse(200, {{"users", list}, {"total", total}, {"limit", limit}, {"offset", offset}});
  });

  // POST /api/v1/admin/users/{user_id}/deactivate
  router.Add("POST", "/api/v1/admin/users/{user_id}/deactivate", admin, [&users, &audit](RequestContext& ctx) {
    auto target = users.GetUser(ctx.param("user_id"));
    if (!target.ok()) return ToHttp(target.error());
    if ((*target)->id == ctx.user().id) return ToHttp(Error::Invalid("admins cannot deactivate themselves"));
    auto st = users.SetDeactivated(ctx.param("user_id"), true);
    if (!st.ok()) return ToHttp(st.error());
    Audit(audit, ctx, "user.deactivate", (*target)->user_id);
    return JsonResponse(200, {{"user_id", (*target)->user_id}, {"deactivated", true}});
  });

  // POST /api/v1/admin/users/{user_id}/reactivate
  router.Add("POST", "/api/v1/admin/users/{user_id}/reactivate", admin, [&users, &audit](RequestContext& ctx) {
    auto st = users.SetDeactivated(ctx.param("user_id"), false);
    if (!st.ok()) return ToHttp(st.error());
    Audit(audit, ctx, "user.reactivate", ctx.param("user_id"));
    return JsonResponse(200, {{"user_id", ctx.param("user_id")}, {"deactivated", false}});
  });

  // GET /api/v1/admin/invites
  router.Add("GET", "/api/v1/admin/invites", admin, [&users](RequestContext&) {
    auto r = users.ListInvites();
    if (!r.ok()) return ToHttp(r.error());
    json list = json::array();
    for (const auto& i : *r) list.push_back(InviteJson(i));
    return JsonResponse(200, {{"invites", list}});
  });

  // POST /api/v1/admin/invites {uses?, expires_at?}
  router.Add("POST", "/api/v1/admin/invites", admin, [&users, &audit](RequestContext& ctx) {
    auto body = ctx.req.body.empty() ? Result<json>(json::object()) : ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto uses = OptionalInt(*body, "uses");
    if (!uses.ok()) return ToHttp(uses.error());
    auto expires = OptionalInt(*body, "expires_at");
    if (!expires.ok()) return ToHttp(expires.error());
    if (*uses && (**uses < 1 || **uses > 1000000)) return ToHttp(Error::Invalid("uses must be from 1 to 1000000"));
    if (*expires && **expires <= 0) return ToHttp(Error::Invalid("expires_at must be a time in ms since the epoch"));
    std::optional<int> u;
    if (*uses) u = static_cast<int>(**uses);
    auto r = users.CreateInvite(u, *expires, ctx.user().id);
    if (!r.ok()) return ToHttp(r.error());
    r->created_by = ctx.user().user_id;
    Audit(audit, ctx, "invite.create", r->token.substr(0, 6) + "...",
          {{"uses", r->uses_allowed ? json(*r->uses_allowed) : json(nullptr)},
           {"expires_at", r->expires_at_ms ? json(*r->expires_at_ms) : json(nullptr)}});
    return JsonResponse(201, InviteJson(*r));
  });

  // DELETE /api/v1/admin/invites/{token}
  router.Add("DELETE", "/api/v1/admin/invites/{token}", admin, [&users, &audit](RequestContext& ctx) {
    if (ctx.param("token").size() > 256) return ToHttp(Error::NotFound("no such invite"));
    auto st = users.RevokeInvite(ctx.param("token"));
    if (!st.ok()) return ToHttp(st.error());
    Audit(audit, ctx, "invite.revoke", ctx.param("token").substr(0, 6) + "...");
    return HttpResponse::NoContent();
  });

  // GET /api/v1/admin/registration
  router.Add("GET", "/api/v1/admin/registration", admin, [&users](RequestContext&) {
    auto m = users.RegistrationMode();
    if (!m.ok()) return ToHttp(m.error());
    return JsonResponse(200, {{"mode", *m}});
  });

  // PUT /api/v1/admin/registration {mode}
  router.Add("PUT", "/api/v1/admin/registration", admin, [&users, &audit](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto mode = RequiredString(*body, "mode");
    if (!mode.ok()) return ToHttp(mode.error());
    auto st = users.SetRegistrationMode(*mode);
    if (!st.ok()) return ToHttp(st.error());
    Audit(audit, ctx, "registration.mode", "", {{"mode", *mode}});
    return JsonResponse(200, {{"mode", *mode}});
  });

  // GET /api/v1/admin/users/{user_id}: profile, groups, sessions, last seen
  router.Add("GET", "/api/v1/admin/users/{user_id}", admin, [deps](RequestContext& ctx) {
    auto u = deps.users.GetUser(ctx.param("user_id"));
    if (!u.ok()) return ToHttp(u.error());
    auto sessions = deps.users.SessionsOf((*u)->user_id);
    if (!sessions.ok()) return ToHttp(sessions.error());
    auto seen = deps.users.LastSeen((*u)->user_id);
    if (!seen.ok()) return ToHttp(seen.error());
    auto groups = deps.groups.ListMine(**u);
    if (!groups.ok()) return ToHttp(groups.error());
    json j = AdminUserJson(**u);
    j["last_seen_at"] = *seen ? json(**seen) : json(nullptr);
    j["sessions"] = json::array();
    for (const auto& s : *sessions) j["sessions"].push_back(SessionJson(s));
    j["groups"] = json::array();
    for (const auto& g : *groups) {
      j["groups"].push_back({{"group_id", g.group.group_id},
                             {"role", g.group.my_role ? json(*g.group.my_role) : json(nullptr)},
                             {"membership", g.group.my_membership ? json(*g.group.my_membership) : json(nullptr)}});
    }
    return JsonResponse(200, j);
  });

  // POST /api/v1/admin/users {username, password, display_name?, is_admin?}
  router.Add("POST", "/api/v1/admin/users", admin, [deps](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto name = RequiredString(*body, "username");
    if (!name.ok()) return ToHttp(name.error());
    auto password = RequiredString(*body, "password");
    if (!password.ok()) return ToHttp(password.error());
    auto display = OptionalString(*body, "display_name");
    if (!display.ok()) return ToHttp(display.error());
    auto is_admin = OptionalBool(*body, "is_admin");
    if (!is_admin.ok()) return ToHttp(is_admin.error());
    auto u = deps.users.CreateUser(*name, *password, is_admin->value_or(false), *display);
    if (!u.ok()) return ToHttp(u.error());
    Audit(deps.audit, ctx, "user.create", (*u)->user_id, {{"is_admin", (*u)->is_admin}});
    return JsonResponse(201, AdminUserJson(**u));
  });

  // POST /api/v1/admin/users/{user_id}/password {password}: ends every session
  router.Add("POST", "/api/v1/admin/users/{user_id}/password", admin, [deps](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto password = RequiredString(*body, "password");
    if (!password.ok()) return ToHttp(password.error());
    auto u = deps.users.GetUser(ctx.param("user_id"));
    if (!u.ok()) return ToHttp(u.error());
    auto st = deps.users.ResetPassword((*u)->user_id, *password);
    if (!st.ok()) return ToHttp(st.error());
    Audit(deps.audit, ctx, "user.password_reset", (*u)->user_id);
    return JsonResponse(200, {{"user_id", (*u)->user_id}});
  });

  // PUT /api/v1/admin/users/{user_id}/admin {is_admin}
  router.Add("PUT", "/api/v1/admin/users/{user_id}/admin", admin, [deps](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto flag = OptionalBool(*body, "is_admin");
    if (!flag.ok()) return ToHttp(flag.error());
    if (!*flag) return ToHttp(Error::Invalid("missing field: is_admin"));
    auto u = deps.users.GetUser(ctx.param("user_id"));
    if (!u.ok()) return ToHttp(u.error());
    if ((*u)->id == ctx.user().id && !**flag) return ToHttp(Error::Invalid("admins cannot revoke their own admin role"));
    auto st = deps.users.SetAdmin((*u)->user_id, **flag);
    if (!st.ok()) return ToHttp(st.error());
    Audit(deps.audit, ctx, **flag ? "user.admin_grant" : "user.admin_revoke", (*u)->user_id);
    return JsonResponse(200, {{"user_id", (*u)->user_id}, {"is_admin", **flag}});
  });

  // DELETE /api/v1/admin/users/{user_id}/sessions: logs the user out everywhere
  router.Add("DELETE", "/api/v1/admin/users/{user_id}/sessions", admin, [deps](RequestContext& ctx) {
    auto u = deps.users.GetUser(ctx.param("user_id"));
    if (!u.ok()) return ToHttp(u.error());
    auto st = deps.users.RevokeAllSessions((*u)->user_id);
    if (!st.ok()) return ToHttp(st.error());
    Audit(deps.audit, ctx, "user.sessions_revoke", (*u)->user_id);
    return HttpResponse::NoContent();
  });

  // GET /api/v1/admin/audit?limit=&before=&action=&target=: newest first
  router.Add("GET", "/api/v1/admin/audit", admin, [deps](RequestContext& ctx) {
    auto limit = QueryInt(ctx.req, "limit", 1, 500, 100);
    if (!limit.ok()) return ToHttp(limit.error());
    auto before = QueryInt(ctx.req, "before", 1, INT64_MAX);
    if (!before.ok()) return ToHttp(before.error());
    std::string action = ctx.req.query_param("action").value_or("");
    std::string target = ctx.req.query_param("target").value_or("");
    if (action.size() > 64 || target.size() > 300) return ToHttp(Error::Invalid("filter too long"));
    auto r = deps.audit.List(static_cast<int>(*limit), *before, action, target);
    if (!r.ok()) return ToHttp(r.error());
    json list = json::array();
    for (const auto& e : *r) {
      list.push_back({{"id", e.id}, {"at", e.at_ms}, {"actor", e.actor}, {"action", e.action},
                      {"target", e.target}, {"ip", e.ip}, {"request_id", e.request_id}, {"detail", e.detail}});
    }
    json out = {{"entries", list}};
    out["next_before"] = r->empty() ? json(nullptr) : json(r->back().id);
    return JsonResponse(200, out);
  });

  // GET /api/v1/admin/stats: the dashboard's figures
  router.Add("GET", "/api/v1/admin/stats", admin, [deps](RequestContext&) {
    auto u = deps.users.CountUsers();
    if (!u.ok()) return ToHttp(u.error());
    auto g = deps.groups.CountGroups();
    if (!g.ok()) return ToHttp(g.error());
    auto m = deps.messaging.MessageStats();
    if (!m.ok()) return ToHttp(m.error());
    auto size = DatabaseSizeBytes(deps.db);
    if (!size.ok()) return ToHttp(size.error());
    MediaStats media;
    if (deps.media) {
      auto ms = deps.media->Stats();
      if (!ms.ok()) return ToHttp(ms.error());
      media = *ms;
    }
    return JsonResponse(200, {{"node", deps.config.node.name},
                              {"version", GC_VERSION},
                              {"uptime_s", static_cast<int64_t>(deps.uptime_s ? deps.uptime_s() : 0)},
                              {"users", {{"total", u->total}, {"active_24h", u->active_24h}, {"admins", u->admins},
                                         {"deactivated", u->deactivated}}},
                              {"groups", *g},
                              {"messages_today", m->today},
                              {"messages_per_hour", m->last_24h},
                              {"connected_clients", deps.connected_clients ? deps.connected_clients() : 0},
                              {"database_bytes", *size},
                              {"media_bytes", media.stored_bytes},
                              {"media", {{"count", media.count}, {"uploaded_bytes", media.uploaded_bytes},
                                         {"stored_bytes", media.stored_bytes}, {"blobs", media.blobs},
                                         {"quarantined", media.quarantined}}},
                              {"federation_peers", PeerCounts(deps.federation)}});
  });

  // GET /api/v1/admin/peers: federation peers, their keys, contact and queues
  router.Add("GET", "/api/v1/admin/peers", admin, [deps](RequestContext&) {
    if (!deps.federation) return JsonResponse(200, {{"peers", json::array()}});
    auto list = deps.federation->PeersJson();
    if (!list.ok()) return ToHttp(list.error());
    return JsonResponse(200, {{"peers", *list}, {"policy", deps.config.federation.policy},
                              {"deny", deps.config.federation.deny}, {"allow", deps.config.federation.allow}});
  });
  // POST /api/v1/admin/peers/{name}/{block,unblock,allow,retry,accept-key}
  for (const char* action : {"block", "unblock", "allow", "retry", "accept-key"}) {
    std::string a = action;
    router.Add("POST", std::string("/api/v1/admin/peers/{name}/") + action, admin, [deps, a](RequestContext& ctx) {
      if (!deps.federation) return ToHttp(Error::NotFound("federation is off"));
      std::string name = ctx.param("name");
      if (!IsValidServerName(name)) return ToHttp(Error::Invalid("not a server name"));
      Status st = OkStatus();
      if (a == "block") st = deps.federation->SetPeerState(name, "blocked");
      else if (a == "unblock") st = deps.federation->SetPeerState(name, "");
      else if (a == "allow") st = deps.federation->SetPeerState(name, "allowed");
      else if (a == "accept-key") st = deps.federation->peers().AcceptNewKey(name);
      else deps.federation->RetryPeer(name);
      if (!st.ok()) return ToHttp(st.error());
      Audit(deps.audit, ctx, "peer." + a, name);
      return JsonResponse(200, {{"name", name}, {"action", a}});
    });
  }

  // GET /api/v1/admin/groups?q=&limit=&offset=: every group, private ones too
  router.Add("GET", "/api/v1/admin/groups", admin, [deps](RequestContext& ctx) {
    int limit, offset;
    HttpResponse err;
    if (!Paging(ctx.req, &limit, &offset, &err)) return err;
    std::string q = ctx.req.query_param("q").value_or("");
    if (q.size() > 256) return ToHttp(Error::Invalid("q is too long"));
    int64_t total = 0;
    auto r = deps.groups.AdminSearch(q, limit, offset, &total);
    if (!r.ok()) return ToHttp(r.error());
    json list = json::array();
    for (const auto& g : *r) list.push_back(AdminGroupJson(g, false));
    return JsonResponse(200, {{"groups", list}, {"total", total}, {"limit", limit}, {"offset", offset}});
  });

  // GET /api/v1/admin/groups/{group_id}: settings, members, counts, participants
  router.Add("GET", "/api/v1/admin/groups/{group_id}", admin, [deps](RequestContext& ctx) {
    auto r = deps.groups.AdminGet(ctx.param("group_id"));
    if (!r.ok()) return ToHttp(r.error());
    return JsonResponse(200, AdminGroupJson(*r, true));
  });

  // PUT /api/v1/admin/groups/{group_id}/owner {user_id}
  router.Add("PUT", "/api/v1/admin/groups/{group_id}/owner", admin, [deps](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto user = RequiredString(*body, "user_id");
    if (!user.ok()) return ToHttp(user.error());
    auto st = deps.groups.AdminSetOwner(ctx.user(), ctx.param("group_id"), *user);
    if (!st.ok()) return ToHttp(st.error());
    Audit(deps.audit, ctx, "group.owner", ctx.param("group_id"), {{"owner", *user}});
    return JsonResponse(200, {{"group_id", ctx.param("group_id")}, {"owner", *user}});
  });

  // DELETE /api/v1/admin/groups/{group_id} {confirm: group_id}: the group and its history
  router.Add("DELETE", "/api/v1/admin/groups/{group_id}", admin, [deps](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto confirm = RequiredString(*body, "confirm");
    if (!confirm.ok()) return ToHttp(confirm.error());
    if (*confirm != ctx.param("group_id")) {
      return ToHttp(Error::Invalid("to delete a group with its history, send {\"confirm\": \"<the group id>\"}"));
    }
    auto removed = deps.groups.AdminDelete(ctx.user(), ctx.param("group_id"));
    if (!removed.ok()) return ToHttp(removed.error());
    Audit(deps.audit, ctx, "group.delete", ctx.param("group_id"), {{"events_removed", *removed}});
    return JsonResponse(200, {{"group_id", ctx.param("group_id")}, {"events_removed", *removed}});
  });

  // GET /api/v1/admin/config: the effective configuration, secrets redacted
  router.Add("GET", "/api/v1/admin/config", admin, [deps](RequestContext&) {
    HttpResponse r;
    r.content_type = "text/yaml; charset=utf-8";
    r.body = DescribeConfig(deps.config);
    return r;
  });
}

}  // namespace gc
