// HTTP routes of groups and membership (/api/v1/groups, /api/v1/directory).
#pragma once

namespace gc {

class Router;
class GroupService;

void AddGroupRoutes(Router& router, GroupService& groups);

}  // namespace gc
