// The notification service against a real node: which events notify whom
// (kinds, levels, do-not-disturb, own events, edits, deletes, invites), the
// inbox and its read state, the live frames on every stream of a user, bad
// input, and a SIGKILL right after sends were acknowledged.
//
// Notifications are made by a worker that follows the group log, after the
// send has answered. Tests wait for them with a deadline; to show that
// something was NOT notified, they send a later message that is, wait for
// that one, and then look (the worker processes the log in order).
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "node/db/pg.h"
#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;

GC_SQL(kCountedAndKept,
       "SELECT (SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL),"
       " coalesce((SELECT unread FROM notification_unread WHERE user_id = $1), 0)");
GC_SQL(kEntriesOfEvent, "SELECT count(*) FROM notifications WHERE user_id = $1 AND event_id = $2");
GC_SQL(kCursorAndHead, "SELECT (SELECT pos FROM notification_cursor), (SELECT max(stream_pos) FROM events)");

// The suite's node, users, groups and streams come from tests/support
// (NodeTest); what is added here is the inbox's own vocabulary.
class NotificationsTest : public NodeTest {
 protected:
  static void SetUpTestSuite() { StartNode(kNoRateLimits); }

  TestUser NewUser() { return NodeTest::NewUser("n"); }
  std::string NewGroup(const TestUser& owner, std::vector<const TestUser*> members = {}) {
    return NewGroupWith(owner, members);
  }
  json Inbox(const TestUser& u, const std::string& query = "") {
    auto r = c_.Get("/api/v1/me/notifications" + query, u.token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }
  // The user's entry for `event_id`, waiting up to 10 s for the worker
  // (it runs after the send answered, by design).
  json WaitEntry(const TestUser& u, const std::string& event_id) {
    json n = WaitNotification(c_, u.token, event_id);
    if (n.is_null()) ADD_FAILURE() << u.id << " was not notified of " << event_id;
    return n;
  }
  bool Has(const TestUser& u, const std::string& event_id) { return !NotificationFor(c_, u.token, event_id).is_null(); }
  // A stream of `u`'s that has read its ready frame.
  std::unique_ptr<WsClient> Connect(const TestUser& u) {
    auto ws = NodeTest::Connect(u);
    UntilReady(*ws);
    return ws;
  }
};

TEST_F(NotificationsTest, KindsFollowMentionsAndRepliesAndNeverTheSender) {
  TestUser a = NewUser(), b = NewUser(), c = NewUser();
  std::string g = NewGroup(a, {&b, &c});
  json plain = Send(a, g, "hello all");
  json mention = Send(a, g, "look " + b.id + " here");
  json reply = Send(c, g, "answering", {{"reply_to", plain["event_id"]}});

  json n = WaitEntry(b, plain["event_id"]);
  EXPECT_EQ(n["kind"], "message");
  EXPECT_EQ(n["group_id"], g);
  EXPECT_EQ(n["sender"], a.id);
  EXPECT_EQ(n["body_preview"], "hello all");
  EXPECT_EQ(n["read"], false);
  EXPECT_TRUE(n["notification_id"].is_number_integer());
  EXPECT_EQ(WaitEntry(b, mention["event_id"])["kind"], "mention");
  EXPECT_EQ(WaitEntry(c, mention["event_id"])["kind"], "message");
  EXPECT_EQ(WaitEntry(a, reply["event_id"])["kind"], "reply");
  EXPECT_EQ(WaitEntry(b, reply["event_id"])["kind"], "message");
  // The sender of each is never notified of it.
  EXPECT_FALSE(Has(a, plain["event_id"]));
  EXPECT_FALSE(Has(a, mention["event_id"]));
  EXPECT_FALSE(Has(c, reply["event_id"]));
}

// The worker tells local members by their address and leaves out the
// deactivated ones (kNotifMake); the group's title and the sender's display
// name are the event's, looked up once for all its entries.
TEST_F(NotificationsTest, DeactivatedMembersAreLeftOutAndTheSendersNameIsShown) {
  TestUser a = NewUser(), b = NewUser(), c = NewUser();
  ASSERT_EQ(c_.Patch("/api/v1/me", {{"display_name", "Ada Sender"}}, a.token).status, 200);
  std::string g = NewGroup(a, {&b, &c});
  std::string admin = CreateAdmin(*node_, UniqueName("na"), "admin password");
  ASSERT_EQ(c_.Post("/api/v1/admin/users/" + G(b.id) + "/deactivate", nullptr, admin).status, 200);
  json away = Send(a, g, "while b is away");
  json n = WaitEntry(c, away["event_id"]);  // the worker has made this event's entries
  EXPECT_EQ(n["sender_display_name"], "Ada Sender");
  PgConn db(node_->database_url());
  ASSERT_TRUE(db.Connect().ok());
  auto r = db.Exec(kEntriesOfEvent, {b.id, away["event_id"].get<std::string>()});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->int64(0, 0), 0) << "a deactivated member was notified";
  ASSERT_EQ(c_.Post("/api/v1/admin/users/" + G(b.id) + "/reactivate", nullptr, admin).status, 200);
  json back = Send(a, g, "b is back");
  WaitEntry(c, back["event_id"]);
  r = db.Exec(kEntriesOfEvent, {b.id, back["event_id"].get<std::string>()});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->int64(0, 0), 1) << "a reactivated member was not notified";
}

TEST_F(NotificationsTest, LevelsPerGroupOverrideTheUsersDefault) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b}), other = NewGroup(a, {&b});
  auto put = c_.Put("/api/v1/groups/" + G(g) + "/notification-level", {{"level", "mentions"}}, b.token);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json()["level"], "mentions");
  EXPECT_EQ(put.json()["default"], false);

  json quiet = Send(a, g, "nothing for you");
  json called = Send(a, g, "hey " + b.id);
  EXPECT_EQ(WaitEntry(b, called["event_id"])["kind"], "mention");
  EXPECT_FALSE(Has(b, quiet["event_id"]));

  // Default none: the other group (no level of its own) goes quiet, the
  // first keeps its own level.
  auto patch = c_.Patch("/api/v1/me/notification-settings", {{"default_level", "none"}}, b.token);
  ASSERT_EQ(patch.status, 200) << patch.body;
  EXPECT_EQ(patch.json()["default_level"], "none");
  EXPECT_EQ(patch.json()["groups"][g], "mentions");
  json muted = Send(a, other, "hey " + b.id + " in the other group");
  json still = Send(a, g, "again " + b.id);
  WaitEntry(b, still["event_id"]);
  EXPECT_FALSE(Has(b, muted["event_id"]));
  auto level = c_.Get("/api/v1/groups/" + G(other) + "/notification-level", b.token);
  EXPECT_EQ(level.json()["level"], "none");
  EXPECT_EQ(level.json()["default"], true);

  // Back to the default for g: now none there too; all for the other group.
  ASSERT_EQ(c_.Put("/api/v1/groups/" + G(g) + "/notification-level", {{"level", "default"}}, b.token).status, 200);
  ASSERT_EQ(c_.Put("/api/v1/groups/" + G(other) + "/notification-level", {{"level", "all"}}, b.token).status, 200);
  json none_here = Send(a, g, "hey " + b.id + " once more");
  json all_there = Send(a, other, "plain words");
  EXPECT_EQ(WaitEntry(b, all_there["event_id"])["kind"], "message");
  EXPECT_FALSE(Has(b, none_here["event_id"]));
}

TEST_F(NotificationsTest, DoNotDisturbStillRecordsInTheInbox) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  int64_t in_an_hour = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count() + 3600 * 1000;
  auto patch = c_.Patch("/api/v1/me/notification-settings", {{"dnd_until", in_an_hour}}, b.token);
  ASSERT_EQ(patch.status, 200) << patch.body;
  EXPECT_EQ(patch.json()["dnd_until"], in_an_hour);
  json m = Send(a, g, "during dnd");
  EXPECT_EQ(WaitEntry(b, m["event_id"])["kind"], "message");
  auto off = c_.Patch("/api/v1/me/notification-settings", {{"dnd_until", nullptr}}, b.token);
  EXPECT_TRUE(off.json()["dnd_until"].is_null());
}

TEST_F(NotificationsTest, EditsDoNotRenotifyAndDeletesWithdraw) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  json m = Send(a, g, "first words");
  json n = WaitEntry(b, m["event_id"]);
  auto ws = Connect(b);
  std::string e = m["event_id"];
  auto edit = c_.Patch("/api/v1/groups/" + G(g) + "/messages/" + G(e), {{"body", "second words"}}, a.token);
  ASSERT_EQ(edit.status, 200) << edit.body;
  auto del = c_.Delete("/api/v1/groups/" + G(g) + "/messages/" + G(e), a.token);
  ASSERT_TRUE(del.status == 200 || del.status == 204) << del.body;
  auto f = ws->WaitFor([](const json& f) { return f["type"] == "notification"; }, 10000);
  ASSERT_TRUE(f);
  // The first notification frame after the edit is the withdrawal: the edit made none.
  EXPECT_EQ((*f)["notification"]["notification_id"], n["notification_id"]);
  EXPECT_EQ((*f)["notification"]["withdrawn"], true);
  EXPECT_EQ((*f)["notification"]["body_preview"], "");
  json after = WaitEntry(b, e);
  EXPECT_EQ(after["withdrawn"], true);
  EXPECT_EQ(after["read"], true);
  int count = 0;
  json page = Inbox(b);
  for (const auto& x : page["notifications"]) count += x["event_id"] == e;
  EXPECT_EQ(count, 1);
}

TEST_F(NotificationsTest, InvitesNotifyTheInvitedUser) {
  TestUser a = NewUser(), b = NewUser();
  auto r = c_.Post("/api/v1/groups", {{"name", UniqueName("ng")}, {"join_rule", "invite"}}, a.token);
  ASSERT_EQ(r.status, 201) << r.body;
  std::string g = r.json()["group_id"];
  auto inv = c_.Post("/api/v1/groups/" + G(g) + "/invites", {{"user_id", b.id}}, a.token);
  ASSERT_EQ(inv.status / 100, 2) << inv.body;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  json found;
  while (found.is_null() && std::chrono::steady_clock::now() < deadline) {
    json page = Inbox(b);
    for (const auto& n : page["notifications"]) {
      if (n["kind"] == "invite" && n["group_id"] == g) found = n;
    }
    if (found.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(found.is_null()) << "no invite notification";
  EXPECT_EQ(found["sender"], a.id);
}

TEST_F(NotificationsTest, InboxPagesNewestFirstAndReadsUpToAnId) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  std::vector<std::string> events;
  for (int i = 0; i < 7; ++i) events.push_back(Send(a, g, "m" + std::to_string(i))["event_id"]);
  WaitEntry(b, events.back());
  json p1 = Inbox(b, "?limit=3");
  EXPECT_EQ(p1["unread"], 7);
  ASSERT_EQ(p1["notifications"].size(), 3u);
  EXPECT_EQ(p1["notifications"][0]["event_id"], events[6]);
  EXPECT_EQ(p1["notifications"][2]["event_id"], events[4]);
  json p2 = Inbox(b, "?limit=3&before=" + std::to_string(p1["next_before"].get<int64_t>()));
  EXPECT_EQ(p2["notifications"][0]["event_id"], events[3]);
  json p3 = Inbox(b, "?limit=3&before=" + std::to_string(p2["next_before"].get<int64_t>()));
  ASSERT_EQ(p3["notifications"].size(), 1u);
  EXPECT_TRUE(p3["next_before"].is_null());

  // Read up to the fourth: three stay unread.
  int64_t fourth = p2["notifications"][0]["notification_id"];
  auto rd = c_.Post("/api/v1/me/notifications/read", {{"up_to", fourth}}, b.token);
  ASSERT_EQ(rd.status, 200) << rd.body;
  EXPECT_EQ(rd.json()["unread"], 3);
  json unread = Inbox(b, "?unread_only=true");
  ASSERT_EQ(unread["notifications"].size(), 3u);
  for (const auto& n : unread["notifications"]) EXPECT_GT(n["notification_id"].get<int64_t>(), fourth);
  // Someone else's ids do not touch b's entries.
  c_.Post("/api/v1/me/notifications/read", {{"up_to", INT64_MAX}}, a.token);
  EXPECT_EQ(Inbox(b)["unread"], 3);
}

TEST_F(NotificationsTest, FramesReachEveryStreamAndAReadClearsTheOtherDevices) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  auto phone = Connect(b), laptop = Connect(b), sender = Connect(a);
  json m = Send(a, g, "ping " + b.id);
  int64_t id = 0;
  for (auto* ws : {phone.get(), laptop.get()}) {
    auto f = ws->WaitFor([](const json& f) { return f["type"] == "notification"; }, 10000);
    ASSERT_TRUE(f);
    EXPECT_EQ((*f)["notification"]["event_id"], m["event_id"]);
    EXPECT_EQ((*f)["notification"]["kind"], "mention");
    EXPECT_EQ((*f)["unread"], 1);
    id = (*f)["notification"]["notification_id"];
  }
  auto rd = c_.Post("/api/v1/me/notifications/read", {{"up_to", id}}, b.token);
  ASSERT_EQ(rd.status, 200) << rd.body;
  for (auto* ws : {phone.get(), laptop.get()}) {
    auto f = ws->WaitFor([](const json& f) { return f["type"] == "notification.read"; }, 10000);
    ASSERT_TRUE(f);
    EXPECT_EQ((*f)["unread"], 0);
  }
  // The sender's stream got no notification of its own message.
  std::vector<json> seen;
  sender->WaitFor([](const json& f) { return false; }, 300, &seen);
  for (const auto& f : seen) EXPECT_NE(f["type"], "notification") << f.dump();
}

// A plain message's entry is in the inbox but has no `notification` frame:
// its `event` frame is on the stream already (spec/stream.md 3.5.1). The
// next announced entry carries the count that includes it.
TEST_F(NotificationsTest, PlainMessagesAreNotAnnouncedButCounted) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  auto ws = Connect(b);
  json plain = Send(a, g, "just chatting");
  json mention = Send(a, g, "look " + b.id);
  std::vector<json> seen;
  auto f = ws->WaitFor([](const json& f) { return f["type"] == "notification"; }, 10000, &seen);
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)["notification"]["event_id"], mention["event_id"]);
  EXPECT_EQ((*f)["unread"], 2);
  bool plain_event = false;
  for (const auto& e : seen) {
    if (e["type"] == "event" && e["event"]["event_id"] == plain["event_id"]) plain_event = true;
  }
  EXPECT_TRUE(plain_event) << "the plain message reached the stream as an event";
  EXPECT_EQ(WaitEntry(b, plain["event_id"])["kind"], "message");
  EXPECT_EQ(Inbox(b)["unread"], 2);
}

TEST_F(NotificationsTest, ReadingTheGroupMarksItsNotificationsRead) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b}), other = NewGroup(a, {&b});
  json m1 = Send(a, g, "one");
  json m2 = Send(a, g, "two");
  json m3 = Send(a, other, "elsewhere");
  WaitEntry(b, m3["event_id"]);
  auto ws = Connect(b);
  auto rd = c_.Post("/api/v1/groups/" + G(g) + "/read", {{"seq", m2["seq"]}}, b.token);
  ASSERT_EQ(rd.status / 100, 2) << rd.body;
  auto f = ws->WaitFor([](const json& f) { return f["type"] == "notification.read"; }, 10000);
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)["unread"], 1);
  EXPECT_EQ(WaitEntry(b, m1["event_id"])["read"], true);
  EXPECT_EQ(WaitEntry(b, m2["event_id"])["read"], true);
  EXPECT_EQ(WaitEntry(b, m3["event_id"])["read"], false);
}

TEST_F(NotificationsTest, BadInputGetsAClearError) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a);
  EXPECT_EQ(c_.Get("/api/v1/me/notifications").status, 401);
  EXPECT_EQ(c_.Get("/api/v1/me/notifications?limit=0", a.token).status, 400);
  EXPECT_EQ(c_.Get("/api/v1/me/notifications?limit=abc", a.token).status, 400);
  EXPECT_EQ(c_.Get("/api/v1/me/notifications?unread_only=maybe", a.token).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/me/notifications/read", json::object(), a.token).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/me/notifications/read", {{"up_to", "7"}}, a.token).status, 400);
  EXPECT_EQ(c_.Post("/api/v1/me/notifications/read", {{"up_to", -1}}, a.token).status, 400);
  EXPECT_EQ(c_.PostRaw("/api/v1/me/notifications/read", "{not json", "application/json", a.token).status, 400);
  auto bad = c_.Patch("/api/v1/me/notification-settings", {{"default_level", "loud"}}, a.token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["error"]["code"].is_string() || bad.json().contains("error"), true) << bad.body;
  EXPECT_EQ(c_.Patch("/api/v1/me/notification-settings", {{"dnd_until", "tomorrow"}}, a.token).status, 400);
  EXPECT_EQ(c_.Patch("/api/v1/me/notification-settings", {{"snooze", true}}, a.token).status, 400);
  EXPECT_EQ(c_.Put("/api/v1/groups/" + G(g) + "/notification-level", {{"level", "loud"}}, a.token).status, 400);
  EXPECT_EQ(c_.Put("/api/v1/groups/" + G(g) + "/notification-level", json::object(), a.token).status, 400);
  // Not a member: no level to set or read.
  int outsider = c_.Put("/api/v1/groups/" + G(g) + "/notification-level", {{"level", "all"}}, b.token).status;
  EXPECT_TRUE(outsider == 403 || outsider == 404) << outsider;
  int missing = c_.Get("/api/v1/groups/%23nope%3Aacme.test/notification-level", a.token).status;
  EXPECT_EQ(missing, 404);
}

// A crowd: many senders at once, every member notified of every message
// exactly once, and the sends not slowed by the members they notify.
TEST_F(NotificationsTest, ManySendersAtOnceNotifyEveryMemberOnce) {
  TestUser owner = NewUser();
  std::vector<TestUser> members;
  std::vector<const TestUser*> ptrs;
  for (int i = 0; i < 8; ++i) members.push_back(NewUser());
  for (auto& m : members) ptrs.push_back(&m);
  std::string g = NewGroup(owner, ptrs);
  constexpr int kPerSender = 10;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (auto& m : members) {
    threads.emplace_back([&, token = m.token] {
      HttpClient c(node_->http_port());
      for (int i = 0; i < kPerSender; ++i) {
        if (c.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "crowd"}}, token).status != 201) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failed.load(), 0);
  json last = Send(owner, g, "last");
  // Each member: every other member's messages and the owner's last one.
  for (auto& m : members) {
    WaitEntry(m, last["event_id"]);
    json page = Inbox(m, "?limit=100");
    std::set<std::string> events;
    for (const auto& n : page["notifications"]) {
      EXPECT_NE(n["sender"], m.id);
      events.insert(n["event_id"].get<std::string>());
    }
    EXPECT_EQ(page["notifications"].size(), events.size()) << "an event notified twice";
    EXPECT_EQ(static_cast<int>(events.size()), (static_cast<int>(members.size()) - 1) * kPerSender + 1);
  }
}

// The unread count is kept beside the entries (migration 0003): crowds of
// sends, reads of the inbox, reads of the group and deletes, all at once,
// must leave it equal to the entries that are unread.
TEST_F(NotificationsTest, UnreadCountsStayTrueUnderConcurrentReadsAndDeletes) {
  TestUser owner = NewUser();
  std::vector<TestUser> members;
  std::vector<const TestUser*> ptrs;
  for (int i = 0; i < 6; ++i) members.push_back(NewUser());
  for (auto& m : members) ptrs.push_back(&m);
  std::string g = NewGroup(owner, ptrs);
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (size_t k = 0; k < members.size(); ++k) {
    threads.emplace_back([&, k] {
      HttpClient c(node_->http_port());
      const TestUser& me = members[k];
      for (int i = 0; i < 15; ++i) {
        auto r = c.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "busy " + std::to_string(i)}}, me.token);
        if (r.status != 201) {
          ++failed;
          continue;
        }
        std::string e = r.json()["event_id"];
        int64_t seq = r.json()["seq"];
        if (i % 5 == 4 && c.Delete("/api/v1/groups/" + G(g) + "/messages/" + G(e), me.token).status >= 300) ++failed;
        if (k % 3 == 0 && i % 4 == 3) {
          auto p = c.Get("/api/v1/me/notifications?limit=1", me.token);
          if (p.status == 200 && !p.json()["notifications"].empty()) {
            int64_t top = p.json()["notifications"][0]["notification_id"];
            if (c.Post("/api/v1/me/notifications/read", {{"up_to", top}}, me.token).status != 200) ++failed;
          }
        }
        if (k % 3 == 1 && i % 6 == 5 &&
            c.Post("/api/v1/groups/" + G(g) + "/read", {{"seq", seq}}, me.token).status >= 300) {
          ++failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failed.load(), 0);
  json last = Send(owner, g, "last");
  for (auto& m : members) WaitEntry(m, last["event_id"]);
  // The read markers reach the service after their answer: wait until each
  // member's count agrees with the rows (it converges, and stays).
  PgConn db(node_->database_url());
  ASSERT_TRUE(db.Connect().ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto& m : members) {
    int64_t counted = -1, kept = -2;
    while (std::chrono::steady_clock::now() < deadline) {  // the group read marker is applied after its answer
      auto r = db.Exec(kCountedAndKept, {m.id});
      ASSERT_TRUE(r.ok());
      counted = r->int64(0, 0);
      kept = r->int64(0, 1);
      if (counted == kept) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(counted, kept) << m.id;
    EXPECT_EQ(Inbox(m)["unread"], counted) << m.id;
  }
}

// Runs last in the suite (its own node): SIGKILL right after the sends were
// acknowledged, before the worker could make their notifications.
TEST(NotificationsCrashTest, AcknowledgedSendsAreNotifiedAfterSigkill) {
  NodeOptions o;
  o.extra_yaml = kNoRateLimits;
  NodeProcess node(o);
  node.Start();
  HttpClient c(node.http_port());
  TestUser a = RegisterUser(c, "k"), b = RegisterUser(c, "k");
  std::string g = CreateGroup(c, a.token);
  ASSERT_FALSE(g.empty());
  JoinGroup(c, b.token, g);

  constexpr int kSends = 40;
  std::set<std::string> sent;
  for (int i = 0; i < kSends; ++i) {
    auto r = c.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", "before the crash " + std::to_string(i)}}, a.token);
    ASSERT_EQ(r.status, 201) << r.body;
    sent.insert(r.json()["event_id"].get<std::string>());
  }
  node.Kill();

  // The crash came before the worker reached the last sends (else this test
  // would show nothing): the cursor is behind the log.
  {
    PgConn db(node.database_url());
    ASSERT_TRUE(db.Connect().ok());
    auto r = db.Exec(kCursorAndHead);
    ASSERT_TRUE(r.ok());
    EXPECT_LT(r->int64(0, 0), r->int64(0, 1)) << "the worker had already caught up before the SIGKILL";
  }

  node.Start();
  HttpClient c2(node.http_port());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::multiset<std::string> got;
  while (std::chrono::steady_clock::now() < deadline) {
    got.clear();
    auto r = c2.Get("/api/v1/me/notifications?limit=100", b.token);
    ASSERT_EQ(r.status, 200) << r.body;
    json page = r.json();
    for (const auto& n : page["notifications"]) got.insert(n["event_id"].get<std::string>());
    if (got.size() >= sent.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), sent);
  EXPECT_EQ(got.size(), sent.size()) << "an acknowledged message was notified twice";
  EXPECT_EQ(node.Stop(), 0);
}

}  // namespace
}  // namespace gc::test
