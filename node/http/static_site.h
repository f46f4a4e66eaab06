// StaticSite: a build-free web app (the web client, the admin console) served
// from memory. Every file under the directory is read once at start and
// becomes its own route, so no request path ever reaches the file system
// (no traversal, no listing). Answers carry a strict Content-Security-Policy
// (nothing from other origins, no inline script), an ETag and
// `Cache-Control: no-cache`, so browsers revalidate and get 304s.
#pragma once

#include <string>

#include "node/common/result.h"

namespace gc {

class Router;

// Adds GET routes for every file under `dir` at `url_prefix` + its relative
// path ("/" + "app.js"), and `url_prefix` itself for index.html. Returns the
// number of files. A missing directory is not an error (returns 0, logged).
Result<int> AddStaticSite(Router& router, const std::string& dir, const std::string& url_prefix);

// The Content-Security-Policy sent with every static file.
extern const char* const kContentSecurityPolicy;

}  // namespace gc
