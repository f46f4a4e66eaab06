#include "admin/notifications_admin.h"

#include <cstdlib>
#include <map>

#include "admin/audit_log.h"
#include "node/common/log.h"
#include "node/config/config.h"
#include "node/db/singleton_lock.h"
#include "node/http/json_body.h"
#include "node/http/router.h"
#include "services/notifications/email_notifier.h"
#include "services/notifications/notification_service.h"
#include "services/notifications/push_sender.h"
#include "services/notifications/pusher_directory.h"

namespace gc {

using nlohmann::json;

namespace {

json OptInt(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

// One kind of pusher's delivery counts; `queued` from the queue itself.
json PushCounts(const PushSender::Counts& c, int64_t queued) {
  return {{"delivered", c.delivered.load()}, {"failed", c.failed.load()}, {"retried", c.retried.load()},
          {"removed", c.removed.load()}, {"queued", queued}};
}

json PusherRecordJson(const PusherRecord& p) {
  return {{"pusher_id", p.pusher_id},
          {"user_id", p.user_id},
          {"kind", p.kind},
          {"url", p.url},
          {"created_at", p.created_at},
          {"last_success_at", OptInt(p.last_success_at)},
          {"last_error", p.last_error ? json(*p.last_error) : json(nullptr)},
          {"failures", p.failures},
          {"queued", p.queued},
          {"status", p.failures > 0 ? "failing" : (p.last_success_at ? "ok" : "new")}};
}

}  // namespace

void AddNotificationAdminRoutes(Router& router, NotificationAdminDeps deps) {
  RouteOptions admin;
  admin.admin = true;

  // GET /api/v1/admin/notifications
  router.Add("GET", "/api/v1/admin/notifications", admin, [deps](RequestContext&) {
    auto kinds = deps.directory.Stats();
    if (!kinds.ok()) return ToHttp(kinds.error());
    auto email_pending = deps.email.CountPending();
    if (!email_pending.ok()) return ToHttp(email_pending.error());
    json pushers = json::array();
    int64_t push_queue = 0;
    std::map<std::string, int64_t> queued;
    for (const auto& k : *kinds) {
      pushers.push_back({{"kind", k.kind}, {"pushers", k.pushers}, {"failing", k.failing}, {"queued", k.queued}});
      push_queue += k.queued;
      queued[k.kind] += k.queued;
    }
    const EmailOptions& eo = deps.email.options();
    json j = {
        {"worker",
         {{"runs_here", !deps.singleton || deps.singleton->held()},
          {"backlog", deps.notifications.backlog()},
          {"lag_seconds", deps.notifications.lag_seconds()},
          {"made", deps.notifications.made.load()},
          {"withdrawn", deps.notifications.withdrawn.load()}}},
        {"queues", {{"push", push_queue}, {"email", *email_pending}}},
        // Counted by this process since it started.
        {"delivery",
         {{"webhook", PushCounts(deps.pushers.webhook, queued["webhook"])},
          {"webpush", PushCounts(deps.pushers.webpush, queued["webpush"])},
          {"email", {{"delivered", deps.email.sent.load()}, {"failed", deps.email.failed.load()},
                     {"retried", deps.email.retried.load()}, {"dropped", deps.email.dropped.load()},
                     {"queued", *email_pending}}}}},
        {"pushers", pushers},
        {"email",
         {{"enabled", deps.email.configured()},
          {"smtp_url", RedactUrlPassword(eo.smtp_url)},
          {"from", eo.from},
          {"delay_s", eo.delay_s},
          {"public_url", eo.public_url}}}};
    return JsonResponse(200, j);
  });

  // GET /api/v1/admin/pushers?user_id=&limit=&offset=
  router.Add("GET", "/api/v1/admin/pushers", admin, [deps](RequestContext& ctx) {
    auto limit = QueryInt(ctx.req, "limit", 1, 500, 100);
    if (!limit.ok()) return ToHttp(limit.error());
    auto offset = QueryInt(ctx.req, "offset", 0, 100000000, 0);
    if (!offset.ok()) return ToHttp(offset.error());
    std::string user = ctx.req.query_param("user_id").value_or("");
    if (user.size() > 256) return ToHttp(Error::Invalid("user_id is too long"));
    int64_t total = 0;
    auto list = deps.directory.List(user, static_cast<int>(*limit), static_cast<int>(*offset), &total);
    if (!list.ok()) return ToHttp(list.error());
    json out = json::array();
    for (const auto& p : *list) out.push_back(PusherRecordJson(p));
    return JsonResponse(200, {{"pushers", out}, {"total", total}, {"limit", *limit}, {"offset", *offset}});
  });

  // DELETE /api/v1/admin/pushers/{pusher_id}
  router.Add("DELETE", "/api/v1/admin/pushers/{pusher_id}", admin, [deps](RequestContext& ctx) {
    const std::string& s = ctx.param("pusher_id");
    char* end = nullptr;
    long long id = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || s.size() > 18 || *end != '\0' || id <= 0) {
      return ToHttp(Error::Invalid("pusher_id must be a positive integer"));
    }
    auto removed = deps.directory.Remove(id);
    if (!removed.ok()) return ToHttp(removed.error());
    json detail = {{"pusher_id", removed->pusher_id}, {"kind", removed->kind}, {"url", removed->url}};
    auto st = deps.audit.Record(ctx.user().user_id, "pusher.remove", removed->user_id, ctx.req.remote_ip,
                                ctx.req.request_id, detail);
    if (!st.ok()) LogError("could not write the audit log", {{"action", "pusher.remove"}, {"error", st.error().message}});
    return JsonResponse(200, {{"removed", PusherRecordJson(*removed)}});
  });
}

}  // namespace gc
