#include "node/http/router.h"

namespace gc {

const std::string& RequestContext::param(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return kEmpty;
}

static std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

Route& Router::Add(std::string method, std::string pattern, RouteOptions options, Handler handler) {
  Route r;
  r.method = std::move(method);
  r.segments = SplitPath(pattern);
  r.pattern = std::move(pattern);
  r.options = options;
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
  return routes_.back();
}

Route& Router::AddAsync(std::string method, std::string pattern, RouteOptions options, AsyncHandler handler) {
  Route& r = Add(std::move(method), std::move(pattern), options, nullptr);
  r.async_handler = std::move(handler);
  return r;
}

// Whether PercentDecode(segment) succeeds (every '%' followed by two hex
// digits), without building the decoded text.
static bool DecodableSegment(std::string_view s) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || !hex(s[i + 1]) || !hex(s[i + 2])) return false;
    i += 2;
  }
  return true;
}

static bool IsParam(const std::string& p) { return p.size() > 2 && p.front() == '{' && p.back() == '}'; }

// Every request is matched here (a send: once for its body limit, once for
// upload routes, once to route it), so the walk over the routes allocates
// nothing: segments are views of `path`, a parameter is only checked, and
// only the route found has its parameters decoded. The outcome is that of
// checking each route's segments in order: a parameter that does not decode
// is a bad path as soon as a route's segments before it matched.
Router::MatchResult Router::Match(std::string_view method, std::string_view path, const Route** route,
                                  std::vector<std::pair<std::string, std::string>>* params) const {
  if (path.empty() || path[0] != '/') return MatchResult::kBadPath;
  constexpr size_t kMaxSegs = 16;
  std::string_view segs[kMaxSegs];
  size_t n = 0;
  for (size_t i = 0; i < path.size();) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (n == kMaxSegs) return MatchResult::kNotFound;  // longer than any route
    segs[n++] = path.substr(i, j - i);
    i = j;
  }
  bool path_matched = false;
  for (const Route& r : routes_) {
    if (r.segments.size() != n) continue;
    bool ok = true;
    for (size_t i = 0; i < n && ok; ++i) {
      const std::string& p = r.segments[i];
      if (IsParam(p)) {
        if (!DecodableSegment(segs[i])) return MatchResult::kBadPath;
      } else if (p != segs[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    path_matched = true;
    if (r.method != method && !(method == "HEAD" && r.method == "GET")) continue;
    std::vector<std::pair<std::string, std::string>> found;
    for (size_t i = 0; i < n; ++i) {
      const std::string& p = r.segments[i];
      if (!IsParam(p)) continue;
      std::string decoded;
      PercentDecode(segs[i], &decoded, false);
      found.emplace_back(p.substr(1, p.size() - 2), std::move(decoded));
    }
    *route = &r;
    *params = std::move(found);
    return MatchResult::kFound;
  }
  return path_matched ? MatchResult::kMethodNotAllowed : MatchResult::kNotFound;
}

}  // namespace gc
