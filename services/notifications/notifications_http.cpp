#include "services/notifications/notifications_http.h"

#include <cerrno>
#include <cstdlib>

#include "node/http/json_body.h"
#include "node/http/router.h"
#include "services/groups/group_service.h"
#include "services/notifications/push_sender.h"
#include "services/notifications/webpush.h"

namespace gc {

using nlohmann::json;

json NotificationJson(const Notification& n) {
  return {{"notification_id", n.notification_id},
          {"kind", n.kind},
          {"group_id", n.group_id},
          {"event_id", n.event_id},
          {"sender", n.sender},
          {"sender_display_name", n.sender_display_name},
          {"group_title", n.group_title},
          {"body_preview", n.body_preview},
          {"created_at", n.created_at},
          {"read", n.read},
          {"withdrawn", n.withdrawn},
          {"count", n.count}};
}

std::string NotificationFrame(const Notification& n, int64_t unread) {
  return json{{"type", "notification"}, {"notification", NotificationJson(n)}, {"unread", unread}}.dump();
}

std::string NotificationReadFrame(int64_t unread) {
  return json{{"type", "notification.read"}, {"unread", unread}}.dump();
}

namespace {

json SettingsJson(const NotificationSettings& s) {
  json groups = json::object();
  for (const auto& [g, level] : s.groups) groups[g] = level;
  return {{"default_level", s.default_level},
          {"dnd_until", s.dnd_until ? json(*s.dnd_until) : json(nullptr)},
          {"groups", groups}};
}

json PusherJson(const Pusher& p) {
  json j = {{"pusher_id", p.pusher_id},
            {"kind", p.kind},
            {"url", p.url},
            {"created_at", p.created_at},
            {"last_success_at", p.last_success_at ? json(*p.last_success_at) : json(nullptr)},
            {"last_error", p.last_error ? json(*p.last_error) : json(nullptr)},
            {"failures", p.failures}};
  if (!p.secret.empty()) j["secret"] = p.secret;
  if (p.kind == "webpush") j["endpoint"] = p.url;
  return j;
}

}  // namespace

void AddNotificationRoutes(Router& router, GroupService& groups, NotificationService& notifications,
                           PushSender& pushers) {
  // POST /api/v1/me/pushers {kind: "webhook", url}: the answer carries the
  // signing secret, shown only here. {kind: "webpush", endpoint, keys:
  // {p256dh, auth}}: a browser's PushSubscription (other fields ignored).
  router.Add("POST", "/api/v1/me/pushers", {}, [&](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto kind = RequiredString(*body, "kind");
    if (!kind.ok()) return ToHttp(kind.error());
    std::string url;
    if (*kind == "webhook") {
      auto u = RequiredString(*body, "url");
      if (!u.ok()) return ToHttp(u.error());
      url = *u;
    }
    std::optional<WebPushSubscription> sub;
    if (*kind == "webpush") {
      auto endpoint = RequiredString(*body, "endpoint");
      if (!endpoint.ok()) return ToHttp(endpoint.error());
      auto keys = body->find("keys");
      if (keys == body->end() || !keys->is_object()) {
        return ToHttp(Error::Invalid("keys must be an object {p256dh, auth} (the PushSubscription's keys)"));
      }
      auto p256dh = RequiredString(*keys, "p256dh");
      if (!p256dh.ok()) return ToHttp(p256dh.error());
      auto auth = RequiredString(*keys, "auth");
      if (!auth.ok()) return ToHttp(auth.error());
      url = *endpoint;
      sub = WebPushSubscription{*endpoint, *p256dh, *auth};
    }
    auto p = pushers.Register(ctx.user().user_id, *kind, url, sub ? &*sub : nullptr);
    if (!p.ok()) return ToHttp(p.error());
    return JsonResponse(201, PusherJson(*p));
  });

  // GET /api/v1/me/pushers
  router.Add("GET", "/api/v1/me/pushers", {}, [&](RequestContext& ctx) {
    auto list = pushers.List(ctx.user().user_id);
    if (!list.ok()) return ToHttp(list.error());
    json out = json::array();
    for (const auto& p : *list) out.push_back(PusherJson(p));
    return JsonResponse(200, {{"pushers", out}});
  });

  // DELETE /api/v1/me/pushers/{pusher_id}
  router.Add("DELETE", "/api/v1/me/pushers/{pusher_id}", {}, [&](RequestContext& ctx) {
    const std::string& raw = ctx.param("pusher_id");
    char* end = nullptr;
    errno = 0;
    long long id = raw.empty() || raw.size() > 19 ? 0 : std::strtoll(raw.c_str(), &end, 10);
    if (id <= 0 || errno != 0 || !end || *end != '\0') return ToHttp(Error::NotFound("no such pusher"));
    Status st = pushers.Remove(ctx.user().user_id, id);
    if (!st.ok()) return ToHttp(st.error());
    return HttpResponse::NoContent();
  });

  // GET /api/v1/me/notifications?before=&limit=&unread_only=
  router.Add("GET", "/api/v1/me/notifications", {}, [&](RequestContext& ctx) {
    auto before = QueryInt(ctx.req, "before", 1, INT64_MAX);
    if (!before.ok()) return ToHttp(before.error());
    auto limit = QueryInt(ctx.req, "limit", 1, 100, 50);
    if (!limit.ok()) return ToHttp(limit.error());
    auto only = ctx.req.query_param("unread_only").value_or("false");
    if (only != "true" && only != "false") return ToHttp(Error::Invalid("unread_only must be true or false"));
    auto page = notifications.Inbox(ctx.user().user_id, *before, static_cast<int>(*limit), only == "true");
    if (!page.ok()) return ToHttp(page.error());
    json list = json::array();
    for (const auto& n : page->notifications) list.push_back(NotificationJson(n));
    json next = page->has_more ? json(page->notifications.back().notification_id) : json(nullptr);
    return JsonResponse(200, {{"notifications", list}, {"unread", page->unread}, {"next_before", next}});
  });

  // POST /api/v1/me/notifications/read {up_to}
  router.Add("POST", "/api/v1/me/notifications/read", {}, [&](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto up_to = OptionalInt(*body, "up_to");
    if (!up_to.ok()) return ToHttp(up_to.error());
    if (!*up_to || **up_to < 1) return ToHttp(Error::Invalid("up_to must be a notification_id (an integer >= 1)"));
    auto unread = notifications.MarkRead(ctx.user().user_id, **up_to);
    if (!unread.ok()) return ToHttp(unread.error());
    return JsonResponse(200, {{"unread", *unread}});
  });

  // GET /api/v1/me/notification-settings
  router.Add("GET", "/api/v1/me/notification-settings", {}, [&](RequestContext& ctx) {
    auto s = notifications.Settings(ctx.user().user_id);
    if (!s.ok()) return ToHttp(s.error());
    return JsonResponse(200, SettingsJson(*s));
  });

  // PATCH /api/v1/me/notification-settings {default_level?, dnd_until?}
  router.Add("PATCH", "/api/v1/me/notification-settings", {}, [&](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    for (const auto& [key, value] : body->items()) {
      if (key != "default_level" && key != "dnd_until") {
        return ToHttp(Error::Invalid("unknown field " + key + " (default_level, dnd_until)"));
      }
    }
    auto level = OptionalString(*body, "default_level");
    if (!level.ok()) return ToHttp(level.error());
    std::optional<std::optional<int64_t>> dnd;
    if (body->contains("dnd_until")) {
      auto v = OptionalInt(*body, "dnd_until");
      if (!v.ok()) return ToHttp(v.error());
      dnd = *v;
    }
    Status st = notifications.UpdateSettings(ctx.user().user_id, *level, dnd);
    if (!st.ok()) return ToHttp(st.error());
    auto s = notifications.Settings(ctx.user().user_id);
    if (!s.ok()) return ToHttp(s.error());
    return JsonResponse(200, SettingsJson(*s));
  });

  auto level_json = [&notifications](RequestContext& ctx, int64_t row) -> HttpResponse {
    auto own = notifications.GroupLevel(ctx.user().user_id, row);
    if (!own.ok()) return ToHttp(own.error());
    auto s = notifications.Settings(ctx.user().user_id);
    if (!s.ok()) return ToHttp(s.error());
    return JsonResponse(200, {{"group_id", ctx.param("group_id")},
                              {"level", own->value_or(s->default_level)},
                              {"default", !own->has_value()}});
  };

  // GET /api/v1/groups/{group_id}/notification-level
  router.Add("GET", "/api/v1/groups/{group_id}/notification-level", {}, [&, level_json](RequestContext& ctx) {
    auto row = groups.Resolve(ctx.user(), ctx.param("group_id"), true);
    if (!row.ok()) return ToHttp(row.error());
    return level_json(ctx, *row);
  });

  // PUT /api/v1/groups/{group_id}/notification-level {level: all|mentions|none|default}
  router.Add("PUT", "/api/v1/groups/{group_id}/notification-level", {}, [&, level_json](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto level = RequiredString(*body, "level");
    if (!level.ok()) return ToHttp(level.error());
    if (*level != "default" && !IsNotificationLevel(*level)) {
      return ToHttp(Error::Invalid("level must be one of all, mentions, none, default"));
    }
    auto row = groups.Resolve(ctx.user(), ctx.param("group_id"), true);
    if (!row.ok()) return ToHttp(row.error());
    Status st = notifications.SetGroupLevel(ctx.user().user_id, *row,
                                            *level == "default" ? std::nullopt : std::optional<std::string>(*level));
    if (!st.ok()) return ToHttp(st.error());
    return level_json(ctx, *row);
  });
}

}  // namespace gc
