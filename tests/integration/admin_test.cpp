// The admin API on a real node: every route refuses non-admins, every action
// lands in the audit log (which cannot be changed through the API), and the
// dashboard's figures follow what happens on the node.
#include <gtest/gtest.h>

#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;

class AdminTest : public NodeTest {
 protected:
  static void SetUpTestSuite() {
    StartNode(kNoRateLimits);
    admin_ = CreateAdmin(*node_, "chief", "chiefpassword");
    ASSERT_FALSE(admin_.empty());
  }
  TestUser NewUser() { return NodeTest::NewUser("adm"); }
  json AuditFor(const std::string& target) {
    auto r = c_.Get("/api/v1/admin/audit?target=" + G(target), admin_);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["entries"];
  }
  static inline std::string admin_;
};

TEST_F(AdminTest, EveryRouteRefusesNonAdmins) {
  TestUser u = NewUser();
  std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/api/v1/admin/users"},
      {"POST", "/api/v1/admin/users"},
      {"GET", "/api/v1/admin/users/%40chief%3Aacme.test"},
      {"POST", "/api/v1/admin/users/%40chief%3Aacme.test/deactivate"},
      {"POST", "/api/v1/admin/users/%40chief%3Aacme.test/reactivate"},
      {"POST", "/api/v1/admin/users/%40chief%3Aacme.test/password"},
      {"PUT", "/api/v1/admin/users/%40chief%3Aacme.test/admin"},
      {"DELETE", "/api/v1/admin/users/%40chief%3Aacme.test/sessions"},
      {"GET", "/api/v1/admin/invites"},
      {"POST", "/api/v1/admin/invites"},
      {"DELETE", "/api/v1/admin/invites/abc"},
      {"GET", "/api/v1/admin/registration"},
      {"PUT", "/api/v1/admin/registration"},
      {"GET", "/api/v1/admin/audit"},
      {"GET", "/api/v1/admin/stats"},
      {"GET", "/api/v1/admin/config"},
      {"GET", "/api/v1/admin/groups"},
      {"GET", "/api/v1/admin/groups/%23x%3Aacme.test"},
      {"PUT", "/api/v1/admin/groups/%23x%3Aacme.test/owner"},
      {"DELETE", "/api/v1/admin/groups/%23x%3Aacme.test"},
  };
  for (const auto& [method, path] : routes) {
    auto r = c_.Request(method, path, R"({"password":"x1234567","is_admin":true,"mode":"open"})",
                        {{"Authorization", "Bearer " + u.token}});
    EXPECT_EQ(r.status, 403) << method << " " << path;
    EXPECT_EQ(c_.Request(method, path, "{}").status, 401) << method << " " << path;
  }
  // Nothing happened to the admin.
  EXPECT_EQ(c_.Get("/api/v1/me", admin_).json()["is_admin"], true);
}

TEST_F(AdminTest, ActionsAreAuditedAndTheLogCannotBeChanged) {
  TestUser u = NewUser();
  ASSERT_EQ(c_.Post("/api/v1/admin/users/" + G(u.id) + "/deactivate", nullptr, admin_).status, 200);
  ASSERT_EQ(c_.Post("/api/v1/admin/users/" + G(u.id) + "/reactivate", nullptr, admin_).status, 200);
  auto entries = AuditFor(u.id);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["action"], "user.reactivate");  // newest first
  EXPECT_EQ(entries[1]["action"], "user.deactivate");
  EXPECT_EQ(entries[1]["actor"], "@chief:acme.test");
  EXPECT_EQ(entries[1]["ip"], "127.0.0.1");
  EXPECT_GT(entries[1]["at"].get<int64_t>(), 0);
  EXPECT_FALSE(entries[1]["request_id"].get<std::string>().empty());
  // Only GET exists for the audit log.
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE"}) {
    EXPECT_EQ(c_.Request(m, "/api/v1/admin/audit", "{}", {{"Authorization", "Bearer " + admin_}}).status, 405) << m;
  }
  EXPECT_EQ(c_.Delete("/api/v1/admin/audit/1", admin_).status, 404);
  EXPECT_EQ(AuditFor(u.id).size(), 2u);
  // Pagination and filters.
  auto page = c_.Get("/api/v1/admin/audit?limit=1", admin_).json();
  ASSERT_EQ(page["entries"].size(), 1u);
  auto next = c_.Get("/api/v1/admin/audit?limit=1&before=" + std::to_string(page["next_before"].get<int64_t>()),
                     admin_).json();
  ASSERT_EQ(next["entries"].size(), 1u);
  EXPECT_LT(next["entries"][0]["id"].get<int64_t>(), page["entries"][0]["id"].get<int64_t>());
  EXPECT_EQ(c_.Get("/api/v1/admin/audit?limit=0", admin_).status, 400);
  auto filtered = c_.Get("/api/v1/admin/audit?action=user.deactivate", admin_).json()["entries"];
  for (auto& e : filtered) EXPECT_EQ(e["action"], "user.deactivate");
}

TEST_F(AdminTest, CreateUsersResetPasswordsAndRevokeSessions) {
  std::string name = UniqueName("made");
  auto created = c_.Post("/api/v1/admin/users", {{"username", name}, {"password", "first password"}}, admin_);
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = created.json()["user_id"];
  EXPECT_EQ(c_.Post("/api/v1/admin/users", {{"username", name}, {"password", "first password"}}, admin_).status, 409);
  EXPECT_EQ(c_.Post("/api/v1/admin/users", {{"username", "Bad Name"}, {"password", "first password"}}, admin_).status,
            400);
  std::string token = c_.Post("/api/v1/auth/login", {{"username", name}, {"password", "first password"}})
                          .json()["access_token"];
  auto detail = c_.Get("/api/v1/admin/users/" + G(id), admin_);
  ASSERT_EQ(detail.status, 200) << detail.body;
  EXPECT_EQ(detail.json()["sessions"].size(), 1u);
  EXPECT_TRUE(detail.json().contains("last_seen_at"));
  EXPECT_EQ(c_.Get("/api/v1/admin/users/%40nobody-zz%3Aacme.test", admin_).status, 404);

  // Reset: the old password and every old session stop working.
  EXPECT_EQ(c_.Post("/api/v1/admin/users/" + G(id) + "/password", {{"password", "short"}}, admin_).status, 400);
  ASSERT_EQ(c_.Post("/api/v1/admin/users/" + G(id) + "/password", {{"password", "second password"}}, admin_).status,
            200);
  EXPECT_EQ(c_.Get("/api/v1/me", token).status, 401);
  EXPECT_EQ(c_.Post("/api/v1/auth/login", {{"username", name}, {"password", "first password"}}).status, 401);
  token = c_.Post("/api/v1/auth/login", {{"username", name}, {"password", "second password"}}).json()["access_token"];
  EXPECT_EQ(c_.Get("/api/v1/me", token).status, 200);

  // Log out everywhere.
  ASSERT_EQ(c_.Delete("/api/v1/admin/users/" + G(id) + "/sessions", admin_).status, 204);
  EXPECT_EQ(c_.Get("/api/v1/me", token).status, 401);
  auto actions = AuditFor(id);
  std::vector<std::string> names;
  for (auto& e : actions) names.push_back(e["action"]);
  EXPECT_EQ(names, (std::vector<std::string>{"user.sessions_revoke", "user.password_reset", "user.create"}));
}

TEST_F(AdminTest, GrantAndRevokeAdmin) {
  TestUser u = NewUser();
  EXPECT_EQ(c_.Get("/api/v1/admin/stats", u.token).status, 403);
  ASSERT_EQ(c_.Put("/api/v1/admin/users/" + G(u.id) + "/admin", {{"is_admin", true}}, admin_).status, 200);
  EXPECT_EQ(c_.Get("/api/v1/admin/stats", u.token).status, 200);  // at once, same token
  EXPECT_EQ(c_.Put("/api/v1/admin/users/" + G(u.id) + "/admin", {{"is_admin", "yes"}}, admin_).status, 400);
  ASSERT_EQ(c_.Put("/api/v1/admin/users/" + G(u.id) + "/admin", {{"is_admin", false}}, admin_).status, 200);
  EXPECT_EQ(c_.Get("/api/v1/admin/stats", u.token).status, 403);
  EXPECT_EQ(c_.Put("/api/v1/admin/users/%40chief%3Aacme.test/admin", {{"is_admin", false}}, admin_).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/admin/users/%40chief%3Aacme.test/deactivate", nullptr, admin_).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/admin/users/CHIEF/deactivate", nullptr, admin_).status, 400);
}

TEST_F(AdminTest, DashboardFiguresFollowTheNode) {
  auto before = c_.Get("/api/v1/admin/stats", admin_).json();
  TestUser u = NewUser();
  std::string g = c_.Post("/api/v1/groups", {{"name", UniqueName("dash")}}, u.token).json()["group_id"];
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "m"}}, u.token).status, 201);
  }
  WsClient w(node_->http_port(), StreamTarget(u.token));
  ASSERT_EQ(w.status(), 101);
  ASSERT_TRUE(w.WaitFor([](const json& f) { return f["type"] == "ready"; }, 5000));
  auto after = c_.Get("/api/v1/admin/stats", admin_);
  ASSERT_EQ(after.status, 200) << after.body;
  json a = after.json();
  EXPECT_EQ(a["node"], "acme.test");
  EXPECT_EQ(a["users"]["total"], before["users"]["total"].get<int64_t>() + 1);
  EXPECT_GE(a["users"]["active_24h"].get<int64_t>(), 1);
  EXPECT_EQ(a["groups"], before["groups"].get<int64_t>() + 1);
  EXPECT_EQ(a["messages_today"], before["messages_today"].get<int64_t>() + 3);
  ASSERT_EQ(a["messages_per_hour"].size(), 24u);
  EXPECT_GE(a["messages_per_hour"][23].get<int64_t>(), 3);
  EXPECT_GE(a["connected_clients"].get<int64_t>(), 1);
  EXPECT_GT(a["database_bytes"].get<int64_t>(), 1000000);
  EXPECT_GE(a["uptime_s"].get<int64_t>(), 0);
}

TEST_F(AdminTest, GroupsCanBeInspectedHandedOverAndDeleted) {
  TestUser owner = NewUser(), member = NewUser();
  std::string name = UniqueName("secret");
  std::string g = c_.Post("/api/v1/groups", {{"name", name}, {"visibility", "private"}, {"title", "Secret"}}, owner.token)
                      .json()["group_id"];
  ASSERT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/invites", {{"user_id", member.id}}, owner.token).status, 200);
  ASSERT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), member.token).status, 200);
  for (int i = 0; i < 4; ++i) c_.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "hush"}}, owner.token);
  // Private groups are visible to node admins.
  auto list = c_.Get("/api/v1/admin/groups?q=" + name, admin_).json();
  ASSERT_EQ(list["groups"].size(), 1u);
  EXPECT_EQ(list["groups"][0]["visibility"], "private");
  auto view = c_.Get("/api/v1/admin/groups/" + G(g), admin_);
  ASSERT_EQ(view.status, 200) << view.body;
  EXPECT_EQ(view.json()["message_count"], 4);
  EXPECT_EQ(view.json()["members"].size(), 2u);
  EXPECT_EQ(view.json()["participants"], json::array({"acme.test"}));
  // Hand over ownership.
  EXPECT_EQ(c_.Put("/api/v1/admin/groups/" + G(g) + "/owner", {{"user_id", "@stranger:acme.test"}}, admin_).status, 400);
  ASSERT_EQ(c_.Put("/api/v1/admin/groups/" + G(g) + "/owner", {{"user_id", member.id}}, admin_).status, 200);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g), member.token).json()["role"], "owner");
  // Delete with history, only with the typed confirmation; members hear of it.
  WsClient w(node_->http_port(), StreamTarget(member.token));
  ASSERT_TRUE(w.WaitFor([](const json& f) { return f["type"] == "ready"; }, 5000));
  auto no = c_.Request("DELETE", "/api/v1/admin/groups/" + G(g), R"({"confirm":"yes"})",
                       {{"Authorization", "Bearer " + admin_}});
  EXPECT_EQ(no.status, 400);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g), member.token).status, 200);
  auto del = c_.Request("DELETE", "/api/v1/admin/groups/" + G(g), json{{"confirm", g}}.dump(),
                        {{"Authorization", "Bearer " + admin_}});
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_GE(del.json()["events_removed"].get<int64_t>(), 8);
  ASSERT_TRUE(w.WaitFor([](const json& f) { return f["type"] == "event" && f["event"]["type"] == "group.delete"; }, 5000));
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g), member.token).status, 404);
  EXPECT_EQ(c_.Get("/api/v1/admin/groups/" + G(g), admin_).status, 404);
  auto audit = AuditFor(g);
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0]["action"], "group.delete");
  EXPECT_EQ(audit[1]["action"], "group.owner");
}

TEST_F(AdminTest, EffectiveConfigIsShown) {
  auto r = c_.Get("/api/v1/admin/config", admin_);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("yaml"), std::string::npos);
  EXPECT_NE(r.body.find("acme.test"), std::string::npos);
  EXPECT_NE(r.body.find("rate_limits"), std::string::npos);
}

}  // namespace
}  // namespace gc::test
