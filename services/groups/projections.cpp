#include "services/groups/projections.h"

#include <set>

#include "node/common/address.h"
#include "node/db/pg.h"

namespace gc {

using nlohmann::json;

namespace {

GC_SQL(kUpsertMember,
       "INSERT INTO group_members (group_id, user_id, membership, role, since_seq) VALUES ($1, $2, $3, $4, $5) "
       "ON CONFLICT (group_id, user_id) DO UPDATE SET membership = EXCLUDED.membership, role = EXCLUDED.role, "
       "since_seq = EXCLUDED.since_seq");
GC_SQL(kUpdateSettings, "UPDATE groups SET title = $2, topic = $3, visibility = $4, join_rule = $5 WHERE id = $1");
GC_SQL(kMarkDeleted, "UPDATE groups SET deleted_at = $2 WHERE id = $1");
GC_SQL(kInsertMention, "INSERT INTO mentions (user_id, stream_pos, group_id, seq) VALUES ($1, $2, $3, $4) "
                       "ON CONFLICT DO NOTHING");
GC_SQL(kSetEdit, "UPDATE events SET edit_content = $2::jsonb, edited_at = $3 WHERE event_id = $1 AND group_id = $4");
GC_SQL(kEraseMessage,
       "UPDATE events SET content = '{}'::jsonb, edit_content = NULL, deleted_at = $2 "
       "WHERE event_id = $1 AND group_id = $3");
GC_SQL(kEraseEdits,
       "UPDATE events SET content = jsonb_build_object('event_id', relates_to) "
       "WHERE relates_to = $1 AND type = 'message.edit' AND group_id = $2");
GC_SQL(kEraseMentions,
       "DELETE FROM mentions WHERE stream_pos = (SELECT stream_pos FROM events WHERE event_id = $1 AND group_id = $2)");
GC_SQL(kAddReaction,
       "INSERT INTO reactions (target, user_id, key, group_id, stream_pos) VALUES ($1, $2, $3, $4, $5) "
       "ON CONFLICT DO NOTHING");
GC_SQL(kRemoveReaction, "DELETE FROM reactions WHERE target = $1 AND user_id = $2 AND key = $3");

std::string Str(const json& c, const char* key) {
  auto it = c.find(key);
  return it != c.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool IsStr(const json& c, const char* key) {
  auto it = c.find(key);
  return it != c.end() && it->is_string();
}

}  // namespace

Status CheckEventShape(const std::string& type, const json& c, const std::optional<std::string>& relates_to) {
  if (!c.is_object()) return Error::Invalid("content must be an object");
  auto need = [&](std::initializer_list<const char*> keys) -> Status {
    for (const char* k : keys) {
      if (!IsStr(c, k)) return Error::Invalid(type + " content needs a string " + k);
    }
    return OkStatus();
  };
  auto target = [&]() -> Status {
    GC_TRY(need({"event_id"}));
    if (!relates_to || *relates_to != Str(c, "event_id")) return Error::Invalid("relates_to must equal content.event_id");
    return OkStatus();
  };
  if (type == "member") {
    GC_TRY(need({"user_id", "membership"}));
    if (!ParseUserId(Str(c, "user_id"))) return Error::Invalid("member user_id is not a user address");
    static const std::set<std::string> kMemberships = {"join", "invite", "leave", "ban"};
    if (!kMemberships.count(Str(c, "membership"))) return Error::Invalid("unknown membership");
    if (c.contains("role")) {
      std::string role = Str(c, "role");
      if (role != "owner" && role != "admin" && role != "member") return Error::Invalid("unknown role");
    }
    return OkStatus();
  }
  if (type == "group.settings") {
    GC_TRY(need({"title", "topic", "visibility", "join_rule"}));
    if (Str(c, "visibility") != "public" && Str(c, "visibility") != "private") return Error::Invalid("bad visibility");
    if (Str(c, "join_rule") != "open" && Str(c, "join_rule") != "invite") return Error::Invalid("bad join_rule");
    return OkStatus();
  }
  if (type == "group.create" || type == "group.delete") return OkStatus();
  if (type == "message") {
    // A deleted message travels with its content blanked.
    if (c.empty()) return OkStatus();
    GC_TRY(need({"body"}));
    if (c.contains("mentions")) {
      if (!c["mentions"].is_array() || c["mentions"].size() > 50) return Error::Invalid("bad mentions");
      for (const auto& m : c["mentions"]) {
        if (!m.is_string()) return Error::Invalid("bad mentions");
      }
    }
    return OkStatus();
  }
  if (type == "message.edit") {
    if (!IsStr(c, "body") && c.size() == 1 && IsStr(c, "event_id")) return target();  // erased with its message
    GC_TRY(need({"body"}));
    return target();
  }
  if (type == "message.delete") return target();
  if (type == "reaction") {
    GC_TRY(need({"key"}));
    return target();
  }
  return Error::Invalid("unknown event type " + type);
}

Draft EventDraft(const std::string& sender, const std::string& type, json content,
                 std::optional<std::string> relates_to) {
  Draft d;
  d.sender = sender;
  d.type = type;
  d.relates_to = relates_to;
  const json& c = content;
  if (type == "member") {
    std::string user = Str(c, "user_id"), membership = Str(c, "membership");
    std::string role = membership == "join" && IsStr(c, "role") ? Str(c, "role") : "member";
    d.project = [user, membership, role](PgConn& conn, const GroupEvent& ev) {
      return StatusOf(conn.Exec(kUpsertMember, {ev.group_row, user, membership, role, ev.seq}));
    };
    d.apply = [user, membership, role](GroupState& s) {
      s.members[user] = Member{membership, role};
      s.MembershipChanged();
    };
    // The user concerned hears about it even when no longer (or not yet) joined.
    d.also_notify.push_back(user);
  } else if (type == "group.settings") {
    std::string title = Str(c, "title"), topic = Str(c, "topic"), vis = Str(c, "visibility"),
                rule = Str(c, "join_rule");
    d.project = [=](PgConn& conn, const GroupEvent& ev) {
      return StatusOf(conn.Exec(kUpdateSettings, {ev.group_row, title, topic, vis, rule}));
    };
    d.apply = [=](GroupState& s) {
      s.title = title;
      s.topic = topic;
      s.visibility = vis;
      s.join_rule = rule;
    };
  } else if (type == "group.delete") {
    d.project = [](PgConn& conn, const GroupEvent& ev) {
      return StatusOf(conn.Exec(kMarkDeleted, {ev.group_row, ev.home_ts ? ev.home_ts : ev.origin_ts}));
    };
    d.apply = [](GroupState& s) { s.deleted = true; };
  } else if (type == "message") {
    std::vector<std::string> mentions;
    if (c.contains("mentions") && c["mentions"].is_array()) {
      for (const auto& m : c["mentions"]) {
        if (m.is_string()) mentions.push_back(m.get<std::string>());
      }
    }
    if (!mentions.empty()) {
      d.project = [mentions](PgConn& conn, const GroupEvent& ev) -> Status {
        for (const auto& m : mentions) {
          GC_TRY(StatusOf(conn.Exec(kInsertMention, {m, ev.stream_pos, ev.group_row, ev.seq})));
        }
        return OkStatus();
      };
    }
  } else if (type == "message.edit") {
    std::string target = Str(c, "event_id"), body = Str(c, "body");
    if (IsStr(c, "body")) {
      d.project = [target, body](PgConn& conn, const GroupEvent& ev) {
        return StatusOf(conn.Exec(kSetEdit, {target, json{{"body", body}}.dump(), ev.origin_ts, ev.group_row}));
      };
    }
  } else if (type == "message.delete") {
    std::string target = Str(c, "event_id");
    d.project = [target](PgConn& conn, const GroupEvent& ev) -> Status {
      GC_TRY(StatusOf(conn.Exec(kEraseMessage, {target, ev.origin_ts, ev.group_row})));
      GC_TRY(StatusOf(conn.Exec(kEraseEdits, {target, ev.group_row})));
      return StatusOf(conn.Exec(kEraseMentions, {target, ev.group_row}));
    };
  } else if (type == "reaction") {
    std::string target = Str(c, "event_id"), key = Str(c, "key");
    bool removed = c.contains("removed") && c["removed"] == true;
    std::string user = sender;
    d.project = [=](PgConn& conn, const GroupEvent& ev) {
      return removed ? StatusOf(conn.Exec(kRemoveReaction, {target, user, key}))
                     : StatusOf(conn.Exec(kAddReaction, {target, user, key, ev.group_row, ev.stream_pos}));
    };
  }
  d.content = std::move(content);
  return d;
}

}  // namespace gc
