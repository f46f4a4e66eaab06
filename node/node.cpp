#include "node/node.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "admin/admin_http.h"
#include "admin/pg_audit_log.h"
#include "admin/notifications_admin.h"
#include "federation/federation.h"
#include "federation/pg_federation_store.h"
#include "federation/pg_peer_store.h"
#include "node/identity/node_keys.h"
#include "services/groups/signed_log/chain.h"
#include "services/groups/signed_log/signed_event.h"

#include <sodium.h>
#include "node/common/address.h"
#include "node/common/barrier.h"
#include "node/common/log.h"
#include "node/common/worker_pool.h"
#include "node/db/migrations.h"
#include "node/db/node_database.h"
#include "node/db/pg.h"
#include "node/db/singleton_lock.h"
#include "node/http/gateway.h"
#include "node/http/http_server.h"
#include "node/http/json_body.h"
#include "node/http/metrics.h"
#include "node/http/rate_limiter.h"
#include "node/http/router.h"
#include "node/http/static_site.h"
#include "node/stream/stream_endpoint.h"
#include "node/stream/stream_hub.h"
#include "services/groups/group_log.h"
#include "services/groups/group_service.h"
#include "services/groups/pg_group_store.h"
#include "services/groups/groups_http.h"
#include "services/messaging/messaging_http.h"
#include "services/messaging/messaging_service.h"
#include "services/messaging/pg_message_store.h"
#include "services/media/blob_store.h"
#include "services/media/media_http.h"
#include "services/media/media_service.h"
#include "services/messaging/pg_search_index_store.h"
#include "services/messaging/search_index.h"
#include "services/messaging/stream_delivery.h"
#include "services/notifications/notification_service.h"
#include "services/notifications/notifications_http.h"
#include "services/notifications/email_http.h"
#include "services/notifications/email_notifier.h"
#include "services/notifications/push_sender.h"
#include "services/notifications/pusher_directory.h"
#include "services/users/pg_user_store.h"
#include "services/notifications/webpush.h"
#include "services/notifications/webpush_http.h"
#include "services/users/user_service.h"
#include "services/users/users_http.h"

namespace gc {

namespace {

// Introductions (POST /_federation/v1/hello) waiting for the fetch pool;
// past it, 503 at once.
constexpr size_t kMaxQueuedHellos = 16;
std::atomic<bool> g_db_healthy{true};
// data_dir/media/{blobs,tmp}: created if missing; upload and re-encode
// files left in tmp by a process that died are removed once they are an
// hour old (younger ones may belong to another process of this node).
Status PrepareMediaDir(const std::string& media_dir) {
  for (const std::string& d : {media_dir, media_dir + "/tmp", media_dir + "/blobs"}) {
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error::Unavailable("cannot create " + d + ": " + std::strerror(errno));
    }
  }
  std::string tmp = media_dir + "/tmp";
  if (DIR* dir = ::opendir(tmp.c_str())) {
    time_t cutoff = ::time(nullptr) - 3600;
    while (dirent* e = ::readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      std::string path = tmp + "/" + e->d_name;
      struct stat st {};
      if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < cutoff) ::unlink(path.c_str());
    }
    ::closedir(dir);
  }
  return OkStatus();
}


// Notifications become frames on every open stream of their user, and wake
// the push sender (their pushes were queued with them) and the email sender.
class StreamNotificationFrames : public NotificationListener {
 public:
  StreamNotificationFrames(StreamHub& hub, PushSender& pushers, EmailNotifier& email)
      : hub_(hub), pushers_(pushers), email_(email) {}
  void Made(const std::vector<Notification>& made, const std::map<std::string, int64_t>& unread) override {
    std::vector<std::pair<std::string, std::string>> frames;
    frames.reserve(made.size());
    for (const auto& n : made) {
      auto count = unread.find(n.user_id);
      frames.emplace_back(n.user_id, NotificationFrame(n, count == unread.end() ? 0 : count->second));
    }
    hub_.SendToUsers(frames);
    pushers_.Wake();
    email_.Wake();
  }
  void Read(const std::string& user, int64_t unread) override { hub_.SendToUser(user, NotificationReadFrame(unread)); }

 private:
  StreamHub& hub_;
  PushSender& pushers_;
  EmailNotifier& email_;
};

// The advisory lock id of the notification singleton (migrations and the
// media sweep use ...541 and ...542).
constexpr int64_t kNotificationLockKey = 7460211862315543;
}  // namespace

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Result<std::unique_ptr<Node>> Node::Create(Config config) {
  std::unique_ptr<Node> n(new Node());
  n->config_ = std::move(config);
  n->started_at_ = MonotonicSeconds();
  const Config& c = n->config_;

  auto db = NodeDatabase::Open(c, NodeDatabase::Mode::kServe);
  if (!db.ok()) return db.error();
  n->db_ = std::move(*db);
  auto applied = ApplyMigrations(n->db_->pool());
  if (!applied.ok()) return applied.error();

  bool created = false;
  auto keys = LoadOrCreateNodeKeys(c.node.data_dir, &created);
  if (!keys.ok()) return keys.error();
  n->keys_ = std::make_unique<NodeKeys>(std::move(*keys));
  if (created) LogInfo("created node keys", {{"key_id", n->keys_->key_id}});

  n->metrics_ = std::make_unique<Metrics>();
  n->workers_ = std::make_unique<WorkerPool>(c.http.workers, "gc-worker");
  n->fetches_ = std::make_unique<WorkerPool>(2, "gc-fed-fetch");
  n->user_store_ = std::make_unique<PgUserStore>(n->db_->pool(), c.node.name);
  n->users_ = std::make_unique<UserService>(*n->user_store_, c.node.name, c.registration.mode,
                                            c.sessions.idle_timeout_s);
  Node* self = n.get();
  n->log_ = std::make_unique<GroupLog>(n->db_->pool(), c.node.name);
  n->group_store_ = std::make_unique<PgGroupStore>(n->db_->pool());
  n->groups_ = std::make_unique<GroupService>(*n->log_, *n->group_store_, *n->users_, c.node.name);
  n->message_store_ = std::make_unique<PgMessageStore>(n->db_->pool());
  n->messaging_ = std::make_unique<MessagingService>(*n->log_, *n->message_store_, c.limits.max_message_bytes);
  // The stream hub is platform code; the messaging service's StreamDelivery
  // feeds it (events, typing, read markers) and answers its questions.
  // Presence goes to everyone who shares a group with the user.
  n->hub_ = std::make_unique<StreamHub>(
      [self](const std::string& user) { return self->delivery_->PresenceAudience(user); }, c.stream.typing_ttl_s);
  n->delivery_ = std::make_unique<StreamDelivery>(*n->hub_, *n->log_, *n->groups_, *n->messaging_);
  n->log_->add_sink(n->delivery_.get());
  n->search_store_ = std::make_unique<PgSearchIndexStore>(n->db_->pool());
  n->search_index_ = std::make_unique<SearchIndex>(*n->log_, *n->search_store_);
  n->log_->add_sink(n->search_index_.get());
  n->messaging_->set_search_index(n->search_index_.get());
  n->log_->set_signing_key(n->keys_->key_id, n->keys_->identity_secret);
  // Read markers pass through the notification service (which marks the
  // group's notifications read) to the stream delivery.
  n->notifications_ = std::make_unique<NotificationService>(*n->log_, n->db_->pool(), c.node.name);
  n->pushers_ = std::make_unique<PushSender>(n->db_->pool(), c.notifications.allow_private_endpoints,
                                             c.notifications.push_concurrency,
                                             [](const Notification& x) { return NotificationJson(x).dump(); });
  // Web Push: the VAPID key browsers subscribe with (data_dir/keys/vapid.key).
  bool vapid_created = false;
  auto vapid = LoadOrCreateVapidKey(c.node.data_dir, &vapid_created);
  if (!vapid.ok()) return vapid.error();
  n->webpush_ = std::make_unique<WebPushSender>(
      std::move(*vapid), c.notifications.vapid_subject.empty() ? "https://" + c.node.name : c.notifications.vapid_subject,
      c.notifications.webpush_ttl_s, c.notifications.allow_private_endpoints);
  if (vapid_created) LogInfo("created the Web Push VAPID key", {{"public_key", n->webpush_->public_key()}});
  n->pushers_->set_webpush(n->webpush_.get());
  const auto& ec = c.notifications.email;
  n->email_ = std::make_unique<EmailNotifier>(
      n->db_->pool(), EmailOptions{ec.smtp_url, ec.from, ec.delay_s,
                                   ec.public_url.empty() ? "http://" + c.http.listen : ec.public_url, c.node.name});
  n->pusher_directory_ = std::make_unique<PusherDirectory>(n->db_->pool());
  n->notify_lock_ = std::make_unique<SingletonLock>(n->db_->pool().conninfo(), kNotificationLockKey, "notifications");
  n->notify_lock_->OnAcquired([self] {
    self->notifications_->EndBatch();  // reads the cursor again and catches up
    self->pushers_->Wake();
    self->email_->Wake();
  });
  n->notifications_->set_singleton(n->notify_lock_.get());
  n->pushers_->set_singleton(n->notify_lock_.get());
  n->email_->set_singleton(n->notify_lock_.get());
  n->notification_frames_ = std::make_unique<StreamNotificationFrames>(*n->hub_, *n->pushers_, *n->email_);
  n->notifications_->set_listener(n->notification_frames_.get());
  n->notifications_->set_next_ephemeral(n->delivery_.get());
  n->log_->add_sink(n->notifications_.get());
  n->messaging_->set_ephemeral_sink(n->notifications_.get());
  n->users_->set_revocation_listener([self](int64_t session_id, const std::string& user) {
    if (session_id) self->hub_->CloseSession(session_id);
    if (!user.empty()) self->hub_->CloseUser(user);
  });
  n->users_->set_open_sessions([self] { return self->hub_->OpenSessions(); });
  n->federation_store_ = std::make_unique<PgFederationStore>(n->db_->pool());
  n->peer_store_ = std::make_unique<PgPeerStore>(n->db_->pool());
  n->federation_ = std::make_unique<Federation>(n->config_, *n->keys_, *n->federation_store_, *n->peer_store_,
                                                *n->log_);
  GC_TRY(n->federation_->Bind());
  n->federation_->set_services(n->groups_.get(), n->messaging_.get(), n->users_.get());
  n->log_->set_remote(n->federation_.get());
  n->log_->add_sink(n->federation_.get());
  n->groups_->set_remote(n->federation_.get());
  GC_TRY(n->log_->Start(n->db_->pool().conninfo()));
  GC_TRY(n->search_index_->Start());
  n->notify_lock_->Start();
  GC_TRY(n->notifications_->Start());
  GC_TRY(n->pushers_->Start());
  GC_TRY(n->email_->Start());
  StreamOptions so;
  so.max_connections = c.stream.max_connections;
  so.send_queue_bytes = static_cast<size_t>(c.stream.send_queue_bytes);
  so.max_frame_bytes = static_cast<size_t>(c.stream.max_frame_bytes);
  so.idle_timeout_s = c.stream.idle_timeout_s;
  n->stream_ = std::make_unique<StreamEndpoint>(so, *n->users_, *n->delivery_, *n->hub_,
                                                [self](std::function<void()> f) { self->workers_->Post(std::move(f)); });

  n->router_ = std::make_unique<Router>();
  Router& router = *n->router_;

  RouteOptions probe;
  probe.auth = false;
  probe.fast = true;
  probe.rate_limited = false;
  // GET /.well-known/groupchat/node: the node's identity, signed by itself
  // (spec/federation.md section 2). Built once: the keys do not change while
  // the node runs.
  {
    nlohmann::json doc = {{"name", c.node.name},
                          {"federation_endpoint",
                           c.federation.endpoint.empty() ? n->federation_->endpoint() : c.federation.endpoint},
                          {"public_key", Base64Url(n->keys_->identity_public)},
                          {"key_id", n->keys_->key_id},
                          {"transport_key", Base64Url(n->keys_->transport_public)},
                          {"old_verify_keys", nlohmann::json::object()}};
    for (const auto& old : n->keys_->old_keys) {
      doc["old_verify_keys"][old.key_id] = {{"key", Base64Url(old.public_key)}, {"expired_ts", old.retired_ms}};
    }
    if (!n->keys_->old_keys.empty()) {
      // The key before this one hands over to it, so that peers that pinned
      // it follow the rotation without an admin (spec/federation.md 11).
      const auto& prev = n->keys_->old_keys.back();
      std::string bytes = RotationBytes(c.node.name, prev.key_id, n->keys_->key_id, Base64Url(n->keys_->identity_public));
      doc["rotation"] = {{"old_key_id", prev.key_id}, {"signature", SignBytes(bytes, prev.secret_key)}};
    }
    SigningKey sk{c.node.name, n->keys_->key_id, n->keys_->identity_secret, n->keys_->identity_public};
    auto bytes = SigningBytes(doc);
    if (!bytes.ok()) return bytes.error();
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size(),
                         reinterpret_cast<const unsigned char*>(sk.secret_key.data()));
    doc["signature"] = Base64Url(std::string(reinterpret_cast<char*>(sig), sizeof sig));
    std::string body = doc.dump();
    n->federation_->set_node_document(body);
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
    Federation* fed = n->federation_.get();
    WorkerPool* fetches = n->fetches_.get();
    std::string fed_name = c.node.name;
    auto per_ip = std::make_shared<RateLimiter>(0.5, 5);
    bool limits = c.rate_limits.enabled;
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
  router.Add("GET", "/healthz", probe, [self](RequestContext&) {
    bool db_ok = g_db_healthy.load();
    nlohmann::json j = {{"status", db_ok ? "ok" : "degraded"},
                        {"name", self->config_.node.name},
                        {"version", GC_VERSION},
                        {"database", db_ok ? "ok" : "unreachable"}};
    return JsonResponse(db_ok ? 200 : 503, j);
  });
  // GET /metrics
  router.Add("GET", "/metrics", probe, [self](RequestContext&) {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = self->metrics_->Render();
    return r;
  });
  AddUserRoutes(
      router, *n->users_, c, [self](const std::string& u) { return self->hub_->IsOnline(u); },
      [self](const std::string& u) { return self->federation_->RemoteProfile(u); });
  AddGroupRoutes(router, *n->groups_);
  AddMessagingRoutes(router, *n->groups_, *n->messaging_);
  AddNotificationRoutes(router, *n->groups_, *n->notifications_, *n->pushers_);
  AddEmailRoutes(router, *n->email_);
  AddWebPushRoutes(router, *n->webpush_);
  n->audit_ = std::make_unique<PgAuditLog>(n->db_->pool());
  AddNotificationAdminRoutes(router, {*n->notifications_, *n->pushers_, *n->email_, *n->pusher_directory_, *n->audit_,
                                      n->notify_lock_.get()});
  // Media: blobs in the configured store, uploads staged under
  // data_dir/media/tmp (the HTTP server writes bodies there).
  std::string media_dir = c.node.data_dir + "/media";
  GC_TRY(PrepareMediaDir(media_dir));
  auto store = MakeBlobStore(c, media_dir);
  if (!store.ok()) return store.error();
  n->media_store_ = std::move(*store);
  MediaOptions mo;
  mo.server_name = c.node.name;
  mo.temp_dir = media_dir + "/tmp";
  mo.quota_bytes_per_user = c.media.quota_bytes_per_user;
  mo.max_image_pixels = c.media.max_image_pixels;
  mo.image_workers = c.media.image_workers;
  mo.image_queue = c.media.image_queue;
  mo.retention_days = c.media.retention_days;
  mo.unreferenced_after_s = c.media.unreferenced_after_s;
  mo.remote_cache_bytes = c.media.remote_cache_bytes;
  mo.max_remote_bytes = c.limits.max_upload_bytes;
  n->media_ = std::make_unique<MediaService>(n->db_->pool(), *n->media_store_, mo);
  // Federated media: other nodes' media is fetched over federation, and
  // this node's is served to peers through the media service's rules.
  n->media_->set_remote_source(n->federation_.get());
  n->federation_->set_media(n->media_.get());
  n->media_->set_audit([self](const std::string& action, const std::string& target, const std::string& why) {
    auto st = self->audit_->Record("node", action, target, "", "", {{"reason", why}});
    if (!st.ok()) LogWarn("audit record failed", {{"error", st.error().message}});
  });
  n->messaging_->set_media_check(
      [self](const std::string& user, const std::string& media_id) { return self->media_->MayPost(user, media_id); });
  n->users_->set_avatar_check([self](const std::string& user, const std::string& media_id) {
    return self->media_->MayUseAsAvatar(user, media_id);
  });
  n->next_media_sweep_ = MonotonicSeconds() + 60;
  AddMediaRoutes(
      router, *n->media_,
      [self](const std::string& actor, const std::string& action, const std::string& target, const std::string& ip,
             const std::string& request_id, const nlohmann::json& detail) {
        auto st = self->audit_->Record(actor, action, target, ip, request_id, detail);
        if (!st.ok()) LogWarn("audit record failed", {{"error", st.error().message}});
      },
      c.limits.max_upload_bytes);
  AddAdminRoutes(router, AdminDeps{*n->users_, *n->groups_, *n->messaging_, *n->audit_, n->db_->pool(), n->config_,
                                   [self] { return self->hub_->connections(); },
                                   [self] { return MonotonicSeconds() - self->started_at_; },
                                   n->federation_.get(), n->media_.get()});
  // The web client at /.
  auto site = AddStaticSite(router, c.http.web_dir, "/");
  if (!site.ok()) return site.error();
  // The admin console at /admin/ (its API calls need an admin's token).
  auto console = AddStaticSite(router, c.http.admin_dir, "/admin/");
  if (!console.ok()) return console.error();
  // GET /api/v1/stream without an upgrade
  router.Add("GET", "/api/v1/stream", probe, [](RequestContext&) {
    HttpResponse r = ErrorResponse(426, "invalid_request", "this is a WebSocket endpoint: send an Upgrade request");
    r.headers.emplace_back("Upgrade", "websocket");
    return r;
  });

  n->gateway_ = std::make_unique<Gateway>(c, *n->metrics_, router, *n->users_,
                                          [self](std::function<void()> f) { self->workers_->Post(std::move(f)); });
  n->gateway_->Freeze();

  HttpServerOptions ho;
  ho.listen = c.http.listen;
  ho.threads = c.http.threads;
  ho.max_connections = c.http.max_connections;
  ho.max_connections_per_ip = c.http.max_connections_per_ip;
  ho.header_timeout_ms = c.http.header_timeout_ms;
  ho.idle_timeout_s = c.http.idle_timeout_s;
  ho.trusted_proxies = c.http.trusted_proxies;
  ho.stream = n->stream_.get();
  ho.upload_dir = media_dir + "/tmp";
  ho.max_any_body = std::max<size_t>(static_cast<size_t>(c.http.max_body_bytes),
                                     static_cast<size_t>(c.limits.max_upload_bytes));
  n->http_ = std::make_unique<HttpServer>(ho, *n->gateway_);

  Metrics& m = *n->metrics_;
  PgPool* pool = &n->db_->pool();
  HttpServer* http = n->http_.get();
  WorkerPool* workers = n->workers_.get();
  m.AddGauge("groupchat_db_pool_in_use", "Database connections in use.", [pool] { return pool->in_use(); });
  m.AddGauge("groupchat_db_pool_idle", "Database connections idle.",
             [pool] { return pool->size() - pool->in_use(); });
  m.AddGauge("groupchat_process_resident_memory_bytes", "Resident set size of the node process.",
             [] { return ProcessRssBytes(); });
  m.AddGauge("groupchat_http_connections", "Open client connections.", [http] { return http->connections(); });
  m.AddGauge("groupchat_worker_queue_depth", "Blocking tasks waiting for a worker.",
             [workers] { return static_cast<double>(workers->queued()); });
  StreamHub* hub = n->hub_.get();
  StreamEndpoint* stream = n->stream_.get();
  GroupLog* log = n->log_.get();
  m.AddGauge("groupchat_stream_connections", "Open WebSocket streams.", [hub] { return hub->connections(); });
  m.AddCounterFn("groupchat_stream_frames_delivered_total", "Frames handed to stream connections.",
             [hub] { return static_cast<double>(hub->frames_delivered()); });
  m.AddCounterFn("groupchat_handler_exceptions_total",
                 "Exceptions that escaped a handler and were caught by the barrier (each one is a bug).",
                 [] { return static_cast<double>(HandlerExceptions()); });
  m.AddCounterFn("groupchat_stream_slow_consumers_dropped_total", "Streams closed because the client was too slow.",
             [stream] { return static_cast<double>(stream->slow_consumers_dropped.load()); });
  m.AddGauge("groupchat_stream_position", "Last committed stream position.",
             [log] { return static_cast<double>(log->last_stream_pos()); });
  SearchIndex* search = n->search_index_.get();
  m.AddGauge("groupchat_search_index_lag", "Stream positions committed but not yet in the search index.",
             [log, search] { return static_cast<double>(std::max<int64_t>(0, log->last_stream_pos() - search->indexed_pos())); });
  NotificationService* notif = n->notifications_.get();
  m.AddGauge("groupchat_notifications_backlog", "Stream positions committed but not yet made into notifications.",
             [notif] { return static_cast<double>(notif->backlog()); });
  m.AddGauge("groupchat_notifications_lag_seconds", "Age of the oldest commit the notification worker has not processed.",
             [notif] { return notif->lag_seconds(); });
  m.AddCounterFn("groupchat_notifications_made_total", "Inbox entries made.",
                 [notif] { return static_cast<double>(notif->made.load()); });
  m.AddCounterFn("groupchat_notifications_withdrawn_total", "Inbox entries withdrawn (their message was deleted).",
                 [notif] { return static_cast<double>(notif->withdrawn.load()); });
  m.AddCounterFn("groupchat_notifications_failures_total", "Rounds of the notification worker that failed and were retried.",
                 [notif] { return static_cast<double>(notif->failures.load()); });
  PushSender* push = n->pushers_.get();
  m.AddGauge("groupchat_push_queue_length", "Pushes owed to pushers, webhook and Web Push (as of the sender's last look).",
             [push] { return static_cast<double>(push->queued()); });
  m.AddCounterFn("groupchat_push_delivered_total", "Webhook and Web Push POSTs answered 2xx.",
                 [push] { return static_cast<double>(push->delivered.load()); });
  m.AddCounterFn("groupchat_push_failed_total", "Webhook and Web Push POSTs that failed (retried or dropped).",
                 [push] { return static_cast<double>(push->failed.load()); });
  m.AddCounterFn("groupchat_push_pushers_removed_total", "Pushers removed because the endpoint answered 404 or 410.",
                 [push] { return static_cast<double>(push->removed.load()); });
  EmailNotifier* email = n->email_.get();
  m.AddGauge("groupchat_email_pending", "Mentions and replies waiting to be mailed (as of the sender's last look).",
             [email] { return static_cast<double>(email->pending()); });
  m.AddCounterFn("groupchat_email_sent_total", "Mails the SMTP server accepted.",
                 [email] { return static_cast<double>(email->sent.load()); });
  m.AddCounterFn("groupchat_email_failed_total", "Mail attempts that failed (retried or dropped).",
                 [email] { return static_cast<double>(email->failed.load()); });
  m.AddCounterFn("groupchat_email_dropped_total", "Mails given up: refused by the server, or too many attempts.",
                 [email] { return static_cast<double>(email->dropped.load()); });
  SingletonLock* lock = n->notify_lock_.get();
  m.AddGauge("groupchat_notifications_singleton_held",
             "1 if this process runs the notification worker, pushers and email (one process of a node does).",
             [lock] { return lock->held() ? 1.0 : 0.0; });
  Federation* fed = n->federation_.get();
  m.AddCounterFn("groupchat_federation_entries_applied_total", "Remote entries appended to replicas.",
                 [fed] { return static_cast<double>(fed->entries_applied.load()); });
  m.AddCounterFn("groupchat_federation_entries_pushed_total", "Entries acknowledged by peers.",
                 [fed] { return static_cast<double>(fed->entries_pushed.load()); });
  m.AddCounterFn("groupchat_federation_rejected_total", "Federation frames and entries refused.",
                 [fed] { return static_cast<double>(fed->rejected.load()); });
  m.AddCounterFn("groupchat_federation_forks_total", "Entries refused because they rewrote a seq already held.",
                 [fed] { return static_cast<double>(fed->forks.load()); });
  m.AddCounterFn("groupchat_federation_connections_refused_total", "Federation connections the ZAP handler refused.",
                 [fed] { return static_cast<double>(fed->transport().zap_denied.load()); });
  MediaService* media = n->media_.get();
  m.AddCounterFn("groupchat_media_uploads_total", "Media uploads stored.",
                 [media] { return static_cast<double>(media->uploads.load()); });
  m.AddCounterFn("groupchat_media_upload_bytes_total", "Bytes of media stored by uploads (after re-encoding).",
                 [media] { return static_cast<double>(media->upload_bytes.load()); });
  m.AddCounterFn("groupchat_media_uploads_refused_total", "Uploads refused (bad input, quota, overload, store).",
                 [media] { return static_cast<double>(media->uploads_refused.load()); });
  m.AddCounterFn("groupchat_media_store_errors_total", "Media store reads and writes that failed.",
                 [media] { return static_cast<double>(media->store_errors.load()); });
  m.AddCounterFn("groupchat_media_thumbnails_total", "Thumbnails made.",
                 [media] { return static_cast<double>(media->thumbnails_made.load()); });
  m.AddCounterFn("groupchat_media_thumbnail_seconds_total", "Time spent making thumbnails.",
                 [media] { return static_cast<double>(media->thumbnail_micros.load()) / 1e6; });
  m.AddCounterFn("groupchat_media_removed_total", "Uploads removed by the sweep (unreferenced or past retention).",
                 [media] { return static_cast<double>(media->removed.load()); });
  m.AddGauge("groupchat_media_queue_depth", "Uploads waiting for an image worker.",
             [media] { return static_cast<double>(media->queued()); });
  m.AddCounterFn("groupchat_media_remote_fetches_total", "Fetches of other nodes' media from their origin.",
                 [media] { return static_cast<double>(media->remote_fetches.load()); });
  m.AddCounterFn("groupchat_media_remote_fetch_failures_total",
                 "Fetches of other nodes' media that failed (refused, origin unreachable, checks failed).",
                 [media] { return static_cast<double>(media->remote_fetch_failures.load()); });
  m.AddCounterFn("groupchat_media_remote_invalid_total",
                 "Fetches refused because the origin's bytes failed the checks (size, sha256, chunks).",
                 [media] { return static_cast<double>(media->remote_invalid.load()); });
  m.AddCounterFn("groupchat_media_remote_evicted_total", "Cached remote media evicted (media.remote_cache_bytes).",
                 [media] { return static_cast<double>(media->remote_evicted.load()); });
  m.AddCounterFn("groupchat_media_served_to_peers_total", "Media fetches by other nodes served (first chunks).",
                 [media] { return static_cast<double>(media->served_to_peers.load()); });
  m.AddCounterFn("groupchat_media_chunks_to_peers_total", "media.fetch chunks answered to other nodes.",
                 [media] { return static_cast<double>(media->chunks_to_peers.load()); });
  m.AddGauge("groupchat_uptime_seconds", "Seconds since the node started.",
             [self] { return MonotonicSeconds() - self->started_at_; });
  return n;
}

Node::~Node() {
  if (hub_) hub_->DetachAll();
  http_.reset();
  gateway_.reset();
  if (workers_) workers_->Stop();
  if (media_) media_->Stop();
  if (federation_) federation_->Stop();
  if (log_) log_->Stop();
  if (search_index_) search_index_->Stop();
  if (notifications_) notifications_->Stop();
  if (pushers_) pushers_->Stop();
  if (email_) email_->Stop();
  if (notify_lock_) notify_lock_->Stop();
  if (hub_) hub_->Stop();
  if (users_) users_->FlushActivity();
  users_.reset();
  workers_.reset();
  db_.reset();
}

Status Node::Serve() {
  GC_TRY(http_->Listen());
  http_->Start();
  GC_TRY(federation_->Start());

  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread housekeeping = SpawnGuarded("gc-housekeep", [&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(5), [&] { return stop; })) {
      lock.unlock();
      Housekeeping();
      lock.lock();
    }
  });

  LogInfo("listening", {{"http", http_->local_endpoint()},
                        {"federation", federation_->endpoint()},
                        {"name", config_.node.name},
                        {"version", GC_VERSION}});

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  LogInfo("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});

  // Streams first: send close frames and give clients a moment to answer.
  hub_->CloseAll();
  for (int i = 0; i < 200 && hub_->connections() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  http_->Stop(10000);
  hub_->DetachAll();
  workers_->Stop();
  media_->Stop();
  fetches_->Stop(/*drop_queued=*/true);  // introductions nobody waits for any more
  federation_->Stop();
  log_->Stop();
  search_index_->Stop();
  notifications_->Stop();
  pushers_->Stop();
  email_->Stop();
  notify_lock_->Stop();
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  cv.notify_all();
  housekeeping.join();
  users_->FlushActivity();
  LogInfo("stopped");
  return OkStatus();
}

void Node::Housekeeping() {
  users_->FlushActivity();
  if (auto ended = users_->ExpireIdleSessions(); !ended.ok()) {
    LogWarn("could not end idle sessions", {{"error", ended.error().message}});
  }
  federation_->Housekeeping();
  if (MonotonicSeconds() >= next_media_sweep_) {
    next_media_sweep_ = MonotonicSeconds() + config_.media.sweep_interval_s;
    if (auto swept = media_->Sweep(); !swept.ok()) {
      LogWarn("media sweep failed", {{"error", swept.error().message}});
    }
  }
  Status r = db_->pool().Ping();
  bool ok = r.ok();
  if (ok != g_db_healthy.exchange(ok)) {
    if (ok) LogInfo("database reachable again");
    else LogError("database unreachable", {{"error", r.error().message}});
  }
}

}  // namespace gc
