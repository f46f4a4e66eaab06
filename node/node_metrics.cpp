// The node's Prometheus metrics (GET /metrics; README.md lists them): each
// a gauge or counter read from the part that keeps it when the endpoint is
// scraped, so nothing is counted twice and no part knows about the
// registry. Part of the composition root (node.h): registering them needs
// every part of the node.
#include <algorithm>

#include "federation/federation.h"
#include "node/common/barrier.h"
#include "node/common/worker_pool.h"
#include "node/db/pg.h"
#include "node/db/node_database.h"
#include "node/db/singleton_lock.h"
#include "node/http/http_server.h"
#include "node/http/metrics.h"
#include "node/http/rate_limiter.h"
#include "node/node.h"
#include "node/stream/stream_endpoint.h"
#include "node/stream/stream_hub.h"
#include "services/groups/group_log.h"
#include "services/media/media_service.h"
#include "services/messaging/search_index.h"
#include "services/notifications/email_notifier.h"
#include "services/notifications/notification_service.h"
#include "services/notifications/push_sender.h"

namespace gc {

void Node::RegisterMetrics() {
  Metrics& m = *metrics_;
  PgPool* pool = &db_->pool();
  HttpServer* http = http_.get();
  WorkerPool* workers = workers_.get();
  m.AddGauge("groupchat_db_pool_in_use", "Database connections in use.", [pool] { return pool->in_use(); });
  m.AddGauge("groupchat_db_pool_idle", "Database connections idle.",
             [pool] { return pool->size() - pool->in_use(); });
  m.AddGauge("groupchat_process_resident_memory_bytes", "Resident set size of the node process.",
             [] { return ProcessRssBytes(); });
  m.AddGauge("groupchat_http_connections", "Open client connections.", [http] { return http->connections(); });
  m.AddGauge("groupchat_worker_queue_depth", "Blocking tasks waiting for a worker.",
             [workers] { return static_cast<double>(workers->queued()); });
  StreamHub* hub = hub_.get();
  StreamEndpoint* stream = stream_.get();
  GroupLog* log = log_.get();
  m.AddGauge("groupchat_stream_connections", "Open WebSocket streams.", [hub] { return hub->connections(); });
  m.AddCounterFn("groupchat_stream_frames_delivered_total", "Frames handed to stream connections.",
             [hub] { return static_cast<double>(hub->frames_delivered()); });
  m.AddCounterFn("groupchat_handler_exceptions_total",
                 "Exceptions that escaped a handler and were caught by the barrier (each one is a bug).",
                 [] { return static_cast<double>(HandlerExceptions()); });
  m.AddCounterFn("groupchat_stream_slow_consumers_dropped_total", "Streams closed because the client was too slow.",
             [stream] { return static_cast<double>(stream->slow_consumers_dropped.load()); });
  m.AddCounterFn("groupchat_stream_direct_writes_total",
                 "Deliveries the delivering thread wrote to an idle stream's socket itself.",
                 [stream] { return static_cast<double>(stream->direct_writes.load()); });
  m.AddCounterFn("groupchat_stream_queued_deliveries_total",
                 "Deliveries handed to a stream's own I/O thread (it was busy, or the socket took only part).",
                 [stream] { return static_cast<double>(stream->queued_deliveries.load()); });
  m.AddGauge("groupchat_stream_position", "Last committed stream position.",
             [log] { return static_cast<double>(log->last_stream_pos()); });
  SearchIndex* search = search_index_.get();
  m.AddGauge("groupchat_search_index_lag", "Stream positions committed but not yet in the search index.",
             [log, search] { return static_cast<double>(std::max<int64_t>(0, log->last_stream_pos() - search->indexed_pos())); });
  NotificationService* notif = notifications_.get();
  m.AddGauge("groupchat_notifications_backlog", "Stream positions committed but not yet made into notifications.",
             [notif] { return static_cast<double>(notif->backlog()); });
  m.AddGauge("groupchat_notifications_lag_seconds", "Age of the oldest commit the notification worker has not processed.",
             [notif] { return notif->lag_seconds(); });
  m.AddCounterFn("groupchat_notifications_made_total", "Inbox entries made.",
                 [notif] { return static_cast<double>(notif->made.load()); });
  m.AddCounterFn("groupchat_notifications_merged_total",
                 "Plain messages added to the recipient's unread message entry of the group instead of a new entry.",
                 [notif] { return static_cast<double>(notif->merged.load()); });
  m.AddCounterFn("groupchat_notifications_withdrawn_total", "Inbox entries withdrawn (their message was deleted).",
                 [notif] { return static_cast<double>(notif->withdrawn.load()); });
  m.AddCounterFn("groupchat_notifications_failures_total", "Rounds of the notification worker that failed and were retried.",
                 [notif] { return static_cast<double>(notif->failures.load()); });
  PushSender* push = pushers_.get();
  m.AddGauge("groupchat_push_queue_length", "Pushes owed to pushers, webhook and Web Push (as of the sender's last look).",
             [push] { return static_cast<double>(push->queued()); });
  m.AddCounterFn("groupchat_push_delivered_total", "Webhook and Web Push POSTs answered 2xx.",
                 [push] { return static_cast<double>(push->delivered()); });
  m.AddCounterFn("groupchat_push_failed_total", "Webhook and Web Push POSTs that failed (retried or dropped).",
                 [push] { return static_cast<double>(push->failed()); });
  m.AddCounterFn("groupchat_push_pushers_removed_total", "Pushers removed because the endpoint answered 404 or 410.",
                 [push] { return static_cast<double>(push->removed()); });
  // The same per kind of pusher (no labels in this registry: one name each).
  for (auto [kind, binding] : {std::pair<const char*, PushSender::Counts*>{"webhook", &push->webhook},
                               std::pair<const char*, PushSender::Counts*>{"webpush", &push->webpush}}) {
    PushSender::Counts* counts = binding;  // clang 14 cannot capture a structured binding
    std::string k = kind, what = k == "webpush" ? "Web Push" : "Webhook";
    m.AddGauge("groupchat_" + k + "_queue_length", what + " pushes owed (as of the sender's last look).",
               [counts] { return static_cast<double>(counts->queued.load()); });
    m.AddCounterFn("groupchat_" + k + "_delivered_total", what + " POSTs answered 2xx.",
                   [counts] { return static_cast<double>(counts->delivered.load()); });
    m.AddCounterFn("groupchat_" + k + "_failed_total", what + " POSTs that failed (retried or dropped).",
                   [counts] { return static_cast<double>(counts->failed.load()); });
    m.AddCounterFn("groupchat_" + k + "_retried_total", what + " POSTs that failed and are tried again later.",
                   [counts] { return static_cast<double>(counts->retried.load()); });
  }
  EmailNotifier* email = email_.get();
  m.AddGauge("groupchat_email_pending", "Mentions and replies waiting to be mailed (as of the sender's last look).",
             [email] { return static_cast<double>(email->pending()); });
  m.AddCounterFn("groupchat_email_sent_total", "Mails the SMTP server accepted.",
                 [email] { return static_cast<double>(email->sent.load()); });
  m.AddCounterFn("groupchat_email_failed_total", "Mail attempts that failed (retried or dropped).",
                 [email] { return static_cast<double>(email->failed.load()); });
  m.AddCounterFn("groupchat_email_retried_total", "Mail attempts that failed and are tried again later.",
                 [email] { return static_cast<double>(email->retried.load()); });
  m.AddCounterFn("groupchat_email_dropped_total", "Mails given up: refused by the server, or too many attempts.",
                 [email] { return static_cast<double>(email->dropped.load()); });
  SingletonLock* lock = notify_lock_.get();
  m.AddGauge("groupchat_notifications_singleton_held",
             "1 if this process runs the notification worker, pushers and email (one process of a node does).",
             [lock] { return lock->held() ? 1.0 : 0.0; });
  Federation* fed = federation_.get();
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
  MediaService* media = media_.get();
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
             [this] { return MonotonicSeconds() - started_at_; });
}

}  // namespace gc
