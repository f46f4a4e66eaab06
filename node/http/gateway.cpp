#include "node/http/gateway.h"

#include "node/common/completion.h"
#include "node/common/log.h"
#include "node/config/config.h"
#include "node/http/json_body.h"
#include "node/http/metrics.h"

namespace gc {

std::optional<std::string_view> BearerToken(const HttpRequest& req) { return BearerToken(req.header("authorization")); }

std::optional<std::string_view> BearerToken(std::string_view h) {
  if (h.size() < 7) return std::nullopt;
  std::string_view scheme = h.substr(0, 7);
  if (scheme != "Bearer " && scheme != "bearer ") return std::nullopt;
  std::string_view token = h.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

Gateway::Gateway(const Config& config, Metrics& metrics, Router& router, Authenticator& auth, Post post_blocking)
    : metrics_(metrics),
      router_(router),
      auth_(auth),
      post_blocking_(std::move(post_blocking)),
      rate_limits_enabled_(config.rate_limits.enabled),
      access_log_(config.log.access),
      default_max_body_(static_cast<size_t>(config.http.max_body_bytes)),
      per_ip_(std::make_unique<RateLimiter>(config.rate_limits.per_ip.rate, config.rate_limits.per_ip.burst)),
      per_user_(std::make_unique<RateLimiter>(config.rate_limits.per_user.rate, config.rate_limits.per_user.burst)) {}

void Gateway::Freeze() {
  for (Route& r : router_.routes()) r.metric_index = metrics_.AddRoute(r.method + " " + r.pattern);
  unmatched_metric_ = metrics_.AddRoute("unmatched");
}

void Gateway::CheckTokenBeforeBody(std::string_view authorization, std::function<void(std::optional<Error>)> done) {
  auto token = BearerToken(authorization);
  if (!token) return done(Error::Unauthorized("missing access token: send Authorization: Bearer TOKEN"));
  if (auth_.CachedPrincipal(*token)) return done(std::nullopt);
  post_blocking_([this, token = std::string(*token), done = std::move(done)] {
    auto p = auth_.Authenticate(token);
    if (!p.ok()) return done(p.error());
    done(std::nullopt);
  });
}

size_t Gateway::BodyLimit(std::string_view method, std::string_view path) const {
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  if (router_.Match(method, path, &route, &params) == Router::MatchResult::kFound && route->options.max_body) {
    return route->options.max_body;
  }
  return default_max_body_;
}

bool Gateway::BodyToFile(std::string_view method, std::string_view path) const {
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  return router_.Match(method, path, &route, &params) == Router::MatchResult::kFound && route->options.body_to_file;
}

void Gateway::Handle(HttpRequest req, Done done) {
  double start = MonotonicSeconds();
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  auto m = router_.Match(req.method, req.path, &route, &params);
  if (m != Router::MatchResult::kFound) {
    HttpResponse r = m == Router::MatchResult::kMethodNotAllowed
                         ? ErrorResponse(405, "method_not_allowed", "this path does not take " + req.method)
                         : m == Router::MatchResult::kBadPath
                               ? ErrorResponse(400, "invalid_request", "malformed request path")
                               : ErrorResponse(404, "not_found", "no such endpoint");
    Finish(req, nullptr, unmatched_metric_, "", start, std::move(r), done);
    return;
  }
  const RouteOptions& opt = route->options;
  if (opt.rate_limited && rate_limits_enabled_) {
    int retry = 0;
    if (!per_ip_->Allow(req.remote_ip, start, &retry)) {
      Finish(req, route, route->metric_index, "", start, ToHttp(Error::RateLimited(retry)), done);
      return;
    }
  }
  if (!opt.auth) {
    if (opt.fast) {
      Run(route, std::move(req), std::move(params), std::nullopt, start, std::move(done));
    } else {
      auto shared = std::make_shared<HttpRequest>(std::move(req));
      post_blocking_([this, route, shared, params = std::move(params), start, done = std::move(done)]() mutable {
        Run(route, std::move(*shared), std::move(params), std::nullopt, start, std::move(done));
      });
    }
    return;
  }
  auto token = BearerToken(req);
  if (!token) {
    Finish(req, route, route->metric_index, "", start,
           ToHttp(Error::Unauthorized("missing access token: send Authorization: Bearer TOKEN")), done);
    return;
  }
  if (opt.fast) {
    if (auto p = auth_.CachedPrincipal(*token)) {
      Run(route, std::move(req), std::move(params), std::move(p), start, std::move(done));
      return;
    }
  }
  auto shared = std::make_shared<HttpRequest>(std::move(req));
  post_blocking_([this, route, shared, params = std::move(params), start, done = std::move(done)]() mutable {
    auto token = BearerToken(*shared);
    auto p = auth_.Authenticate(*token);
    if (!p.ok()) {
      Finish(*shared, route, route->metric_index, "", start, ToHttp(p.error()), done);
      return;
    }
    Run(route, std::move(*shared), std::move(params), std::move(*p), start, std::move(done));
  });
}

void Gateway::Run(const Route* route, HttpRequest req, std::vector<std::pair<std::string, std::string>> params,
                  std::optional<Principal> principal, double start, Done done) {
  std::string user = principal ? principal->user->user_id : "";
  const RouteOptions& opt = route->options;
  if (principal && opt.rate_limited && rate_limits_enabled_) {
    int retry = 0;
    if (!per_user_->Allow(user, start, &retry)) {
      Finish(req, route, route->metric_index, user, start, ToHttp(Error::RateLimited(retry)), done);
      return;
    }
  }
  if (opt.admin && !(principal && principal->user->is_admin)) {
    Finish(req, route, route->metric_index, user, start, ToHttp(Error::Forbidden("admin users only")), done);
    return;
  }
  if (route->async_handler) return RunAsync(route, std::move(req), std::move(params), std::move(principal), start,
                                            std::move(done));
  RequestContext ctx{req, std::move(params), principal ? std::move(*principal) : Principal{}};
  HttpResponse resp;
  try {
    resp = route->handler(ctx);
  } catch (const std::exception& e) {
    LogError("handler threw", {{"request_id", req.request_id}, {"route", route->pattern}, {"error", e.what()}});
    resp = ToHttp(Error::Internal("internal error"));
  } catch (...) {
    LogError("handler threw", {{"request_id", req.request_id}, {"route", route->pattern}, {"error", "unknown"}});
    resp = ToHttp(Error::Internal("internal error"));
  }
  Finish(req, route, route->metric_index, user, start, std::move(resp), done);
}

// The state of one asynchronous request: answered once, by the handler's
// completion, by its exception, or (if every Respond copy is dropped
// uncalled) by the destructor.
struct Gateway::AsyncCall {
  Gateway* gateway = nullptr;
  HttpRequest req;
  const Route* route = nullptr;
  std::string user;
  double start = 0;
  Done done;
  Once once;

  void Answer(HttpResponse resp) {
    if (!once.Claim()) {
      LogError("handler answered twice", {{"request_id", req.request_id}, {"route", route->pattern}});
      return;
    }
    gateway->Finish(req, route, route->metric_index, user, start, std::move(resp), done);
  }
  ~AsyncCall() {
    if (once.claimed()) return;
    LogError("handler dropped a request unanswered", {{"request_id", req.request_id}, {"route", route->pattern}});
    Answer(ToHttp(Error::Internal("internal error")));
  }
};

void Gateway::RunAsync(const Route* route, HttpRequest req, std::vector<std::pair<std::string, std::string>> params,
                       std::optional<Principal> principal, double start, Done done) {
  auto call = std::make_shared<AsyncCall>();
  call->gateway = this;
  call->req = std::move(req);
  call->route = route;
  call->user = principal ? principal->user->user_id : "";
  call->start = start;
  call->done = std::move(done);
  RequestContext ctx{call->req, std::move(params), principal ? std::move(*principal) : Principal{}};
  Respond respond = [call](HttpResponse resp) { call->Answer(std::move(resp)); };
  try {
    route->async_handler(ctx, std::move(respond));
  } catch (const std::exception& e) {
    LogError("handler threw", {{"request_id", call->req.request_id}, {"route", route->pattern}, {"error", e.what()}});
    if (!call->once.claimed()) call->Answer(ToHttp(Error::Internal("internal error")));
  }
}

void Gateway::Finish(const HttpRequest& req, const Route* route, int metric_index, const std::string& user,
                     double start, HttpResponse resp, const Done& done) {
  double elapsed = MonotonicSeconds() - start;
  metrics_.RecordRequest(metric_index, resp.status, elapsed);
  if (access_log_) {
    Log(LogLevel::kInfo, "http",
        {{"request_id", req.request_id},
         {"method", req.method},
         {"path", req.path},
         {"route", route ? route->pattern : std::string()},
         {"status", resp.status},
         {"ms", elapsed * 1000.0},
         {"ip", req.remote_ip},
         {"user", user},
         {"bytes", static_cast<int64_t>(resp.file ? resp.file->length : resp.body.size())}});
  }
  done(std::move(resp));
}

}  // namespace gc
