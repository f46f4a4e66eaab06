// Admin API of notifications (the console's Notifications page):
//   GET    /api/v1/admin/notifications     worker backlog, queues, delivered
//          and failed per kind, pushers per kind, the email settings
//   GET    /api/v1/admin/pushers?user_id=&limit=&offset=   pushers with status
//   DELETE /api/v1/admin/pushers/{pusher_id}   removes one (audited)
#pragma once

namespace gc {

class Router;
class AuditLog;
class NotificationService;
class PushSender;
class EmailNotifier;
class PusherDirectory;
class SingletonLock;

struct NotificationAdminDeps {
  NotificationService& notifications;
  PushSender& pushers;
  EmailNotifier& email;
  PusherDirectory& directory;
  AuditLog& audit;
  const SingletonLock* singleton = nullptr;  // whether this process runs the workers
};

void AddNotificationAdminRoutes(Router& router, NotificationAdminDeps deps);

}  // namespace gc
