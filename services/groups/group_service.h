// GroupService: groups and membership. Create, settings, roles, invite,
// join, leave, kick, ban/unban, members, delete, and the public directory.
// Every change is an operation on the GroupLog, so it becomes an event.
//
// Visibility rules: a private group is invisible to non-members (404, never
// 403, so its existence does not leak); public groups can be looked at and
// joined (if open) by anyone on the node. Roles: owner > admin > member.
// Owners and admins change settings, invite, kick and ban (only people below
// their own role); only owners change roles; the last owner cannot leave or
// step down (hand over first, or delete the group).
//
// Thread-safety: thread-safe; every method may block.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "node/common/principal.h"
#include "node/common/result.h"
#include "services/groups/group_log.h"
#include "services/groups/group_store.h"

namespace gc {

class UserService;

struct GroupSettingsPatch {
  std::optional<std::string> title, topic, visibility, join_rule;
};

struct GroupView {
  std::string group_id;
  std::string title, topic, visibility, join_rule, created_by;
  int64_t created_at = 0;
  int member_count = 0;
  std::optional<std::string> my_role;        // when joined
  std::optional<std::string> my_membership;  // join | invite | ...
  int64_t last_seq = 0;
  int64_t last_event_at = 0;
};

struct GroupListItem {
  GroupView group;
  int64_t unread_count = 0;
  int64_t mention_count = 0;
  int64_t read_seq = 0;
  std::optional<nlohmann::json> last_event;
};

struct MemberInfo {
  std::string user_id;
  std::string role;
  std::string membership;
};

nlohmann::json GroupViewJson(const GroupView& g);

// Membership in groups homed on other nodes (the federation service).
class RemoteMembership {
 public:
  virtual ~RemoteMembership() = default;
  // Joins a remote group this node holds no replica of yet: `done` is called
  // once, from any thread, when the replica exists and shows `me` joined, or
  // with the home's refusal, or kUnavailable when the home did not answer or
  // its state did not arrive in time. No thread waits meanwhile.
  using JoinDone = std::function<void(Status)>;
  virtual void JoinRemote(const UserProfile& me, const std::string& group_id, JoinDone done) = 0;
  // OK if a user of another node can be invited (their node is admitted).
  virtual Status CheckRemoteUser(const std::string& user_id) = 0;
};

class GroupService {
 public:
  // Listings and counts come from `store`; every change is an event
  // appended through `log`. Both outlive the service.
  GroupService(GroupLog& log, GroupStore& store, UserService& users, std::string server_name);
  void set_remote(RemoteMembership* remote) { remote_ = remote; }

  // name: the local part of the address ([a-z0-9._-]{1,64}).
  Result<GroupView> Create(const UserProfile& me, const std::string& name, const GroupSettingsPatch& settings);
  Result<GroupView> Get(const UserProfile& me, const std::string& group_id);
  Result<GroupView> UpdateSettings(const UserProfile& me, const std::string& group_id,
                                   const GroupSettingsPatch& patch);
  Status Delete(const UserProfile& me, const std::string& group_id);

  Result<GroupView> Join(const UserProfile& me, const std::string& group_id);
  // Join without waiting on a remote home (HTTP handlers): `done` gets what
  // Join would return, once, from any thread.
  using ViewDone = std::function<void(Result<GroupView>)>;
  void JoinAsync(const UserProfile& me, const std::string& group_id, ViewDone done);
  Status Leave(const UserProfile& me, const std::string& group_id);
  // Leave, Invite and Kick/Ban/Unban (`action` "kick", "ban" or "unban")
  // without waiting on a remote home (HTTP handlers): `done` gets what the
  // blocking form returns, once, from any thread.
  using StatusDone = std::function<void(Status)>;
  void LeaveAsync(const UserProfile& me, const std::string& group_id, StatusDone done);
  void InviteAsync(const UserProfile& me, const std::string& group_id, const std::string& user_id, StatusDone done);
  void ModerateAsync(const UserProfile& me, const std::string& group_id, const std::string& user_id,
                     const std::string& action, const std::string& reason, StatusDone done);
  Status Invite(const UserProfile& me, const std::string& group_id, const std::string& user_id);
  Status Kick(const UserProfile& me, const std::string& group_id, const std::string& user_id,
              const std::string& reason);
  Status Ban(const UserProfile& me, const std::string& group_id, const std::string& user_id,
             const std::string& reason);
  Status Unban(const UserProfile& me, const std::string& group_id, const std::string& user_id);
  Status SetRole(const UserProfile& me, const std::string& group_id, const std::string& user_id,
                 const std::string& role);

  // Joined members (and, with include_invited, invitees), ordered by user id,
  // after the cursor `after` (exclusive).
  Result<std::vector<MemberInfo>> Members(const UserProfile& me, const std::string& group_id,
                                          const std::string& after, int limit);
  // The caller's groups, most recently active first, with unread counts.
  Result<std::vector<GroupListItem>> ListMine(const UserProfile& me);
  // Public groups of this node matching q (title or name), by activity.
  Result<std::vector<GroupView>> Directory(const std::string& q, int limit, int offset, int64_t* total);

  // Resolves an address to a group row the caller may see. With
  // `must_be_member`, kForbidden for visible groups the caller has not
  // joined; kNotFound for private groups they are not in.
  Result<int64_t> Resolve(const UserProfile& me, const std::string& group_id, bool must_be_member);
  // In a replica of a remote group: 409 pending_change while `user`'s own
  // membership change there has not come back from the home (see
  // RemoteGroups::PendingChange). OK for groups homed here.
  Status CheckPendingChange(int64_t row, const std::string& user);

  // Live groups on this node (admin dashboard).
  Result<int64_t> CountGroups();

  // --- administration (the caller has checked that `admin` is a node admin)
  struct AdminGroupInfo {
    GroupView view;
    int64_t message_count = 0;
    std::vector<MemberInfo> members;    // joined and invited
    std::vector<std::string> servers;   // nodes with joined members
  };
  // Every live group, public and private, matching q; by activity.
  Result<std::vector<AdminGroupInfo>> AdminSearch(const std::string& q, int limit, int offset, int64_t* total);
  Result<AdminGroupInfo> AdminGet(const std::string& group_id);
  // Makes a joined member an owner (the event's sender is the admin).
  Status AdminSetOwner(const UserProfile& admin, const std::string& group_id, const std::string& user_id);
  // Deletes the group and its whole history; members get a group.delete
  // event first. Returns the number of events removed.
  Result<int64_t> AdminDelete(const UserProfile& admin, const std::string& group_id);

  // Rows of the groups `user_id` has joined (for the stream).
  Result<std::vector<int64_t>> JoinedGroups(const std::string& user_id);

 private:
  // Invite (already checked), kick, ban or unban `target`.
  void MembershipAsync(const UserProfile& me, const std::string& group_id, const std::string& target,
                       const std::string& action, const std::string& reason, StatusDone done);

  GroupLog& log_;
  GroupStore& store_;
  UserService& users_;
  std::string server_name_;
  RemoteMembership* remote_ = nullptr;
};

int RoleRank(const std::string& role);  // owner 3, admin 2, member 1, other 0

}  // namespace gc
