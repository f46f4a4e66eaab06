// Projections: what an event changes besides the log itself (member rows,
// group settings, reactions, edit text, erased messages, mentions), derived
// from the event alone. The home node and every replica apply the same
// projections to the same events, so their read models agree.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "node/common/result.h"
#include "services/groups/group_log.h"

namespace gc {

// A draft of `type` whose `project` and `apply` follow from the content.
// Content shapes (spec/openapi.yaml, Event):
//   member          {user_id, membership, role?, reason?}
//   group.settings  {title, topic, visibility, join_rule}
//   group.delete    {group_id}
//   message         {body, reply_to?, media_id?, mentions?}
//   message.edit    {event_id, body}
//   message.delete  {event_id}
//   reaction        {event_id, key, removed?}
Draft EventDraft(const std::string& sender, const std::string& type, nlohmann::json content,
                 std::optional<std::string> relates_to = std::nullopt);

// kInvalid unless `content` has the shape `type` needs (for events built
// elsewhere: a replica refuses an entry it could not project).
Status CheckEventShape(const std::string& type, const nlohmann::json& content,
                       const std::optional<std::string>& relates_to);

}  // namespace gc
