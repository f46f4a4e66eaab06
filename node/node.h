// Node: the composition root. Builds every part of a running node in order,
// wires them explicitly, and owns their lifetimes (destroyed in reverse).
#pragma once

#include <atomic>
#include <memory>

#include "node/common/result.h"
#include "node/config/config.h"

namespace gc {

class NodeDatabase;
class Metrics;
class Router;
struct RouteOptions;
class Gateway;
class HttpServer;
class WorkerPool;
class EmailNotifier;
class PusherDirectory;
class SingletonLock;
class UserService;
class GroupLog;
class Federation;
class GroupService;
class SearchIndex;
class SearchIndexStore;
class FederationStore;
class PeerStore;
class MessagingService;
class MessageStore;
class UserStore;
class GroupStore;
class LogEntryStore;
class StreamHub;
class StreamDelivery;
class StreamEndpoint;
class AuditLog;
class BlobStore;
class MediaService;
class NotificationService;
class NotificationStore;
class NotificationListener;
class PushSender;
class WebPushSender;
struct NodeKeys;

class Node {
 public:
  // Opens the database (starting the embedded cluster if configured), applies
  // migrations, loads or creates the node keys and builds the services.
  static Result<std::unique_ptr<Node>> Create(Config config);
  ~Node();

  // Listens, logs {"msg":"listening",...}, serves until SIGTERM or SIGINT,
  // then shuts down gracefully. The caller must have blocked SIGTERM/SIGINT
  // in every thread (BlockShutdownSignals) before creating the Node.
  Status Serve();

 private:
  Node() = default;
  void Housekeeping();
  // The node's own routes: its identity document, introductions, probes
  // (node_routes.cpp).
  Status AddNodeRoutes(Router& router, const RouteOptions& probe);
  // Every gauge and counter of GET /metrics (node_metrics.cpp).
  void RegisterMetrics();

  Config config_;
  std::unique_ptr<NodeDatabase> db_;
  std::unique_ptr<NodeKeys> keys_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<WorkerPool> workers_;
  // Outbound fetches for anonymous federation requests (the hello): a pool
  // of their own, so that slow or hostile names cannot hold the workers.
  std::unique_ptr<WorkerPool> fetches_;
  std::unique_ptr<UserStore> user_store_;
  std::unique_ptr<UserService> users_;
  std::unique_ptr<GroupLog> log_;
  std::unique_ptr<GroupStore> group_store_;
  std::unique_ptr<LogEntryStore> log_entries_;  // used by federation_: destroyed after it
  std::unique_ptr<GroupService> groups_;
  std::unique_ptr<MessageStore> message_store_;
  std::unique_ptr<MessagingService> messaging_;
  std::unique_ptr<SearchIndexStore> search_store_;
  std::unique_ptr<SearchIndex> search_index_;
  std::unique_ptr<FederationStore> federation_store_;  // used by federation_: destroyed after it
  std::unique_ptr<PeerStore> peer_store_;
  std::unique_ptr<Federation> federation_;
  std::unique_ptr<StreamHub> hub_;
  std::unique_ptr<StreamDelivery> delivery_;  // feeds hub_: destroyed before it
  std::unique_ptr<NotificationStore> notification_store_;  // used by the four below: destroyed after them
  std::unique_ptr<NotificationService> notifications_;
  std::unique_ptr<NotificationListener> notification_frames_;
  std::unique_ptr<WebPushSender> webpush_;  // used by pushers_: destroyed after it
  std::unique_ptr<PushSender> pushers_;
  std::unique_ptr<EmailNotifier> email_;
  std::unique_ptr<PusherDirectory> pusher_directory_;
  // The notification worker, pushers and email run in the one process of
  // the node holding it (several may share the database).
  std::unique_ptr<SingletonLock> notify_lock_;
  std::unique_ptr<StreamEndpoint> stream_;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<BlobStore> media_store_;
  std::unique_ptr<MediaService> media_;
  double next_media_sweep_ = 0;  // MonotonicSeconds() of the next sweep
  std::unique_ptr<Router> router_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<HttpServer> http_;
  double started_at_ = 0;
  // The last health check reached the database (Housekeeping; GET /healthz).
  std::atomic<bool> db_healthy_{true};
};

// Blocks SIGTERM and SIGINT in the calling thread (and so in every thread it
// creates afterwards) and ignores SIGPIPE.
void BlockShutdownSignals();

}  // namespace gc
