// Admin API routes (/api/v1/admin/*): admin users only, everyone else 403.
#pragma once

namespace gc {

class Router;
class UserService;

void AddAdminRoutes(Router& router, UserService& users);

}  // namespace gc
