// Admin API routes (/api/v1/admin/*): admin users only, everyone else 403.
// Every change is written to the audit log with who, what, target, when and
// from which IP.
#pragma once

#include <functional>

namespace gc {

class Federation;
class MediaService;

struct Config;
class Router;
class UserService;
class GroupService;
class MessagingService;
class AuditLog;
class PgPool;

struct AdminDeps {
  UserService& users;
  GroupService& groups;
  MessagingService& messaging;
  AuditLog& audit;
  PgPool& db;
  const Config& config;
  std::function<int()> connected_clients;  // open streams
  std::function<double()> uptime_s;
  Federation* federation = nullptr;
  MediaService* media = nullptr;
};

void AddAdminRoutes(Router& router, AdminDeps deps);

}  // namespace gc
