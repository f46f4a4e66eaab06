#include "node/node.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
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

#include "node/common/barrier.h"
#include "node/common/log.h"
#include "node/common/worker_pool.h"
#include "node/db/migrations.h"
#include "node/db/node_database.h"
#include "node/db/pg.h"
#include "node/db/pg_probe.h"
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
#include "services/groups/pg_log_entry_store.h"
#include "services/groups/groups_http.h"
#include "services/messaging/messaging_http.h"
#include "services/messaging/messaging_service.h"
#include "services/messaging/pg_message_store.h"
#include "services/media/blob_store.h"
#include "services/media/media_http.h"
#include "services/media/pg_media_store.h"
#include "services/media/media_service.h"
#include "services/messaging/pg_search_index_store.h"
#include "services/messaging/search_index.h"
#include "services/messaging/stream_delivery.h"
#include "services/notifications/notification_service.h"
#include "services/notifications/pg_notification_store.h"
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


// Announced notifications (all but plain `message` entries: their event is
// on the stream already) become frames on every open stream of their user;
// anything made wakes the push sender (the pushes were queued with the
// entries) and the email sender.
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
  n->users_ = std::make_unique<UserService>(
      *n->user_store_, c.node.name, c.registration.mode, c.sessions.idle_timeout_s,
      PasswordHashing{c.sessions.password_hash_threads, c.sessions.password_hash_queue,
                      c.sessions.password_hash_nice, c.sessions.password_hash_memory_mib});
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
  n->notification_store_ = std::make_unique<PgNotificationStore>(n->db_->pool());
  n->notifications_ = std::make_unique<NotificationService>(*n->log_, *n->notification_store_, c.node.name);
  n->pushers_ = std::make_unique<PushSender>(*n->notification_store_, c.notifications.allow_private_endpoints,
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
      *n->notification_store_, EmailOptions{ec.smtp_url, ec.from, ec.delay_s,
                                   ec.public_url.empty() ? "http://" + c.http.listen : ec.public_url, c.node.name});
  n->pusher_directory_ = std::make_unique<PusherDirectory>(*n->notification_store_);
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
  auto federation_store = std::make_unique<PgFederationStore>(n->db_->pool());
  // Membership events of groups homed here record their participant servers
  // in federation's table, in the event's transaction.
  n->log_->set_participants(federation_store.get());
  n->federation_store_ = std::move(federation_store);
  // History a replica fetches lies below the search indexer's cursor: the
  // store indexes it in the same transaction, with messaging's statements.
  n->log_entries_ = std::make_unique<PgLogEntryStore>(n->db_->pool(), IndexSearchRange);
  n->peer_store_ = std::make_unique<PgPeerStore>(n->db_->pool());
  n->federation_ = std::make_unique<Federation>(n->config_, *n->keys_, *n->federation_store_, *n->peer_store_,
                                                *n->log_entries_, *n->log_);
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
  GC_TRY(n->AddNodeRoutes(router, probe));
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
  n->media_ = std::make_unique<MediaService>(std::make_unique<PgMediaStore>(n->db_->pool(), c.node.name),
                                             *n->media_store_, mo);
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
      c.limits.max_upload_bytes, MediaUrlSigner::FromNodeKey(n->keys_->identity_secret));
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

  n->RegisterMetrics();
  return n;
}

Node::~Node() {
  if (hub_) hub_->DetachAll();
  // Requests waiting on peers hold HTTP sessions: the federation lets go of
  // them before the HTTP server goes (a no-op after Run, which stopped it).
  if (federation_) federation_->Stop();
  http_.reset();
  gateway_.reset();
  if (workers_) workers_->Stop();
  if (media_) media_->Stop();
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
  hub_->WaitUntilNoConnections(std::chrono::seconds(2));
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
  Status r = PingDatabase(db_->pool());
  bool ok = r.ok();
  if (ok != db_healthy_.exchange(ok)) {
    if (ok) LogInfo("database reachable again");
    else LogError("database unreachable", {{"error", r.error().message}});
  }
}

}  // namespace gc
