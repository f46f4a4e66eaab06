// The routes the node answers itself rather than a service: its signed
// identity document (GET /.well-known/groupchat/node), the introductions of
// other nodes (POST /_federation/v1/hello), and the probes (GET /healthz,
// GET /metrics). Part of the composition root (node.h): they need the node's
// keys, its federation and its metrics, which only the root holds.
#include <sodium.h>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "federation/federation.h"
#include "node/common/address.h"
#include "node/common/encoding.h"
#include "node/common/worker_pool.h"
#include "node/http/json_body.h"
#include "node/http/metrics.h"
#include "node/http/rate_limiter.h"
#include "node/http/router.h"
#include "node/identity/node_keys.h"
#include "node/node.h"
#include "services/groups/signed_log/chain.h"
#include "services/groups/signed_log/signed_event.h"

namespace gc {

namespace {

// Introductions (POST /_federation/v1/hello) waiting for the fetch pool;
// past it, 503 at once.
constexpr size_t kMaxQueuedHellos = 16;

}  // namespace

Status Node::AddNodeRoutes(Router& router, const RouteOptions& probe) {
  // GET /.well-known/groupchat/node: the node's identity, signed by itself
  // (spec/federation.md section 2). Built once: the keys do not change while
  // the node runs.
  {
    nlohmann::json doc = {{"name", config_.node.name},
                          {"federation_endpoint",
                           config_.federation.endpoint.empty() ? federation_->endpoint() : config_.federation.endpoint},
                          {"public_key", Base64Url(keys_->identity_public)},
                          {"key_id", keys_->key_id},
                          {"transport_key", Base64Url(keys_->transport_public)},
                          {"old_verify_keys", nlohmann::json::object()}};
    for (const auto& old : keys_->old_keys) {
      doc["old_verify_keys"][old.key_id] = {{"key", Base64Url(old.public_key)}, {"expired_ts", old.retired_ms}};
    }
    if (!keys_->old_keys.empty()) {
      // The key before this one hands over to it, so that peers that pinned
      // it follow the rotation without an admin (spec/federation.md 11).
      const auto& prev = keys_->old_keys.back();
      std::string bytes = RotationBytes(config_.node.name, prev.key_id, keys_->key_id, Base64Url(keys_->identity_public));
      doc["rotation"] = {{"old_key_id", prev.key_id}, {"signature", SignBytes(bytes, prev.secret_key)}};
    }
    SigningKey sk{config_.node.name, keys_->key_id, keys_->identity_secret, keys_->identity_public};
    auto bytes = SigningBytes(doc);
    if (!bytes.ok()) return bytes.error();
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size(),
                         reinterpret_cast<const unsigned char*>(sk.secret_key.data()));
    doc["signature"] = Base64Url(std::string(reinterpret_cast<char*>(sig), sizeof sig));
    std::string body = doc.dump();
    federation_->set_node_document(body);
    router.Add("GET", "/.well-known/groupchat/node", probe, [body](RequestContext&) {
      HttpResponse r = HttpResponse::Json(200, body);
      r.headers.emplace_back("Cache-Control", "public, max-age=300");
      return r;
    });
  }
  // POST /_federation/v1/hello {name}: another node introduces itself before
  // connecting over ZeroMQ; this node resolves and pins it (if admitted).
  // Anyone may call it, so: a per-address limit, the fetch on a small pool
  // of its own with a bounded queue (the HTTP workers never wait for it),
  // outbound policy in PeerDirectory (public addresses only, unless the name
  // is in federation.resolve; one deadline), and one generic answer for
  // every failure, so that the caller learns nothing about what the node
  // can reach (the details go to the log).
  {
    RouteOptions hello;
    hello.auth = false;
    hello.max_body = 4096;
    Federation* fed = federation_.get();
    WorkerPool* fetches = fetches_.get();
    std::string fed_name = config_.node.name;
    auto per_ip = std::make_shared<RateLimiter>(0.5, 5);
    bool limits = config_.rate_limits.enabled;
    router.AddAsync("POST", "/_federation/v1/hello", hello,
                    [fed, fetches, fed_name, per_ip, limits](RequestContext& ctx, Respond respond) {
      int retry = 0;
      if (limits && !per_ip->Allow(ctx.req.remote_ip, MonotonicSeconds(), &retry)) {
        return respond(ToHttp(Error::RateLimited(retry)));
      }
      auto body = ParseJsonObject(ctx.req.body);
      if (!body.ok()) return respond(ToHttp(body.error()));
      auto name = RequiredString(*body, "name");
      if (!name.ok()) return respond(ToHttp(name.error()));
      if (!IsValidServerName(*name)) return respond(ToHttp(Error::Invalid("name must be a server name")));
      if (fetches->queued() >= kMaxQueuedHellos) {
        return respond(ToHttp(Error::Unavailable("too many introductions in progress, retry later")));
      }
      fetches->Post([fed, fed_name, name = *name, respond] {
        Status st = fed->Hello(name);
        if (st.ok()) return respond(JsonResponse(200, {{"name", fed_name}}));
        if (st.error().code == ErrorCode::kForbidden) {
          return respond(ToHttp(Error::Forbidden("this node does not federate with " + name)));
        }
        respond(ErrorResponse(502, "peer_unreachable", "could not reach and verify " + name));
      });
    });
  }
  // GET /healthz
  router.Add("GET", "/healthz", probe, [this](RequestContext&) {
    bool db_ok = db_healthy_.load();
    nlohmann::json j = {{"status", db_ok ? "ok" : "degraded"},
                        {"name", config_.node.name},
                        {"version", GC_VERSION},
                        {"database", db_ok ? "ok" : "unreachable"}};
    return JsonResponse(db_ok ? 200 : 503, j);
  });
  // GET /metrics
  router.Add("GET", "/metrics", probe, [this](RequestContext&) {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_->Render();
    return r;
  });
  return OkStatus();
}

}  // namespace gc
