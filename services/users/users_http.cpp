#include "services/users/users_http.h"

#include <cctype>
#include <cstdlib>
#include <memory>

#include "node/common/address.h"
#include "node/config/config.h"
#include "node/http/json_body.h"
#include "node/http/rate_limiter.h"
#include "node/http/router.h"
#include "services/users/user_service.h"

namespace gc {

using nlohmann::json;

namespace {

json ProfileJson(const UserProfile& u, bool self) {
  json j = {{"user_id", u.user_id},
            {"display_name", u.display_name},
            {"avatar_media_id", u.avatar_media_id ? json(*u.avatar_media_id) : json(nullptr)}};
  if (self) {
    j["is_admin"] = u.is_admin;
    j["created_at"] = u.created_at_ms;
    j["email"] = u.email ? json(*u.email) : json(nullptr);  // private: never in the public profile
  }
  if (u.deactivated) j["deactivated"] = true;
  return j;
}

ClientInfo ClientOf(const HttpRequest& req) { return {req.remote_ip, std::string(req.header("user-agent"))}; }

// Per-key login/registration limits, shared by the handlers below.
struct AuthLimits {
  bool enabled;
  RateLimiter login_ip, login_user, register_ip;
  explicit AuthLimits(const Config& c)
      : enabled(c.rate_limits.enabled),
        login_ip(c.rate_limits.login_per_ip.rate, c.rate_limits.login_per_ip.burst),
        login_user(c.rate_limits.login_per_username.rate, c.rate_limits.login_per_username.burst),
        register_ip(c.rate_limits.register_per_ip.rate, c.rate_limits.register_per_ip.burst) {}
};

std::optional<HttpResponse> Limit(bool enabled, RateLimiter& l, std::string_view key) {
  if (!enabled) return std::nullopt;
  int retry = 0;
  if (l.Allow(key, MonotonicSeconds(), &retry)) return std::nullopt;
  return ToHttp(Error::RateLimited(retry));
}

HttpResponse LoginResponse(int status, const LoginResult& r) {
  return JsonResponse(status, {{"user_id", r.user->user_id},
                               {"access_token", r.access_token},
                               {"session_id", r.session_id},
                               {"display_name", r.user->display_name}});
}

}  // namespace

void AddUserRoutes(Router& router, UserService& users, const Config& config,
                   std::function<bool(const std::string&)> is_online,
                   std::function<Result<nlohmann::json>(const std::string&)> remote_profile) {
  auto limits = std::make_shared<AuthLimits>(config);
  RouteOptions open;
  open.auth = false;

  // Login and registration hash a password (argon2id, 64 MiB, tens of ms):
  // they run on the user service's password pool, never on a worker thread
  // (the handlers only check the request, on the I/O thread), and a full
  // pool queue answers 503 at once.
  RouteOptions hashing = open;
  hashing.fast = true;
  auto answer = [](Respond respond, int status) {
    return [respond, status](Result<LoginResult> r) {
      if (!r.ok()) return respond(ToHttp(r.error()));
      respond(LoginResponse(status, *r));
    };
  };

  // POST /api/v1/auth/register
  router.AddAsync("POST", "/api/v1/auth/register", hashing, [&users, limits, answer](RequestContext& ctx,
                                                                                     Respond respond) {
    if (auto r = Limit(limits->enabled, limits->register_ip, ctx.req.remote_ip)) return respond(std::move(*r));
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return respond(ToHttp(body.error()));
    auto username = RequiredString(*body, "username");
    if (!username.ok()) return respond(ToHttp(username.error()));
    auto password = RequiredString(*body, "password");
    if (!password.ok()) return respond(ToHttp(password.error()));
    auto display = OptionalString(*body, "display_name");
    if (!display.ok()) return respond(ToHttp(display.error()));
    auto invite = OptionalString(*body, "invite_token");
    if (!invite.ok()) return respond(ToHttp(invite.error()));
    users.RegisterAsync(*username, *password, *display, *invite, ClientOf(ctx.req), answer(respond, 201));
  });

  // POST /api/v1/auth/login
  router.AddAsync("POST", "/api/v1/auth/login", hashing, [&users, limits, &config, answer](RequestContext& ctx,
                                                                                           Respond respond) {
    if (auto r = Limit(limits->enabled, limits->login_ip, ctx.req.remote_ip)) return respond(std::move(*r));
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return respond(ToHttp(body.error()));
    auto username = RequiredString(*body, "username");
    if (!username.ok()) return respond(ToHttp(username.error()));
    auto password = RequiredString(*body, "password");
    if (!password.ok()) return respond(ToHttp(password.error()));
    // Per-username limit on the account the name denotes, so "alice",
    // "ALICE" and "@Alice:acme.test" share one bucket. A name that denotes no
    // account cannot log in; it is still limited (lower-cased, bounded).
    std::string key;
    if (auto n = LoginUsername(*username, config.node.name); n.ok()) {
      key = *n;
    } else {
      key = "?" + username->substr(0, 300);
      for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (auto r = Limit(limits->enabled, limits->login_user, key)) return respond(std::move(*r));
    users.LoginAsync(*username, *password, ClientOf(ctx.req), answer(respond, 200));
  });

  // POST /api/v1/stream/tickets: a one-time credential for one stream
  // connection, so that the access token never appears in a URL.
  router.Add("POST", "/api/v1/stream/tickets", {}, [&users](RequestContext& ctx) {
    auto t = users.IssueStreamTicket(ctx.principal);
    if (!t.ok()) return ToHttp(t.error());
    return JsonResponse(201, {{"ticket", *t}, {"expires_in_s", UserService::kStreamTicketTtlS}});
  });

  // POST /api/v1/auth/logout
  router.Add("POST", "/api/v1/auth/logout", {}, [&users](RequestContext& ctx) {
    auto st = users.Logout(ctx.principal);
    if (!st.ok()) return ToHttp(st.error());
    return HttpResponse::NoContent();
  });

  // GET /api/v1/me
  RouteOptions fast;
  fast.fast = true;
  router.Add("GET", "/api/v1/me", fast, [](RequestContext& ctx) {
    return JsonResponse(200, ProfileJson(ctx.user(), true));
  });

  // PATCH /api/v1/me
  router.Add("PATCH", "/api/v1/me", {}, [&users](RequestContext& ctx) {
    auto body = ParseJsonObject(ctx.req.body);
    if (!body.ok()) return ToHttp(body.error());
    auto display = OptionalString(*body, "display_name");
    if (!display.ok()) return ToHttp(display.error());
    if (body->contains("display_name") && (*body)["display_name"].is_null()) {
      return ToHttp(Error::Invalid("display_name must be a string"));
    }
    std::optional<std::optional<std::string>> avatar;
    if (body->contains("avatar_media_id")) {
      auto a = OptionalString(*body, "avatar_media_id");
      if (!a.ok()) return ToHttp(a.error());
      avatar = *a;  // null clears the avatar
    }
    std::optional<std::optional<std::string>> email;
    if (body->contains("email")) {
      auto e = OptionalString(*body, "email");
      if (!e.ok()) return ToHttp(e.error());
      email = *e;  // null (or "") removes the address
      if (*email && (*email)->empty()) *email = std::nullopt;
    }
    if (!*display && !avatar && !email) {
      return ToHttp(Error::Invalid("nothing to change: send display_name, avatar_media_id or email"));
    }
    auto r = users.UpdateProfile(ctx.principal, *display, avatar, email);
    if (!r.ok()) return ToHttp(r.error());
    return JsonResponse(200, ProfileJson(**r, true));
  });

  // GET /api/v1/me/sessions
  router.Add("GET", "/api/v1/me/sessions", {}, [&users](RequestContext& ctx) {
    auto r = users.ListSessions(ctx.principal);
    if (!r.ok()) return ToHttp(r.error());
    json list = json::array();
    for (const auto& s : *r) {
      list.push_back({{"session_id", s.id},
                      {"created_at", s.created_at_ms},
                      {"last_used_at", s.last_used_at_ms},
                      {"ip", s.ip},
                      {"user_agent", s.user_agent},
                      {"current", s.id == ctx.principal.session_id}});
    }
    return JsonResponse(200, {{"sessions", list}});
  });

  // DELETE /api/v1/me/sessions/{session_id}
  router.Add("DELETE", "/api/v1/me/sessions/{session_id}", {}, [&users](RequestContext& ctx) {
    const std::string& s = ctx.param("session_id");
    char* end = nullptr;
    long long id = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || s.size() > 18 || *end != '\0' || id <= 0) {
      return ToHttp(Error::Invalid("session_id must be a positive integer"));
    }
    auto st = users.RevokeSession(ctx.principal, id);
    if (!st.ok()) return ToHttp(st.error());
    return HttpResponse::NoContent();
  });

  // GET /api/v1/users/{user_id}
  std::string self = config.node.name;
  router.Add("GET", "/api/v1/users/{user_id}", {}, [&users, is_online, remote_profile, self](RequestContext& ctx) {
    auto addr = ParseUserId(ctx.param("user_id"));
    if (addr && addr->server != self && remote_profile) {
      // A user of another node: their node's answer, cached for a while.
      auto p = remote_profile(ctx.param("user_id"));
      if (!p.ok()) return ToHttp(p.error());
      return JsonResponse(200, *p);
    }
    auto r = users.GetUser(ctx.param("user_id"));
    if (!r.ok()) return ToHttp(r.error());
    json j = ProfileJson(**r, false);
    j["presence"] = is_online && is_online((*r)->user_id) ? "online" : "offline";
    return JsonResponse(200, j);
  });
}

}  // namespace gc
