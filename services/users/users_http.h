// HTTP routes of the user service (/api/v1/auth/*, /me, /users/*).
#pragma once

#include <functional>
#include <string>

namespace gc {

struct Config;
class Router;
class UserService;

// `is_online` answers presence for GET /users/{user_id}.
void AddUserRoutes(Router& router, UserService& users, const Config& config,
                   std::function<bool(const std::string&)> is_online);

}  // namespace gc
