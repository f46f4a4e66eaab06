// HTTP routes of messaging (/api/v1/groups/{group_id}/messages..., read
// markers, typing, /api/v1/me/mentions, /api/v1/search).
#pragma once

namespace gc {

class Router;
class GroupService;
class MessagingService;

void AddMessagingRoutes(Router& router, GroupService& groups, MessagingService& messaging);

}  // namespace gc
