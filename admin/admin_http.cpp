#include "admin/admin_http.h"

#include "node/http/json_body.h"
#include "node/http/router.h"
#include "services/users/user_service.h"

namespace gc {

using nlohmann::json;

namespace {

json AdminUserJson(const UserProfile& u) {
  return {{"user_id", u.user_id},
          {"display_name", u.display_name},
          {"is_admin", u.is_admin},
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

}  // namespace

void AddAdminRoutes(Router& router, UserService& users) {
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
  router.Add("POST", "/api/v1/admin/users/{user_id}/deactivate", admin, [&users](RequestContext& ctx) {
    auto target = users.GetUser(ctx.param("user_id"));
    if (!target.ok()) return ToHttp(target.error());
    if ((*target)->id == ctx.user().id) return ToHttp(Error::Invalid("admins cannot deactivate themselves"));
    auto st = users.SetDeactivated(ctx.param("user_id"), true);
    if (!st.ok()) return ToHttp(st.error());
    return JsonResponse(200, {{"user_id", ctx.param("user_id")}, {"deactivated", true}});
  });

  // POST /api/v1/admin/users/{user_id}/reactivate
  router.Add("POST", "/api/v1/admin/users/{user_id}/reactivate", admin, [&users](RequestContext& ctx) {
    auto st = users.SetDeactivated(ctx.param("user_id"), false);
    if (!st.ok()) return ToHttp(st.error());
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
  router.Add("POST", "/api/v1/admin/invites", admin, [&users](RequestContext& ctx) {
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
    return JsonResponse(201, InviteJson(*r));
  });

  // DELETE /api/v1/admin/invites/{token}
  router.Add("DELETE", "/api/v1/admin/invites/{token}", admin, [&users](RequestContext& ctx) {
    if (ctx.param("token").size() > 256) return ToHttp(Error::NotFound("no such invite"));
    auto st = users.RevokeInvite(ctx.param("token"));
    if (!st.ok()) return ToHttp(st.error());
    return HttpResponse::NoContent();
  });

  // GET /api/v1/admin/registration
  router.Add("GET", "/api/v1/admin/registration", admin, [&users](RequestContext&) {
    auto m = users.RegistrationMode();
    if (!m.ok()) return ToHttp(m.error());
    return JsonResponse(200, {{"mode", *m}});
  });

  // PUT /api/v1/admin/registration {mode}
  router.Add("PUT", "/api/v1/admin/registration", admin, [&users](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto mode = RequiredString(*body, "mode");
    if (!mode.ok()) return ToHttp(mode.error());
    auto st = users.SetRegistrationMode(*mode);
    if (!st.ok()) return ToHttp(st.error());
    return JsonResponse(200, {{"mode", *mode}});
  });
}

}  // namespace gc
