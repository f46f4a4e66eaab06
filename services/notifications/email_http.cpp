#include "services/notifications/email_http.h"

#include "node/http/json_body.h"
#include "node/http/router.h"
#include "services/notifications/email_notifier.h"

namespace gc {

using nlohmann::json;

namespace {

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

HttpResponse Page(const std::string& title, const std::string& inner) {
  HttpResponse r;
  r.status = 200;
  r.content_type = "text/html; charset=utf-8";
  r.body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + HtmlEscape(title) +
           "</title><meta name=\"viewport\" content=\"width=device-width\"></head><body><main><h1>" +
           HtmlEscape(title) + "</h1>" + inner + "</main></body></html>";
  r.headers.push_back({"Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'"});
  r.headers.push_back({"Cache-Control", "no-store"});
  r.headers.push_back({"Referrer-Policy", "no-referrer"});
  return r;
}

json PrefsJson(const EmailPrefs& p) {
  return {{"configured", p.configured},
          {"enabled", p.enabled},
          {"email", p.email ? json(*p.email) : json(nullptr)},
          {"delay_s", p.delay_s}};
}

}  // namespace

void AddEmailRoutes(Router& router, EmailNotifier& email) {
  RouteOptions open;
  open.auth = false;
  open.max_body = 4096;

  // GET /api/v1/email/unsubscribe?token=
  router.Add("GET", "/api/v1/email/unsubscribe", open, [&email](RequestContext& ctx) {
    std::string token = ctx.req.query_param("token").value_or("");
    auto user = email.CheckToken(token);
    if (!user.ok()) return ToHttp(user.error());
    return Page("Stop email notifications",
                "<p>Stop mailing " + HtmlEscape(*user) +
                    " about mentions and replies left unread?</p><form method=\"post\" action=\"?token=" +
                    HtmlEscape(token) + "\"><button type=\"submit\">Unsubscribe</button></form>");
  });

  // POST /api/v1/email/unsubscribe?token=  (body ignored: empty, a form, or
  // "List-Unsubscribe=One-Click")
  router.Add("POST", "/api/v1/email/unsubscribe", open, [&email](RequestContext& ctx) {
    auto user = email.Unsubscribe(ctx.req.query_param("token").value_or(""));
    if (!user.ok()) return ToHttp(user.error());
    return Page("Unsubscribed", "<p>" + HtmlEscape(*user) +
                                    " gets no more email notifications. Turn them back on in the web client's "
                                    "notification settings.</p>");
  });

  // GET /api/v1/me/email-notifications
  router.Add("GET", "/api/v1/me/email-notifications", {}, [&email](RequestContext& ctx) {
    auto p = email.Prefs(ctx.user().user_id);
    if (!p.ok()) return ToHttp(p.error());
    return JsonResponse(200, PrefsJson(*p));
  });

  // PUT /api/v1/me/email-notifications {enabled}
  router.Add("PUT", "/api/v1/me/email-notifications", {}, [&email](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto enabled = OptionalBool(*body, "enabled");
    if (!enabled.ok()) return ToHttp(enabled.error());
    if (!*enabled) return ToHttp(Error::Invalid("enabled (true or false) is required"));
    auto st = email.SetEnabled(ctx.user().user_id, **enabled);
    if (!st.ok()) return ToHttp(st.error());
    auto p = email.Prefs(ctx.user().user_id);
    if (!p.ok()) return ToHttp(p.error());
    return JsonResponse(200, PrefsJson(*p));
  });
}

}  // namespace gc
