// Gateway: what happens to every HTTP request between the socket and a
// handler: route lookup, per-IP and per-user rate limits, Bearer
// authentication, admin checks, running the handler on the right thread,
// turning failures into the JSON error shape, metrics and the access log.
//
// Handlers that may block (database, argon2) run on the worker pool given by
// `post_blocking`. Asynchronous handlers (Router::AddAsync) run there too but
// return at once; whichever thread completes them answers, through Finish
// like every other request (metrics, access log). A route marked `fast` whose caller is already in the token
// cache runs inline on the I/O thread: the authenticated hot path then costs
// no thread hop and no database round trip.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "node/common/principal.h"
#include "node/common/result.h"
#include "node/http/http_types.h"
#include "node/http/rate_limiter.h"
#include "node/http/router.h"

namespace gc {

struct Config;
class Metrics;

// Resolves Bearer tokens to principals (implemented by the user service).
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Non-blocking: the principal if the token is cached and valid.
  virtual std::optional<Principal> CachedPrincipal(std::string_view token) = 0;
  // May block on the database. kUnauthorized for unknown, revoked, expired
  // or deactivated credentials.
  virtual Result<Principal> Authenticate(std::string_view token) = 0;
  // A one-time stream ticket's session (spec/stream.md, Connecting); the
  // ticket is spent whatever the outcome. May block on the database.
  // kUnauthorized for unknown, spent or expired tickets and ended sessions.
  virtual Result<Principal> RedeemStreamTicket(std::string_view ticket) = 0;
};

class Gateway {
 public:
  using Post = std::function<void(std::function<void()>)>;
  using Done = std::function<void(HttpResponse)>;

  Gateway(const Config& config, Metrics& metrics, Router& router, Authenticator& auth, Post post_blocking);

  // Registers route metrics; call once after all routes are added.
  void Freeze();

  // Handles one request; `done` is called exactly once, on any thread.
  void Handle(HttpRequest req, Done done);

  // Body size limit for a request (the route's own, else http.max_body_bytes).
  size_t BodyLimit(std::string_view method, std::string_view path) const;
  // Whether the route streams its body to a file (RouteOptions::body_to_file).
  bool BodyToFile(std::string_view method, std::string_view path) const;

  // A body_to_file route's token, checked from the head before its body is
  // read (so a request with a missing or wrong token costs no disk):
  // `done(std::nullopt)` if it names a live session, else the error to
  // answer (kUnauthorized, or kUnavailable when the database is down).
  // Called once, inline or from a worker thread. The request is
  // authenticated again, from the cache, when it is handled.
  void CheckTokenBeforeBody(std::string_view authorization, std::function<void(std::optional<Error>)> done);

  // Access to the limiter for handlers with their own keys (login, register).
  bool rate_limits_enabled() const { return rate_limits_enabled_; }

 private:
  void Run(const Route* route, HttpRequest req, std::vector<std::pair<std::string, std::string>> params,
           std::optional<Principal> principal, double start, Done done);
  struct AsyncCall;
  void RunAsync(const Route* route, HttpRequest req, std::vector<std::pair<std::string, std::string>> params,
                std::optional<Principal> principal, double start, Done done);
  void Finish(const HttpRequest& req, const Route* route, int metric_index, const std::string& user, double start,
              HttpResponse resp, const Done& done);

  Metrics& metrics_;
  Router& router_;
  Authenticator& auth_;
  Post post_blocking_;
  bool rate_limits_enabled_;
  bool access_log_;
  size_t default_max_body_;
  std::unique_ptr<RateLimiter> per_ip_;
  std::unique_ptr<RateLimiter> per_user_;
  int unmatched_metric_ = -1;
};

// Reads a Bearer token from the Authorization header (or nullopt).
std::optional<std::string_view> BearerToken(const HttpRequest& req);
// The same from an Authorization header's value.
std::optional<std::string_view> BearerToken(std::string_view authorization);

}  // namespace gc
