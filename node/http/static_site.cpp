#include "node/http/static_site.h"

#include <filesystem>
#include <fstream>
#include <memory>

#include "node/common/encoding.h"
#include "node/common/log.h"
#include "node/http/router.h"

namespace gc {
namespace fs = std::filesystem;

const char* const kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'";

namespace {

std::string ContentType(const fs::path& p) {
  std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".webmanifest") return "application/manifest+json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

struct StaticFile {
  std::string body, type, etag;
};

HttpResponse Serve(const StaticFile& f, const RequestContext& ctx) {
  HttpResponse r;
  r.content_type = f.type;
  r.headers = {{"ETag", f.etag},
               {"Cache-Control", "no-cache"},
               {"Content-Security-Policy", kContentSecurityPolicy},
               {"X-Frame-Options", "DENY"},
               {"Referrer-Policy", "no-referrer"},
               {"Cross-Origin-Opener-Policy", "same-origin"}};
  if (ctx.req.header("if-none-match") == f.etag) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.body = f.body;
  return r;
}

}  // namespace

Result<int> AddStaticSite(Router& router, const std::string& dir, const std::string& url_prefix) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    LogWarn("web app directory not found; not serving it", {{"dir", dir}, {"url", url_prefix}});
    return 0;
  }
  RouteOptions opt;
  opt.auth = false;
  opt.fast = true;
  int n = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), dir).generic_string();
    if (rel.empty() || rel[0] == '.' || rel.find("/.") != std::string::npos) continue;  // no dotfiles
    if (rel.rfind("node_modules", 0) == 0) continue;
    std::ifstream in(it->path(), std::ios::binary);
    auto f = std::make_shared<StaticFile>();
    f->body.assign(std::istreambuf_iterator<char>(in), {});
    f->type = ContentType(it->path());
    f->etag = "\"" + Base64Url(Sha256(f->body)).substr(0, 22) + "\"";
    auto handler = [f](RequestContext& ctx) { return Serve(*f, ctx); };
    std::string base = url_prefix.back() == '/' ? url_prefix : url_prefix + "/";
    router.Add("GET", base + rel, opt, handler);
    if (rel == "index.html") router.Add("GET", base, opt, handler);
    ++n;
  }
  LogInfo("serving web app", {{"dir", dir}, {"url", url_prefix}, {"files", n}});
  return n;
}

}  // namespace gc
