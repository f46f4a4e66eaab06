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

Router::MatchResult Router::Match(std::string_view method, std::string_view path, const Route** route,
                                  std::vector<std::pair<std::string, std::string>>* params) const {
  if (path.empty() || path[0] != '/') return MatchResult::kBadPath;
  std::vector<std::string> segs = SplitPath(path);
  bool path_matched = false;
  for (const Route& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    std::vector<std::pair<std::string, std::string>> found;
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      const std::string& p = r.segments[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        std::string decoded;
        if (!PercentDecode(segs[i], &decoded, false)) return MatchResult::kBadPath;
        found.emplace_back(p.substr(1, p.size() - 2), std::move(decoded));
      } else if (p != segs[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    path_matched = true;
    if (r.method != method && !(method == "HEAD" && r.method == "GET")) continue;
    *route = &r;
    *params = std::move(found);
    return MatchResult::kFound;
  }
  return path_matched ? MatchResult::kMethodNotAllowed : MatchResult::kNotFound;
}

}  // namespace gc
