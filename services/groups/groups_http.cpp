#include "services/groups/groups_http.h"

#include <cstdlib>

#include "node/http/json_body.h"
#include "node/http/router.h"
#include "services/groups/group_service.h"

namespace gc {

using nlohmann::json;

namespace {

Result<GroupSettingsPatch> ReadSettings(const json& body) {
  GroupSettingsPatch p;
  for (auto [field, target] : {std::pair{"title", &p.title}, std::pair{"topic", &p.topic},
                               std::pair{"visibility", &p.visibility}, std::pair{"join_rule", &p.join_rule}}) {
    auto v = OptionalString(body, field);
    if (!v.ok()) return v.error();
    *target = *v;
  }
  return p;
}

HttpResponse EmptyOr(const Status& st) {
  if (!st.ok()) return ToHttp(st.error());
  return JsonResponse(200, json::object());
}

}  // namespace

void AddGroupRoutes(Router& router, GroupService& groups) {
  // POST /api/v1/groups
  router.Add("POST", "/api/v1/groups", {}, [&groups](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto name = RequiredString(*body, "name");
    if (!name.ok()) return ToHttp(name.error());
    auto settings = ReadSettings(*body);
    if (!settings.ok()) return ToHttp(settings.error());
    auto r = groups.Create(ctx.user(), *name, *settings);
    if (!r.ok()) return ToHttp(r.error());
    return JsonResponse(201, GroupViewJson(*r));
  });

  // GET /api/v1/groups
  router.Add("GET", "/api/v1/groups", {}, [&groups](RequestContext& ctx) {
    auto r = groups.ListMine(ctx.user());
    if (!r.ok()) return ToHttp(r.error());
    json list = json::array();
    for (const auto& item : *r) {
      json g = GroupViewJson(item.group);
      g["unread_count"] = item.unread_count;
      g["mention_count"] = item.mention_count;
      g["read_seq"] = item.read_seq;
      g["last_event"] = item.last_event ? *item.last_event : json(nullptr);
      list.push_back(std::move(g));
    }
    return JsonResponse(200, {{"groups", list}});
  });

  // GET /api/v1/groups/{group_id}
  router.Add("GET", "/api/v1/groups/{group_id}", {}, [&groups](RequestContext& ctx) {
    auto r = groups.Get(ctx.user(), ctx.param("group_id"));
    if (!r.ok()) return ToHttp(r.error());
    return JsonResponse(200, GroupViewJson(*r));
  });

  // PATCH /api/v1/groups/{group_id}
  router.Add("PATCH", "/api/v1/groups/{group_id}", {}, [&groups](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto settings = ReadSettings(*body);
    if (!settings.ok()) return ToHttp(settings.error());
    auto r = groups.UpdateSettings(ctx.user(), ctx.param("group_id"), *settings);
    if (!r.ok()) return ToHttp(r.error());
    return JsonResponse(200, GroupViewJson(*r));
  });

  // DELETE /api/v1/groups/{group_id}
  router.Add("DELETE", "/api/v1/groups/{group_id}", {}, [&groups](RequestContext& ctx) {
    auto st = groups.Delete(ctx.user(), ctx.param("group_id"));
    if (!st.ok()) return ToHttp(st.error());
    return HttpResponse::NoContent();
  });

  // GET /api/v1/directory?q=&limit=&offset=
  router.Add("GET", "/api/v1/directory", {}, [&groups](RequestContext& ctx) {
    auto limit = QueryInt(ctx.req, "limit", 1, 100, 50);
    if (!limit.ok()) return ToHttp(limit.error());
    auto offset = QueryInt(ctx.req, "offset", 0, 1000000, 0);
    if (!offset.ok()) return ToHttp(offset.error());
    std::string q = ctx.req.query_param("q").value_or("");
    if (q.size() > 256) return ToHttp(Error::Invalid("q must be at most 256 bytes"));
    int64_t total = 0;
    auto r = groups.Directory(q, static_cast<int>(*limit), static_cast<int>(*offset), &total);
    if (!r.ok()) return ToHttp(r.error());
    json list = json::array();
    for (const auto& g : *r) list.push_back(GroupViewJson(g));
    return JsonResponse(200, {{"groups", list}, {"total", total}, {"limit", *limit}, {"offset", *offset}});
  });

  // POST /api/v1/groups/{group_id}/join
  // Asynchronous: joining a remote group waits for its home node.
  router.AddAsync("POST", "/api/v1/groups/{group_id}/join", {}, [&groups](RequestContext& ctx, Respond respond) {
    groups.JoinAsync(ctx.user(), ctx.param("group_id"), [respond](Result<GroupView> r) {
      if (!r.ok()) return respond(ToHttp(r.error()));
      respond(JsonResponse(200, GroupViewJson(*r)));
    });
  });

  // Leave, invite, kick, ban and unban are asynchronous: in a remote group
  // the answer waits for the home node.
  auto empty_or = [](Respond respond) { return [respond](Status st) { respond(EmptyOr(st)); }; };

  // POST /api/v1/groups/{group_id}/leave
  router.AddAsync("POST", "/api/v1/groups/{group_id}/leave", {},
                  [&groups, empty_or](RequestContext& ctx, Respond respond) {
                    groups.LeaveAsync(ctx.user(), ctx.param("group_id"), empty_or(respond));
                  });

  // POST /api/v1/groups/{group_id}/invites {user_id}
  router.AddAsync("POST", "/api/v1/groups/{group_id}/invites", {},
                  [&groups, empty_or](RequestContext& ctx, Respond respond) {
                    auto body = ParseJsonObject(ctx.req.body);
                    if (!body.ok()) return respond(ToHttp(body.error()));
                    auto user = RequiredString(*body, "user_id");
                    if (!user.ok()) return respond(ToHttp(user.error()));
                    groups.InviteAsync(ctx.user(), ctx.param("group_id"), *user, empty_or(respond));
                  });

  // POST /api/v1/groups/{group_id}/kick|ban|unban {user_id, reason?}
  for (const char* action : {"kick", "ban", "unban"}) {
    std::string a = action;
    router.AddAsync("POST", std::string("/api/v1/groups/{group_id}/") + action, {},
                    [&groups, a, empty_or](RequestContext& ctx, Respond respond) {
                      auto body = ParseJsonObject(ctx.req.body);
                      if (!body.ok()) return respond(ToHttp(body.error()));
                      auto user = RequiredString(*body, "user_id");
                      if (!user.ok()) return respond(ToHttp(user.error()));
                      auto reason = OptionalString(*body, "reason");
                      if (!reason.ok()) return respond(ToHttp(reason.error()));
                      std::string why = a == "unban" ? "" : reason->value_or("");
                      groups.ModerateAsync(ctx.user(), ctx.param("group_id"), *user, a, why, empty_or(respond));
                    });
  }

  // GET /api/v1/groups/{group_id}/members?after=&limit=
  router.Add("GET", "/api/v1/groups/{group_id}/members", {}, [&groups](RequestContext& ctx) {
    auto limit = QueryInt(ctx.req, "limit", 1, 500, 100);
    if (!limit.ok()) return ToHttp(limit.error());
    std::string after = ctx.req.query_param("after").value_or("");
    auto r = groups.Members(ctx.user(), ctx.param("group_id"), after, static_cast<int>(*limit) + 1);
    if (!r.ok()) return ToHttp(r.error());
    bool more = static_cast<int64_t>(r->size()) > *limit;
    if (more) r->pop_back();
    json list = json::array();
    for (const auto& m : *r) list.push_back({{"user_id", m.user_id}, {"role", m.role}, {"membership", m.membership}});
    json out = {{"members", list}};
    out["next"] = more && !r->empty() ? json(r->back().user_id) : json(nullptr);
    return JsonResponse(200, out);
  });

  // PUT /api/v1/groups/{group_id}/members/{user_id}/role {role}
  router.Add("PUT", "/api/v1/groups/{group_id}/members/{user_id}/role", {}, [&groups](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto role = RequiredString(*body, "role");
    if (!role.ok()) return ToHttp(role.error());
    return EmptyOr(groups.SetRole(ctx.user(), ctx.param("group_id"), ctx.param("user_id"), *role));
  });
}

}  // namespace gc
