// HTTP routes of the user service (/api/v1/auth/*, /me, /users/*).
#pragma once

namespace gc {

struct Config;
class Router;
class UserService;

void AddUserRoutes(Router& router, UserService& users, const Config& config);

}  // namespace gc
