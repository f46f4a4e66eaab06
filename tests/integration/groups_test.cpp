// Groups, membership and messages over HTTP on a real node: every rule and
// every refusal (authorization everywhere), pagination edges, unread counts,
// search, idempotent sends, and bad input.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;

class GroupsTest : public NodeTest {
 protected:
  static void SetUpTestSuite() { StartNode(std::string(kNoRateLimits) + "limits:\n  max_message_bytes: 2000\n"); }

  json History(const TestUser& u, const std::string& g, const std::string& query = "") {
    auto r = c_.Get("/api/v1/groups/" + G(g) + "/messages" + query, u.token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }
  // `n` new users (names starting with `prefix`), each joined to `g`.
  std::vector<TestUser> JoinedUsers(const std::string& g, int n, const char* prefix) {
    std::vector<TestUser> users;
    for (int i = 0; i < n; ++i) {
      users.push_back(NewUser(prefix));
      auto r = c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), users.back().token);
      EXPECT_EQ(r.status, 200) << r.body;
    }
    return users;
  }
};

TEST_F(GroupsTest, CreateGetAndListGroups) {
  TestUser a = NewUser();
  auto r = c_.Post("/api/v1/groups", {{"name", "eng-" + a.name}, {"title", "Engineering"}, {"topic", "builds"}},
                   a.token);
  ASSERT_EQ(r.status, 201) << r.body;
  std::string g = r.json()["group_id"];
  EXPECT_EQ(g, "#eng-" + a.name + ":acme.test");
  EXPECT_EQ(r.json()["role"], "owner");
  EXPECT_EQ(r.json()["member_count"], 1);
  EXPECT_EQ(r.json()["visibility"], "public");
  EXPECT_EQ(r.json()["join_rule"], "open");
  auto dup = c_.Post("/api/v1/groups", {{"name", "eng-" + a.name}}, a.token);
  EXPECT_EQ(dup.status, 409);
  auto get = c_.Get("/api/v1/groups/" + G(g), a.token);
  ASSERT_EQ(get.status, 200);
  EXPECT_EQ(get.json()["title"], "Engineering");
  // The log starts with group.create and the owner's join.
  auto h = History(a, g);
  ASSERT_EQ(h["events"].size(), 2u);
  EXPECT_EQ(h["events"][0]["type"], "group.create");
  EXPECT_EQ(h["events"][0]["seq"], 1);
  EXPECT_EQ(h["events"][1]["type"], "member");
  EXPECT_EQ(h["events"][1]["content"]["role"], "owner");
  auto list = c_.Get("/api/v1/groups", a.token).json()["groups"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["group_id"], g);
}

TEST_F(GroupsTest, CreateRejectsBadInput) {
  TestUser a = NewUser();
  for (json body : {json{{"name", "Has Caps"}}, json{{"name", ""}}, json{{"name", 5}}, json::object(),
                    json{{"name", "ok1"}, {"visibility", "secret"}}, json{{"name", "ok2"}, {"join_rule", "maybe"}},
                    json{{"name", "ok3"}, {"title", std::string(300, 't')}},
                    json{{"name", "ok4"}, {"title", "a\x01b"}}, json{{"name", std::string(65, 'x')}},
                    json{{"name", "x:y"}}, json{{"name", "#x"}}}) {
    auto r = c_.Post("/api/v1/groups", body, a.token);
    EXPECT_EQ(r.status, 400) << body.dump() << " " << r.body;
  }
  EXPECT_EQ(c_.Post("/api/v1/groups", {{"name", "nope"}}).status, 401);
}

TEST_F(GroupsTest, JoinLeaveAndTheLastOwner) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a);
  auto j = c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token);
  ASSERT_EQ(j.status, 200) << j.body;
  EXPECT_EQ(j.json()["role"], "member");
  EXPECT_EQ(j.json()["member_count"], 2);
  // Joining twice is harmless.
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token).status, 200);
  auto last = c_.Post("/api/v1/groups/" + G(g) + "/leave", json::object(), a.token);
  EXPECT_EQ(last.status, 409);
  EXPECT_EQ(last.json()["error"]["reason"], "last_owner");
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/leave", json::object(), b.token).status, 200);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/leave", json::object(), b.token).status, 403);
  // After handing over, the old owner can leave.
  c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token);
  ASSERT_EQ(c_.Put("/api/v1/groups/" + G(g) + "/members/" + G(b.id) + "/role", {{"role", "owner"}}, a.token).status,
            200);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/leave", json::object(), a.token).status, 200);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g), b.token).json()["role"], "owner");
}

TEST_F(GroupsTest, PrivateGroupsDoNotLeak) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {{"visibility", "private"}});
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g), a.token).json()["join_rule"], "invite");
  // A stranger sees exactly what a missing group looks like.
  auto missing = c_.Get("/api/v1/groups/" + G("#no-such-group:acme.test"), b.token);
  auto hidden = c_.Get("/api/v1/groups/" + G(g), b.token);
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(hidden.body, missing.body);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token).status, 404);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g) + "/messages", b.token).status, 404);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "hi"}}, b.token).status, 404);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g) + "/members", b.token).status, 404);
  auto dir = c_.Get("/api/v1/directory?q=" + g.substr(1, g.find(':') - 1), b.token).json();
  EXPECT_EQ(dir["groups"].size(), 0u);
  // Invited, the group becomes visible and joinable.
  ASSERT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/invites", {{"user_id", b.id}}, a.token).status, 200);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g), b.token).json()["membership"], "invite");
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token).status, 200);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g) + "/messages", b.token).status, 200);
}

TEST_F(GroupsTest, InviteOnlyPublicGroup) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {{"join_rule", "invite"}});
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g), b.token).status, 200);  // public: visible
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token).status, 403);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/invites", {{"user_id", "@nobody-x:acme.test"}}, a.token).status, 404);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/invites", {{"user_id", "not an id"}}, a.token).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/invites", {{"user_id", b.id}}, b.token).status, 403);
  ASSERT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/invites", {{"user_id", b.id}}, a.token).status, 200);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token).status, 200);
}

TEST_F(GroupsTest, RolesKickBanUnban) {
  TestUser owner = NewUser(), admin = NewUser(), m1 = NewUser(), m2 = NewUser();
  std::string g = NewGroup(owner);
  for (auto* u : {&admin, &m1, &m2}) c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), u->token);
  std::string base = "/api/v1/groups/" + G(g);
  // Only owners change roles.
  EXPECT_EQ(c_.Put(base + "/members/" + G(admin.id) + "/role", {{"role", "admin"}}, m1.token).status, 403);
  ASSERT_EQ(c_.Put(base + "/members/" + G(admin.id) + "/role", {{"role", "admin"}}, owner.token).status, 200);
  EXPECT_EQ(c_.Put(base + "/members/" + G(m1.id) + "/role", {{"role", "emperor"}}, owner.token).status, 400);
  EXPECT_EQ(c_.Put(base + "/members/" + G(m1.id) + "/role", {{"role", "admin"}}, admin.token).status, 403);
  // Members cannot kick; admins kick members but not owners or other admins.
  EXPECT_EQ(c_.Post(base + "/kick", {{"user_id", m2.id}}, m1.token).status, 403);
  EXPECT_EQ(c_.Post(base + "/kick", {{"user_id", owner.id}}, admin.token).status, 403);
  ASSERT_EQ(c_.Post(base + "/kick", {{"user_id", m2.id}, {"reason", "spam"}}, admin.token).status, 200);
  EXPECT_EQ(c_.Post(base + "/messages", {{"body", "still here?"}}, m2.token).status, 403);
  // A kicked user may rejoin an open group; a banned one may not.
  EXPECT_EQ(c_.Post(base + "/join", json::object(), m2.token).status, 200);
  ASSERT_EQ(c_.Post(base + "/ban", {{"user_id", m2.id}}, admin.token).status, 200);
  EXPECT_EQ(c_.Post(base + "/join", json::object(), m2.token).status, 403);
  EXPECT_EQ(c_.Post(base + "/invites", {{"user_id", m2.id}}, owner.token).status, 403);
  EXPECT_EQ(c_.Post(base + "/unban", {{"user_id", m1.id}}, admin.token).status, 404);
  ASSERT_EQ(c_.Post(base + "/unban", {{"user_id", m2.id}}, admin.token).status, 200);
  EXPECT_EQ(c_.Post(base + "/join", json::object(), m2.token).status, 200);
  // Every change is in the log.
  auto events = History(owner, g, "?limit=100")["events"];
  int member_events = 0;
  for (auto& e : events) member_events += e["type"] == "member";
  EXPECT_GE(member_events, 10);
}

TEST_F(GroupsTest, MembersArePaginated) {
  TestUser owner = NewUser();
  std::string g = NewGroup(owner);
  std::vector<TestUser> users = JoinedUsers(g, 7, "pm");
  std::set<std::string> seen;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    auto r = c_.Get("/api/v1/groups/" + G(g) + "/members?limit=3" + (after.empty() ? "" : "&after=" + G(after)),
                    owner.token);
    ASSERT_EQ(r.status, 200) << r.body;
    json body = r.json();
    for (auto& m : body["members"]) EXPECT_TRUE(seen.insert(m["user_id"].get<std::string>()).second) << r.body;
    if (page == 0) {
      EXPECT_EQ(body["members"].size(), 3u) << r.body;
    }
    if (r.json()["next"].is_null()) break;
    after = r.json()["next"];
  }
  EXPECT_EQ(seen.size(), 8u);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g) + "/members?limit=0", owner.token).status, 400);
}

TEST_F(GroupsTest, SettingsOnlyByOwnersAndAdmins) {
  TestUser owner = NewUser(), m = NewUser();
  std::string g = NewGroup(owner);
  c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), m.token);
  EXPECT_EQ(c_.Patch("/api/v1/groups/" + G(g), {{"title", "Mine now"}}, m.token).status, 403);
  auto r = c_.Patch("/api/v1/groups/" + G(g), {{"title", "Renamed 🚀"}, {"topic", "line one\nline two"}}, owner.token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["title"], "Renamed 🚀");
  EXPECT_EQ(c_.Patch("/api/v1/groups/" + G(g), json::object(), owner.token).status, 400);
  EXPECT_EQ(c_.Patch("/api/v1/groups/" + G(g), {{"visibility", 1}}, owner.token).status, 400);
  auto last = History(m, g)["events"].back();
  EXPECT_EQ(last["type"], "group.settings");
  EXPECT_EQ(last["content"]["title"], "Renamed 🚀");
}

TEST_F(GroupsTest, DirectorySearchAndPagination) {
  TestUser a = NewUser();
  std::string tag = UniqueName("dirtag");
  for (int i = 0; i < 5; ++i) NewGroup(a, {{"title", "Directory " + tag + " " + std::to_string(i)}});
  NewGroup(a, {{"title", "Hidden " + tag}, {"visibility", "private"}});
  auto p1 = c_.Get("/api/v1/directory?q=" + tag + "&limit=3", a.token).json();
  EXPECT_EQ(p1["total"], 5);
  EXPECT_EQ(p1["groups"].size(), 3u);
  auto p2 = c_.Get("/api/v1/directory?q=" + tag + "&limit=3&offset=3", a.token).json();
  EXPECT_EQ(p2["groups"].size(), 2u);
  std::set<std::string> ids;
  for (auto& g : p1["groups"]) ids.insert(g["group_id"].get<std::string>());
  for (auto& g : p2["groups"]) ids.insert(g["group_id"].get<std::string>());
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(c_.Get("/api/v1/directory?limit=1000", a.token).status, 400);
  EXPECT_EQ(c_.Get("/api/v1/directory?offset=-1", a.token).status, 400);
}

TEST_F(GroupsTest, DeleteByOwnerOnly) {
  TestUser owner = NewUser(), m = NewUser();
  std::string g = NewGroup(owner);
  c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), m.token);
  EXPECT_EQ(c_.Delete("/api/v1/groups/" + G(g), m.token).status, 403);
  EXPECT_EQ(c_.Delete("/api/v1/groups/" + G(g), owner.token).status, 204);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g), owner.token).status, 404);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "x"}}, m.token).status, 404);
  // The name is free again.
  std::string name = g.substr(1, g.find(':') - 1);
  EXPECT_EQ(c_.Post("/api/v1/groups", {{"name", name}}, m.token).status, 201);
}

TEST_F(GroupsTest, SendAndReadHistory) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a);
  c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token);
  json m = Send(a, g, "hello, world 👋");
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["sender"], a.id);
  EXPECT_EQ(m["content"]["body"], "hello, world 👋");
  EXPECT_EQ(m["group_id"], g);
  EXPECT_GT(m["stream_pos"].get<int64_t>(), 0);
  EXPECT_EQ(m["event_id"].get<std::string>()[0], '$');
  auto h = History(b, g);
  EXPECT_EQ(h["events"].back()["event_id"], m["event_id"]);
  EXPECT_EQ(h["events"].back()["seq"], m["seq"]);
}

TEST_F(GroupsTest, MessagesRejectBadInput) {
  TestUser a = NewUser(), outsider = NewUser();
  std::string g = NewGroup(a);
  std::string base = "/api/v1/groups/" + G(g) + "/messages";
  EXPECT_EQ(c_.Post(base, {{"body", std::string(2001, 'x')}}, a.token).status, 413);
  EXPECT_EQ(c_.Post(base, {{"body", std::string(2000, 'x')}}, a.token).status, 201);
  EXPECT_EQ(c_.Post(base, {{"body", ""}}, a.token).status, 400);
  EXPECT_EQ(c_.Post(base, {{"body", 42}}, a.token).status, 400);
  EXPECT_EQ(c_.Post(base, json::object(), a.token).status, 400);
  EXPECT_EQ(c_.Post(base, {{"body", "bell\x07"}}, a.token).status, 400);
  EXPECT_EQ(c_.Post(base, {{"body", "ok"}, {"reply_to", "$nope"}}, a.token).status, 400);
  EXPECT_EQ(c_.Post(base, {{"body", "ok"}, {"client_txn_id", "has space"}}, a.token).status, 400);
  EXPECT_EQ(c_.Post(base, {{"body", "ok"}, {"client_txn_id", std::string(200, 'a')}}, a.token).status, 400);
  EXPECT_EQ(c_.Request("POST", base, "{\"body\":\"\xff\xfe\"}", {{"Authorization", "Bearer " + a.token}}).status, 400);
  EXPECT_EQ(c_.Request("POST", base, "{\"body\":", {{"Authorization", "Bearer " + a.token}}).status, 400);
  // Authorization: not a member, no token, bad group ids.
  EXPECT_EQ(c_.Post(base, {{"body", "hi"}}, outsider.token).status, 403);
  EXPECT_EQ(c_.Get(base, outsider.token).status, 403);
  EXPECT_EQ(c_.Post(base, {{"body", "hi"}}).status, 401);
  EXPECT_EQ(c_.Post("/api/v1/groups/%23nope%3Aacme.test/messages", {{"body", "hi"}}, a.token).status, 404);
  EXPECT_EQ(c_.Post("/api/v1/groups/garbage/messages", {{"body", "hi"}}, a.token).status, 404);
  EXPECT_EQ(c_.Post("/api/v1/groups/%23x%3Aother.test/messages", {{"body", "hi"}}, a.token).status, 404);
  // SQL-looking and markup bodies are just text.
  std::string evil = "'); DROP TABLE events; -- <script>alert(1)</script>";
  json m = Send(a, g, evil);
  EXPECT_EQ(History(a, g)["events"].back()["content"]["body"], evil);
}

TEST_F(GroupsTest, SendIsIdempotentPerClientTxnId) {
  TestUser a = NewUser();
  std::string g = NewGroup(a);
  json first = Send(a, g, "once", {{"client_txn_id", "txn-1"}});
  json again = Send(a, g, "once", {{"client_txn_id", "txn-1"}});
  EXPECT_EQ(first["event_id"], again["event_id"]);
  EXPECT_EQ(first["seq"], again["seq"]);
  // Concurrent retries of one send still store one message.
  std::vector<std::thread> threads;
  std::vector<std::string> ids(6);
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      HttpClient c(node_->http_port());
      auto r = c.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "race"}, {"client_txn_id", "txn-race"}},
                      a.token);
      if (r.status == 201) ids[i] = r.json()["event_id"];
    });
  }
  for (auto& t : threads) t.join();
  for (auto& id : ids) EXPECT_EQ(id, ids[0]);
  int races = 0;
  json all = History(a, g, "?limit=100");
  for (auto& e : all["events"]) races += e["content"].value("body", "") == "race";
  EXPECT_EQ(races, 1);
  // Another user may use the same txn id.
  TestUser b = NewUser();
  c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token);
  EXPECT_NE(Send(b, g, "mine", {{"client_txn_id", "txn-1"}})["event_id"], first["event_id"]);
}

TEST_F(GroupsTest, HistoryPaginatesBothWaysWithoutGapsOrRepeats) {
  TestUser a = NewUser();
  std::string g = NewGroup(a);
  for (int i = 0; i < 45; ++i) Send(a, g, "m" + std::to_string(i));
  // 2 creation events + 45 messages = seq 1..47. Walk backwards from the end.
  std::vector<int64_t> back;
  json page = History(a, g, "?limit=10");
  while (true) {
    std::vector<int64_t> seqs;
    for (auto& e : page["events"]) seqs.push_back(e["seq"]);
    back.insert(back.begin(), seqs.begin(), seqs.end());
    if (!page["has_more"]) break;
    page = History(a, g, "?limit=10&before=" + std::to_string(page["first_seq"].get<int64_t>()));
  }
  ASSERT_EQ(back.size(), 47u);
  for (size_t i = 0; i < back.size(); ++i) EXPECT_EQ(back[i], static_cast<int64_t>(i + 1));
  // And forwards from the start.
  std::vector<int64_t> fwd;
  int64_t after = 0;
  for (int guard = 0; guard < 20; ++guard) {
    json p = History(a, g, "?limit=7&after=" + std::to_string(after));
    for (auto& e : p["events"]) fwd.push_back(e["seq"]);
    if (!p["has_more"]) break;
    after = p["last_seq"];
  }
  ASSERT_EQ(fwd, back);
  // Edges.
  EXPECT_EQ(History(a, g, "?after=47")["events"].size(), 0u);
  EXPECT_EQ(History(a, g, "?before=1")["events"].size(), 0u);
  EXPECT_EQ(History(a, g, "?limit=100")["events"].size(), 47u);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g) + "/messages?limit=101", a.token).status, 400);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g) + "/messages?limit=0", a.token).status, 400);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g) + "/messages?before=abc", a.token).status, 400);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g) + "/messages?before=5&after=2", a.token).status, 400);
  EXPECT_EQ(c_.Get("/api/v1/groups/" + G(g) + "/messages?after=99999999999999999999", a.token).status, 400);
}

TEST_F(GroupsTest, EditAndDelete) {
  TestUser a = NewUser(), b = NewUser(), admin = NewUser();
  std::string g = NewGroup(a);
  std::string base = "/api/v1/groups/" + G(g) + "/messages/";
  for (auto* u : {&b, &admin}) c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), u->token);
  c_.Put("/api/v1/groups/" + G(g) + "/members/" + G(admin.id) + "/role", {{"role", "admin"}}, a.token);
  json m = Send(b, g, "frist");
  std::string id = m["event_id"];
  EXPECT_EQ(c_.Patch(base + G(id), {{"body", "hijack"}}, a.token).status, 403);  // not the sender
  auto e = c_.Patch(base + G(id), {{"body", "first"}}, b.token);
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(e.json()["type"], "message.edit");
  json shown = History(b, g)["events"];
  json original;
  for (auto& ev : shown) {
    if (ev["event_id"] == id) original = ev;
  }
  EXPECT_EQ(original["content"]["body"], "first");
  EXPECT_EQ(original["edited"], true);
  EXPECT_EQ(c_.Patch(base + G(id), {{"body", ""}}, b.token).status, 400);
  EXPECT_EQ(c_.Patch(base + G("$doesnotexist"), {{"body", "x"}}, b.token).status, 404);
  // Delete: a member who is not the sender cannot; a group admin can.
  TestUser c = NewUser();
  c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), c.token);
  EXPECT_EQ(c_.Delete(base + G(id), c.token).status, 403);
  ASSERT_EQ(c_.Delete(base + G(id), admin.token).status, 200);
  json after_delete = History(b, g, "?limit=100");
  for (auto& ev : after_delete["events"]) {
    if (ev["event_id"] == id) {
      EXPECT_EQ(ev["deleted"], true);
      EXPECT_EQ(ev["content"], json::object());  // the body is gone
    }
    if (ev["type"] == "message.edit") {
      EXPECT_FALSE(ev["content"].contains("body")) << ev.dump();
    }
  }
  EXPECT_EQ(c_.Patch(base + G(id), {{"body", "revive"}}, b.token).status, 404);
  EXPECT_EQ(c_.Delete(base + G(id), admin.token).status, 200);  // idempotent
  // Events of one group cannot be edited through another.
  std::string g2 = NewGroup(a);
  json m2 = Send(a, g2, "elsewhere");
  EXPECT_EQ(c_.Patch(base + G(m2["event_id"]), {{"body", "x"}}, a.token).status, 404);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "re"}, {"reply_to", m2["event_id"]}}, a.token).status,
            400);
}

TEST_F(GroupsTest, RepliesAndReactions) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a);
  c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token);
  json m = Send(a, g, "question?");
  json r = Send(b, g, "answer", {{"reply_to", m["event_id"]}});
  EXPECT_EQ(r["content"]["reply_to"], m["event_id"]);
  std::string rx = "/api/v1/groups/" + G(g) + "/messages/" + G(m["event_id"]) + "/reactions";
  auto add = c_.Post(rx, {{"key", "👍"}}, b.token);
  ASSERT_EQ(add.status, 200) << add.body;
  EXPECT_EQ(add.json()["type"], "reaction");
  // One per user per key: a second add changes nothing.
  EXPECT_EQ(c_.Post(rx, {{"key", "👍"}}, b.token).json(), json::object());
  c_.Post(rx, {{"key", "👍"}}, a.token);
  c_.Post(rx, {{"key", "🎉"}}, a.token);
  json hist;
  json page = History(a, g, "?limit=100");
  for (auto& ev : page["events"]) {
    if (ev["event_id"] == m["event_id"]) hist = ev;
  }
  EXPECT_EQ(hist["reactions"]["👍"].size(), 2u);
  EXPECT_EQ(hist["reactions"]["🎉"].size(), 1u);
  auto del = c_.Delete(rx + "/%F0%9F%91%8D", b.token);
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(del.json()["content"]["removed"], true);
  json page2 = History(a, g, "?limit=100");
  for (auto& ev : page2["events"]) {
    if (ev["event_id"] == m["event_id"]) {
      EXPECT_EQ(ev["reactions"]["👍"].size(), 1u);
    }
  }
  EXPECT_EQ(c_.Post(rx, {{"key", ""}}, b.token).status, 400);
  EXPECT_EQ(c_.Post(rx, {{"key", std::string(40, 'k')}}, b.token).status, 400);
  TestUser outsider = NewUser();
  EXPECT_EQ(c_.Post(rx, {{"key", "x"}}, outsider.token).status, 403);
}

TEST_F(GroupsTest, MentionsUnreadCountsAndReadMarkers) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a);
  c_.Post("/api/v1/groups/" + G(g) + "/join", json::object(), b.token);
  Send(a, g, "hi all");
  json men = Send(a, g, "ping " + b.id + ", and @nobody:else.test too.");
  EXPECT_EQ(men["content"]["mentions"].size(), 2u);
  Send(b, g, "my own message does not count");
  auto item = [&](const TestUser& u) {
    json list = c_.Get("/api/v1/groups", u.token).json();
    for (auto& x : list["groups"]) {
      if (x["group_id"] == g) return x;
    }
    return json();
  };
  json ib = item(b);
  EXPECT_EQ(ib["unread_count"], 2);
  EXPECT_EQ(ib["mention_count"], 1);
  EXPECT_EQ(ib["last_event"]["content"]["body"], "my own message does not count");
  auto mentions = c_.Get("/api/v1/me/mentions", b.token).json()["events"];
  ASSERT_EQ(mentions.size(), 1u);
  EXPECT_EQ(mentions[0]["event_id"], men["event_id"]);
  ASSERT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/read", {{"seq", men["seq"]}}, b.token).status, 200);
  ib = item(b);
  EXPECT_EQ(ib["unread_count"], 0);
  EXPECT_EQ(ib["mention_count"], 0);
  // Markers never move backwards and cannot point past the end.
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/read", {{"seq", 1}}, b.token).status, 200);
  EXPECT_EQ(item(b)["read_seq"], men["seq"]);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/read", {{"seq", 999999}}, b.token).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/read", {{"seq", "7"}}, b.token).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/read", json::object(), b.token).status, 400);
  // Groups are listed by activity.
  std::string g2 = NewGroup(b);
  Send(b, g2, "newest");
  auto list = c_.Get("/api/v1/groups", b.token).json()["groups"];
  EXPECT_EQ(list[0]["group_id"], g2);
}

TEST_F(GroupsTest, SearchOnlyTheGroupsIAmIn) {
  TestUser a = NewUser(), b = NewUser();
  std::string mine = NewGroup(a), theirs = NewGroup(b);
  std::string word = "zebra" + std::to_string(getpid());
  Send(a, mine, "the " + word + " crossed the road");
  Send(a, mine, word + " " + word + " twice, ranked higher");
  Send(b, theirs, "secret " + word + " plans");
  json gone = Send(a, mine, "deleted " + word);
  c_.Delete("/api/v1/groups/" + G(mine) + "/messages/" + G(gone["event_id"]), a.token);
  auto r = c_.Get("/api/v1/search?q=" + word, a.token);
  ASSERT_EQ(r.status, 200) << r.body;
  auto results = r.json()["results"];
  ASSERT_EQ(results.size(), 2u);
  for (auto& x : results) EXPECT_EQ(x["group_id"], mine);
  EXPECT_GE(results[0]["rank"].get<double>(), results[1]["rank"].get<double>());
  auto paged = c_.Get("/api/v1/search?q=" + word + "&limit=1", a.token).json();
  EXPECT_EQ(paged["results"].size(), 1u);
  EXPECT_TRUE(paged["has_more"]);
  EXPECT_EQ(c_.Get("/api/v1/search?q=", a.token).status, 400);
  EXPECT_EQ(c_.Get("/api/v1/search?q=%27%29%3B+DROP", a.token).status, 200);
  // Edited text is what is searched, also for a message indexed before
  // the edit (the search above indexed everything sent so far).
  json m = Send(a, mine, "before edit wombat" + word);
  EXPECT_EQ(c_.Get("/api/v1/search?q=wombat" + word, a.token).json()["results"].size(), 1u);
  c_.Patch("/api/v1/groups/" + G(mine) + "/messages/" + G(m["event_id"]), {{"body", "after quokka" + word}}, a.token);
  EXPECT_EQ(c_.Get("/api/v1/search?q=quokka" + word, a.token).json()["results"].size(), 1u);
  EXPECT_EQ(c_.Get("/api/v1/search?q=wombat" + word, a.token).json()["results"].size(), 0u);
  // A message deleted after it was indexed is no longer found.
  c_.Delete("/api/v1/groups/" + G(mine) + "/messages/" + G(m["event_id"]), a.token);
  EXPECT_EQ(c_.Get("/api/v1/search?q=quokka" + word, a.token).json()["results"].size(), 0u);
  EXPECT_EQ(c_.Get("/api/v1/search?q=" + word, a.token).json()["results"].size(), 2u);
}

// An edit of an indexed message, the delete of another and a new message,
// back to back, then a search at once: the indexer (which gathers commits
// for a moment unless a search wakes it) takes the three in one range as a
// rule, and the search sees all of them either way.
TEST_F(GroupsTest, SearchRightAfterAnEditADeleteAndANewMessage) {
  TestUser a = NewUser();
  std::string g = NewGroup(a);
  std::string word = "ibex" + std::to_string(getpid());
  json old = Send(a, g, "old " + word), doomed = Send(a, g, "doomed " + word);
  ASSERT_EQ(c_.Get("/api/v1/search?q=" + word, a.token).json()["results"].size(), 2u);
  auto edited = c_.Patch("/api/v1/groups/" + G(g) + "/messages/" + G(old["event_id"]), {{"body", "renamed " + word}},
                         a.token);
  ASSERT_EQ(edited.status, 200) << edited.body;
  auto deleted = c_.Delete("/api/v1/groups/" + G(g) + "/messages/" + G(doomed["event_id"]), a.token);
  ASSERT_LT(deleted.status, 300) << deleted.body;
  Send(a, g, "fresh " + word);
  auto r = c_.Get("/api/v1/search?q=" + word, a.token);
  ASSERT_EQ(r.status, 200) << r.body;
  json results = r.json()["results"];
  std::multiset<std::string> bodies;
  for (auto& x : results) bodies.insert(x["content"]["body"].get<std::string>());
  EXPECT_EQ(bodies, (std::multiset<std::string>{"renamed " + word, "fresh " + word}));
  EXPECT_EQ(c_.Get("/api/v1/search?q=doomed", a.token).json()["results"].size(), 0u);
}

// Ten senders at once, then one search: every message is found, once.
TEST_F(GroupsTest, SearchFindsEveryMessageOfTenConcurrentSenders) {
  TestUser a = NewUser();
  std::string g = NewGroup(a);
  std::vector<TestUser> users = JoinedUsers(g, 10, "ts");
  ASSERT_FALSE(HasFailure());
  std::string word = "heron" + std::to_string(getpid());
  std::atomic<int> sent{0};
  std::vector<std::thread> threads;
  for (size_t s = 0; s < users.size(); ++s) {
    threads.emplace_back([&, s] {
      HttpClient c(node_->http_port());
      for (int i = 0; i < 8; ++i) {
        auto r = c.Post("/api/v1/groups/" + G(g) + "/messages",
                        {{"body", word + " s" + std::to_string(s) + "m" + std::to_string(i)}}, users[s].token);
        if (r.status == 201) ++sent;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(sent.load(), 80);
  auto r = c_.Get("/api/v1/search?q=" + word + "&limit=100", a.token);
  ASSERT_EQ(r.status, 200) << r.body;
  json results = r.json()["results"];
  std::set<std::string> bodies;
  for (auto& x : results) bodies.insert(x["content"]["body"].get<std::string>());
  EXPECT_EQ(results.size(), 80u);
  EXPECT_EQ(bodies.size(), 80u);
  EXPECT_FALSE(r.json()["has_more"]);
}

TEST_F(GroupsTest, ConcurrentSendersGetGaplessSequence) {
  TestUser a = NewUser();
  std::string g = NewGroup(a);
  std::vector<TestUser> users = JoinedUsers(g, 4, "cs");
  std::vector<std::thread> threads;
  for (auto& u : users) {
    threads.emplace_back([&, u] {
      HttpClient c(node_->http_port());
      for (int i = 0; i < 25; ++i) c.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "x"}}, u.token);
    });
  }
  for (auto& t : threads) t.join();
  std::vector<int64_t> seqs, pos;
  int64_t after = 0;
  for (int guard = 0; guard < 10; ++guard) {
    json p = History(a, g, "?limit=100&after=" + std::to_string(after));
    for (auto& e : p["events"]) {
      seqs.push_back(e["seq"]);
      pos.push_back(e["stream_pos"]);
    }
    if (!p["has_more"]) break;
    after = p["last_seq"];
  }
  ASSERT_EQ(seqs.size(), 2u + 4u + 100u);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], static_cast<int64_t>(i + 1));
  for (size_t i = 1; i < pos.size(); ++i) EXPECT_LT(pos[i - 1], pos[i]);
}

}  // namespace
}  // namespace gc::test
