// Routes: method + path pattern -> handler, with the policy the gateway applies
// before calling it (authentication, admin-only, rate limits, body size).
//
// Patterns are literal segments and `{name}` captures: /api/v1/users/{user_id}.
// A capture matches one percent-encoded segment and is decoded before the
// handler sees it (so `@alice%3Aacme.test` arrives as `@alice:acme.test`).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/common/principal.h"
#include "node/http/http_types.h"

namespace gc {

struct RequestContext {
  const HttpRequest& req;
  std::vector<std::pair<std::string, std::string>> params;
  Principal principal;  // set when the route requires auth

  const std::string& param(std::string_view name) const;
  const UserProfile& user() const { return *principal.user; }
};

using Handler = std::function<HttpResponse(RequestContext&)>;

// Answers an asynchronous request. Call it exactly once, from any thread;
// later calls are ignored (and logged). If every copy is dropped uncalled,
// the request is answered 500, so a forgotten path cannot hang a client.
using Respond = std::function<void(HttpResponse)>;
// A handler that waits on something outside this node (a peer's answer):
// it starts the work, returns at once, and answers through `respond` when the
// work completes. It runs where a sync handler would (the worker pool, or the
// I/O thread for `fast` routes), so it may block briefly on the database, but
// never waits for a peer. `ctx` lives only during the call: copy what the
// completion needs (the request, the user). An exception thrown by the call
// itself is answered 500 like a sync handler's.
using AsyncHandler = std::function<void(RequestContext&, Respond)>;

struct RouteOptions {
  bool auth = true;          // requires a valid Bearer token
  bool admin = false;        // requires an admin user (403 otherwise)
  bool fast = false;         // never blocks once auth is resolved: may run on an I/O thread
  bool rate_limited = true;  // subject to the per-IP and per-user buckets
  size_t max_body = 0;       // 0: http.max_body_bytes
  // The body is streamed to a temporary file (HttpRequest::upload), never
  // held in memory: for uploads up to limits.max_upload_bytes.
  bool body_to_file = false;
};

struct Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;
  RouteOptions options;
  Handler handler;             // one of handler and async_handler is set
  AsyncHandler async_handler;
  int metric_index = -1;
};

class Router {
 public:
  Route& Add(std::string method, std::string pattern, RouteOptions options, Handler handler);
  Route& AddAsync(std::string method, std::string pattern, RouteOptions options, AsyncHandler handler);

  enum class MatchResult { kFound, kNotFound, kMethodNotAllowed, kBadPath };
  // Finds the route for method+path; fills params on success.
  MatchResult Match(std::string_view method, std::string_view path, const Route** route,
                    std::vector<std::pair<std::string, std::string>>* params) const;

  std::vector<Route>& routes() { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace gc
