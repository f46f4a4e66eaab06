#include "services/media/media_http.h"

#include <charconv>
#include <chrono>
#include <memory>

#include "node/common/log.h"
#include "node/http/json_body.h"
#include "node/http/router.h"
#include "services/media/media_service.h"
#include "services/media/sniff.h"

namespace gc {

using nlohmann::json;

namespace {

// The media errors the contract names by their own code: 413
// quota_exceeded and 400 invalid_media; and for another node's media, 502
// origin_unavailable (the origin cannot be reached in time) and 502
// remote_media_invalid (its answer failed the checks): the fault is
// upstream, not the client's.
HttpResponse MediaError(const Error& e) {
  if (e.detail_code == "quota_exceeded" || e.detail_code == "invalid_media") {
    HttpResponse r = ToHttp(e);
    r.body = ErrorBody(e.detail_code, e.message, e.detail_code);
    return r;
  }
  if (e.detail_code == "origin_unavailable" || e.detail_code == "remote_media_invalid") {
    HttpResponse r = ErrorResponse(502, e.detail_code, e.message);
    if (e.detail_code == "origin_unavailable") r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  return ToHttp(e);
}

json ItemJson(const MediaItem& m, bool admin) {
  json j = {{"media_id", m.media_id}, {"content_type", m.content_type}, {"size", m.size},
            {"sha256", m.sha256},     {"filename", m.filename},         {"created_at", m.created_at_ms}};
  if (m.width) j["width"] = *m.width;
  if (m.height) j["height"] = *m.height;
  if (admin) {
    j["uploader"] = m.uploader;
    j["quarantined"] = m.quarantined;
  }
  return j;
}

// The media_id of a request: two path segments ({server}/{opaque}) or one
// with the slash percent-encoded ({media_id}).
std::string MediaIdOf(const RequestContext& ctx) {
  const std::string& one = ctx.param("media_id");
  if (!one.empty()) return one;
  return ctx.param("server") + "/" + ctx.param("opaque");
}

// RFC 5987 filename* plus an ASCII fallback.
std::string Disposition(bool inline_ok, const std::string& filename) {
  std::string out = inline_ok ? "inline" : "attachment";
  if (filename.empty()) return out;
  std::string ascii, pct;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : filename) {
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '-' || c == '_';
    ascii += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != ';') ? static_cast<char>(c) : '_';
    if (plain) {
      pct += static_cast<char>(c);
    } else {
      pct += '%';
      pct += hex[c >> 4];
      pct += hex[c & 15];
    }
  }
  return out + "; filename=\"" + ascii + "\"; filename*=UTF-8''" + pct;
}

// One byte range of `size`, from a Range header; nullopt: serve it all
// (no header, several ranges, or syntax we do not take, as RFC 9110
// allows); {-1,-1}: unsatisfiable.
std::optional<std::pair<int64_t, int64_t>> ParseRange(std::string_view h, int64_t size) {
  if (h.empty() || h.substr(0, 6) != "bytes=") return std::nullopt;
  h.remove_prefix(6);
  if (h.find(',') != std::string_view::npos) return std::nullopt;
  size_t dash = h.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto num = [](std::string_view s, int64_t* out) {
    if (s.empty() || s.size() > 18) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  int64_t first = 0, last = 0;
  if (a.empty()) {
    if (!num(b, &last) || last <= 0) return std::nullopt;
    if (size == 0) return std::pair<int64_t, int64_t>{-1, -1};
    return std::pair<int64_t, int64_t>{std::max<int64_t>(0, size - last), size - 1};
  }
  if (!num(a, &first)) return std::nullopt;
  if (b.empty()) {
    last = size - 1;
  } else if (!num(b, &last) || last < first) {
    return std::nullopt;
  }
  if (first >= size) return std::pair<int64_t, int64_t>{-1, -1};
  return std::pair<int64_t, int64_t>{first, std::min(last, size - 1)};
}

HttpResponse ServeBlob(const HttpRequest& req, BlobStore::Opened opened, const std::string& content_type,
                       const std::string& sha256, const std::string& filename) {
  auto file = std::make_shared<ResponseFile>();
  file->fd = opened.fd;
  int64_t size = static_cast<int64_t>(opened.size);
  std::string etag = "\"" + sha256 + "\"";
  HttpResponse r;
  r.content_type = content_type;
  bool image = IsInlineImageType(content_type);
  r.headers = {{"ETag", etag},
               {"Cache-Control", "private, max-age=31536000, immutable"},
               {"Content-Security-Policy", "sandbox"},
               {"Cross-Origin-Resource-Policy", "same-origin"},
               {"Accept-Ranges", "bytes"},
               {"Content-Disposition", Disposition(image, filename)}};
  std::string_view inm = req.header("if-none-match");
  if (!inm.empty() && (inm.find(etag) != std::string_view::npos || inm == "*")) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  auto range = ParseRange(req.header("range"), size);
  std::string_view if_range = req.header("if-range");
  if (range && !if_range.empty() && if_range != etag) range.reset();  // changed since: whole file
  if (range && range->first < 0) {
    HttpResponse e = ErrorResponse(416, "range_not_satisfiable",
                                   "the range is outside the file of " + std::to_string(size) + " bytes");
    e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
    return e;
  }
  if (range) {
    r.status = 206;
    file->offset = static_cast<uint64_t>(range->first);
    file->length = static_cast<uint64_t>(range->second - range->first + 1);
    r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                                std::to_string(range->second) + "/" + std::to_string(size));
  } else {
    file->length = opened.size;
  }
  r.file = std::move(file);
  return r;
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

void AddMediaRoutes(Router& router, MediaService& media, MediaAudit audit, int64_t max_upload_bytes,
                    MediaUrlSigner signer) {
  // POST /api/v1/media?filename=
  RouteOptions upload;
  upload.body_to_file = true;
  upload.max_body = static_cast<size_t>(max_upload_bytes);
  router.AddAsync("POST", "/api/v1/media", upload, [&media](RequestContext& ctx, Respond respond) {
    std::string filename = ctx.req.query_param("filename").value_or("");
    if (filename.size() > 1024) return respond(ToHttp(Error::Invalid("filename is too long (1024 bytes at most)")));
    media.UploadAsync(ctx.principal.user, ctx.req.upload, std::move(filename), [respond](Result<MediaItem> r) {
      if (!r.ok()) return respond(MediaError(r.error()));
      respond(JsonResponse(201, ItemJson(*r, false)));
    });
  });

  // Downloads wait on the origin for another node's media that is not cached
  // here (MediaService::ReadableAsync): asynchronous routes, answered from
  // the fetch's completion. Each copies the request for its Range and
  // validator headers.
  auto download = [&media](RequestContext& ctx, Respond respond) {
    media.ReadableAsync(ctx.user().user_id, MediaIdOf(ctx), [&media, req = ctx.req, respond](Result<MediaItem> item) {
      if (!item.ok()) return respond(MediaError(item.error()));
      auto opened = media.OpenOriginal(*item);
      if (!opened.ok()) return respond(ToHttp(opened.error()));
      respond(ServeBlob(req, *opened, item->content_type, item->sha256, item->filename));
    });
  };
  auto thumbnail = [&media](RequestContext& ctx, Respond respond) {
    auto size = QueryInt(ctx.req, "size", 1, 100000, 320);
    if (!size.ok()) return respond(ToHttp(size.error()));
    int s = static_cast<int>(*size);
    media.ReadableAsync(ctx.user().user_id, MediaIdOf(ctx), [&media, req = ctx.req, s, respond](Result<MediaItem> item) {
      if (!item.ok()) return respond(MediaError(item.error()));
      auto t = media.OpenThumbnail(*item, s);
      if (!t.ok()) return respond(ToHttp(t.error()));
      respond(ServeBlob(req, t->opened, t->content_type, t->sha256, ""));
    });
  };
  auto info = [&media](RequestContext& ctx, Respond respond) {
    media.ReadableAsync(ctx.user().user_id, MediaIdOf(ctx), [respond](Result<MediaItem> item) {
      if (!item.ok()) return respond(MediaError(item.error()));
      respond(JsonResponse(200, ItemJson(*item, false)));
    });
  };
  // A signed link (media_url.h), for a reader who may read the item now
  // (another node's media is fetched first, as for a download).
  auto sign = [&media, signer](RequestContext& ctx, Respond respond) {
    std::string user = ctx.user().user_id;
    media.ReadableAsync(user, MediaIdOf(ctx), [signer, user, respond](Result<MediaItem> item) {
      if (!item.ok()) return respond(MediaError(item.error()));
      int64_t exp = NowSeconds() + MediaUrlSigner::kLifetimeS;
      respond(JsonResponse(200, {{"url", signer.Path(item->media_id, user, exp)}, {"expires_at", exp * 1000}}));
    });
  };
  // The bytes through a signed link: no token (the link is the credential),
  // then the same rule as a download for the user it names. Any fault of
  // the link itself is one 401, whatever the id.
  auto signed_download = [&media, signer](RequestContext& ctx) {
    std::string id = MediaIdOf(ctx);
    std::string user = ctx.req.query_param("u").value_or("");
    std::string sig = ctx.req.query_param("sig").value_or("");
    auto exp = QueryInt(ctx.req, "exp", 0, INT64_MAX / 2, 0);
    if (!exp.ok() || !signer.Verify(id, user, *exp, sig, NowSeconds())) {
      return ToHttp(Error::Unauthorized("this media link is invalid or has expired: ask for a new one"));
    }
    auto item = media.Readable(user, id);
    if (!item.ok()) return MediaError(item.error());
    auto opened = media.OpenOriginal(*item);
    if (!opened.ok()) return ToHttp(opened.error());
    HttpResponse r = ServeBlob(ctx.req, *opened, item->content_type, item->sha256, item->filename);
    for (auto& [name, value] : r.headers) {
      // A browser keeps what a link gave it no longer than the link lives.
      if (name == "Cache-Control") value = "private, max-age=" + std::to_string(MediaUrlSigner::kLifetimeS);
    }
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    return r;
  };
  RouteOptions no_token;
  no_token.auth = false;
  // Literal suffixes first: the router takes the first pattern that fits.
  for (const char* base : {"/api/v1/media/{server}/{opaque}", "/api/v1/media/{media_id}"}) {
    std::string b = base;
    router.AddAsync("GET", b + "/thumbnail", {}, thumbnail);
    router.AddAsync("GET", b + "/info", {}, info);
    router.AddAsync("POST", b + "/url", {}, sign);
    router.Add("GET", b + "/signed", no_token, signed_download);
  }
  router.AddAsync("GET", "/api/v1/media/{server}/{opaque}", {}, download);
  router.AddAsync("GET", "/api/v1/media/{media_id}", {}, download);

  RouteOptions admin;
  admin.admin = true;
  // GET /api/v1/admin/media?uploader=&group=&type=&min_size=&max_size=&before=&limit=
  router.Add("GET", "/api/v1/admin/media", admin, [&media](RequestContext& ctx) {
    MediaFilter f;
    f.uploader = ctx.req.query_param("uploader").value_or("");
    f.group_id = ctx.req.query_param("group").value_or("");
    f.type_prefix = ctx.req.query_param("type").value_or("");
    f.before = ctx.req.query_param("before");
    auto min = QueryInt(ctx.req, "min_size", 0, INT64_MAX);
    if (!min.ok()) return ToHttp(min.error());
    auto max = QueryInt(ctx.req, "max_size", 0, INT64_MAX);
    if (!max.ok()) return ToHttp(max.error());
    auto limit = QueryInt(ctx.req, "limit", 1, 500, 50);
    if (!limit.ok()) return ToHttp(limit.error());
    f.min_size = *min;
    f.max_size = *max;
    f.limit = static_cast<int>(*limit);
    auto list = media.List(f);
    if (!list.ok()) return ToHttp(list.error());
    json items = json::array();
    for (auto& m : *list) items.push_back(ItemJson(m, true));
    json out = {{"media", items}};
    out["next_before"] = static_cast<int64_t>(list->size()) == *limit ? json(list->back().media_id) : json(nullptr);
    return JsonResponse(200, out);
  });
  // GET /api/v1/admin/media/uploaders?limit=: the biggest uploaders
  router.Add("GET", "/api/v1/admin/media/uploaders", admin, [&media](RequestContext& ctx) {
    auto limit = QueryInt(ctx.req, "limit", 1, 100, 10);
    if (!limit.ok()) return ToHttp(limit.error());
    auto top = media.TopUploaders(static_cast<int>(*limit));
    if (!top.ok()) return ToHttp(top.error());
    json list = json::array();
    for (auto& u : *top) list.push_back({{"user_id", u.user_id}, {"count", u.count}, {"bytes", u.bytes}});
    return JsonResponse(200, {{"uploaders", list}});
  });
  // POST (quarantine) and DELETE (release) /api/v1/admin/media/{media_id}/quarantine
  for (const char* base : {"/api/v1/admin/media/{server}/{opaque}", "/api/v1/admin/media/{media_id}"}) {
    for (bool on : {true, false}) {
      router.Add(on ? "POST" : "DELETE", std::string(base) + "/quarantine", admin,
                 [&media, audit, on](RequestContext& ctx) {
                   std::string id = MediaIdOf(ctx);
                   Status st = media.SetQuarantine(id, on, ctx.user().user_id);
                   if (!st.ok()) return ToHttp(st.error());
                   audit(ctx.user().user_id, on ? "media.quarantine" : "media.unquarantine", id, ctx.req.remote_ip,
                         ctx.req.request_id, json::object());
                   return JsonResponse(200, {{"media_id", id}, {"quarantined", on}});
                 });
    }
  }
  // POST /api/v1/admin/media/sweep: the background sweep, now
  router.Add("POST", "/api/v1/admin/media/sweep", admin, [&media, audit](RequestContext& ctx) {
    auto n = media.Sweep();
    if (!n.ok()) return ToHttp(n.error());
    audit(ctx.user().user_id, "media.sweep", "", ctx.req.remote_ip, ctx.req.request_id, {{"removed", *n}});
    return JsonResponse(200, {{"removed", *n}});
  });
}

}  // namespace gc
