// HTTP routes of the user service (/api/v1/auth/*, /me, /users/*).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

#include "node/common/result.h"

namespace gc {

struct Config;
class Router;
class UserService;

// `is_online` answers presence for GET /users/{user_id}.
// `remote_profile` answers GET /users/{user_id} for users of other nodes
// (through federation); without it they are a 404.
void AddUserRoutes(Router& router, UserService& users, const Config& config,
                   std::function<bool(const std::string&)> is_online,
                   std::function<Result<nlohmann::json>(const std::string&)> remote_profile = nullptr);

}  // namespace gc
