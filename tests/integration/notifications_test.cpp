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

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <mutex>
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
GC_SQL(kNotifTestReferTo, "SELECT 1 FROM notifications WHERE id = $1 FOR KEY SHARE");
GC_SQL(kEntriesOfEvent, "SELECT count(*) FROM notifications WHERE user_id = $1 AND event_id = $2");
GC_SQL(kOpenMessageEntries,
       "SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = 'message' AND read_at IS NULL");
GC_SQL(kFoldedRows,
       "SELECT id || ' ' || count || ' ' || CASE WHEN read_at IS NULL THEN 'unread' ELSE 'read' END"
       " FROM notifications ORDER BY id");
GC_SQL(kFoldedCounts, "SELECT string_agg(user_id || ' ' || unread, ', ' ORDER BY user_id) FROM notification_unread");
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

  // b: the plain message and c's reply (plain for b) are one entry, which
  // shows the latest; the mention is its own.
  json n = WaitEntry(b, reply["event_id"]);
  EXPECT_EQ(n["kind"], "message");
  EXPECT_EQ(n["group_id"], g);
  EXPECT_EQ(n["sender"], c.id);
  EXPECT_EQ(n["body_preview"], "answering");
  EXPECT_EQ(n["count"], 2);
  EXPECT_EQ(n["read"], false);
  EXPECT_TRUE(n["notification_id"].is_number_integer());
  json m = WaitEntry(b, mention["event_id"]);
  EXPECT_EQ(m["kind"], "mention");
  EXPECT_EQ(m["count"], 1);
  json cm = WaitEntry(c, mention["event_id"]);
  EXPECT_EQ(cm["kind"], "message");
  EXPECT_EQ(cm["count"], 2);
  EXPECT_EQ(WaitEntry(a, reply["event_id"])["kind"], "reply");
  // The sender of each is never notified of it.
  EXPECT_FALSE(Has(a, plain["event_id"]));
  EXPECT_FALSE(Has(a, mention["event_id"]));
  EXPECT_FALSE(Has(c, reply["event_id"]));
  EXPECT_EQ(Inbox(b)["unread"], 2);
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

// Mentions are one entry each (plain messages would be one entry in all).
// A read marks an entry that another transaction is only referring to (the
// email collector inserting its email_pending row, a push_queue row: their
// foreign keys lock the entry FOR KEY SHARE until they commit). It used to
// skip it: answered 200, the entry stayed unread and was mailed.
TEST_F(NotificationsTest, AReadMarksAnEntryThatIsBeingQueuedForMail) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  json n = WaitEntry(b, Send(a, g, "look " + b.id)["event_id"]);
  ASSERT_FALSE(n.is_null());
  int64_t id = n["notification_id"];
  PgConn db(node_->database_url());
  ASSERT_TRUE(db.Connect().ok());
  ASSERT_TRUE(db.ExecScript("BEGIN").ok());
  auto held = db.Exec(kNotifTestReferTo, {id});
  ASSERT_TRUE(held.ok() && held->rows() == 1);
  auto rd = c_.Post("/api/v1/me/notifications/read", {{"up_to", id}}, b.token);
  ASSERT_EQ(rd.status, 200) << rd.body;
  EXPECT_EQ(rd.json()["unread"], 0) << rd.body;
  ASSERT_TRUE(db.ExecScript("COMMIT").ok());
  EXPECT_EQ(Inbox(b)["unread"], 0);
  EXPECT_TRUE(Inbox(b, "?unread_only=true")["notifications"].empty());
}

TEST_F(NotificationsTest, InboxPagesNewestFirstAndReadsUpToAnId) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  std::vector<std::string> events;
  for (int i = 0; i < 7; ++i) events.push_back(Send(a, g, "m" + std::to_string(i) + " " + b.id)["event_id"]);
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

// A read marker reads a coalesced entry only once it covers the entry's
// latest message.
TEST_F(NotificationsTest, ReadingTheGroupMarksItsNotificationsRead) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b}), other = NewGroup(a, {&b});
  json m1 = Send(a, g, "one");
  json m2 = Send(a, g, "two");
  json m3 = Send(a, other, "elsewhere");
  WaitEntry(b, m2["event_id"]);
  WaitEntry(b, m3["event_id"]);
  auto ws = Connect(b);
  auto rd = c_.Post("/api/v1/groups/" + G(g) + "/read", {{"seq", m1["seq"]}}, b.token);
  ASSERT_EQ(rd.status / 100, 2) << rd.body;
  rd = c_.Post("/api/v1/groups/" + G(g) + "/read", {{"seq", m2["seq"]}}, b.token);
  ASSERT_EQ(rd.status / 100, 2) << rd.body;
  auto f = ws->WaitFor([](const json& f) { return f["type"] == "notification.read"; }, 10000);
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)["unread"], 1) << "the marker at the first message read the entry of two";
  json e = WaitEntry(b, m2["event_id"]);
  EXPECT_EQ(e["read"], true);
  EXPECT_EQ(e["count"], 2);
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
  // Each member: one entry of the group, unread, standing for every other
  // member's messages and the owner's last one (ranges of the worker cut
  // across the crowd: each one added to the same entry).
  for (auto& m : members) {
    WaitEntry(m, last["event_id"]);
    json page = Inbox(m, "?limit=100");
    ASSERT_EQ(page["notifications"].size(), 1u) << page.dump();
    json n = page["notifications"][0];
    EXPECT_EQ(n["kind"], "message");
    EXPECT_EQ(n["count"], (static_cast<int>(members.size()) - 1) * kPerSender + 1);
    EXPECT_EQ(n["sender"], owner.id);
    EXPECT_EQ(page["unread"], 1);
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

// Plain messages are coalesced per (user, group) while unread (migration
// 0008): one entry that counts them and shows the latest; a read entry is
// never added to, the next message makes a new one; mentions stay their own.
TEST_F(NotificationsTest, PlainMessagesCoalesceIntoOneUnreadEntryPerGroup) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b}), other = NewGroup(a, {&b});
  constexpr int kN = 6;
  json m;
  for (int i = 0; i < kN; ++i) m = Send(a, g, "chat " + std::to_string(i));
  json first = WaitEntry(b, m["event_id"]);
  EXPECT_EQ(first["count"], kN);
  EXPECT_EQ(first["body_preview"], "chat 5");
  json mention = Send(a, g, "hey " + b.id);
  json more = Send(a, g, "after the mention");
  json elsewhere = Send(a, other, "in the other group");
  WaitEntry(b, elsewhere["event_id"]);
  json page = Inbox(b);
  ASSERT_EQ(page["notifications"].size(), 3u) << page.dump();
  EXPECT_EQ(page["unread"], 3);
  json same = WaitEntry(b, more["event_id"]);
  EXPECT_EQ(same["notification_id"], first["notification_id"]) << "an unread entry keeps its notification_id";
  EXPECT_EQ(same["count"], kN + 1);
  EXPECT_EQ(WaitEntry(b, mention["event_id"])["kind"], "mention");
  EXPECT_EQ(WaitEntry(b, elsewhere["event_id"])["count"], 1);

  // Read: the next message of the group makes a new entry, above the others.
  int64_t top = page["notifications"][0]["notification_id"];
  ASSERT_EQ(c_.Post("/api/v1/me/notifications/read", {{"up_to", top}}, b.token).status, 200);
  json next = Send(a, g, "a new day");
  json fresh = WaitEntry(b, next["event_id"]);
  EXPECT_GT(fresh["notification_id"].get<int64_t>(), top);
  EXPECT_EQ(fresh["count"], 1);
  EXPECT_EQ(fresh["read"], false);
  json old = Inbox(b);
  EXPECT_EQ(old["unread"], 1);
  for (const auto& n : old["notifications"]) {
    if (n["notification_id"] == first["notification_id"]) {
      EXPECT_EQ(n["count"], kN + 1) << "a read entry was added to";
    }
  }
  // Exactly one unread message entry per (user, group) in the table.
  PgConn db(node_->database_url());
  ASSERT_TRUE(db.Connect().ok());
  auto r = db.Exec(kOpenMessageEntries, {b.id});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->int64(0, 0), 1);
}

// A deleted message leaves a coalesced entry: deleting its latest points it
// back at the one before (one fewer, pushed again but not withdrawn);
// deleting its first counts one fewer; deleting the only message left
// withdraws it.
TEST_F(NotificationsTest, DeletingACoalescedMessageShrinksOrWithdrawsItsEntry) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  json m1 = Send(a, g, "one");
  json m2 = Send(a, g, "two");
  json m3 = Send(a, g, "three");
  json n = WaitEntry(b, m3["event_id"]);
  ASSERT_EQ(n["count"], 3);
  auto del = [&](const json& m) {
    auto r = c_.Delete("/api/v1/groups/" + G(g) + "/messages/" + G(m["event_id"].get<std::string>()), a.token);
    ASSERT_TRUE(r.status == 200 || r.status == 204) << r.body;
  };
  del(m3);
  json back = WaitEntry(b, m2["event_id"]);
  EXPECT_EQ(back["notification_id"], n["notification_id"]);
  EXPECT_EQ(back["count"], 2);
  EXPECT_EQ(back["body_preview"], "two");
  EXPECT_EQ(back["withdrawn"], false);
  EXPECT_EQ(back["read"], false);
  del(m1);
  json probe = Send(a, NewGroup(a, {&b}), "probe");  // the worker is past the delete once this is in
  WaitEntry(b, probe["event_id"]);
  json after = WaitEntry(b, m2["event_id"]);
  EXPECT_EQ(after["count"], 1);
  EXPECT_EQ(after["withdrawn"], false);
  del(m2);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  json gone;
  while (std::chrono::steady_clock::now() < deadline) {
    gone = WaitEntry(b, m2["event_id"]);
    if (gone["withdrawn"] == true) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polled: withdrawn by the worker
  }
  EXPECT_EQ(gone["withdrawn"], true);
  EXPECT_EQ(gone["read"], true);
  EXPECT_EQ(gone["body_preview"], "");
  EXPECT_EQ(Inbox(b)["unread"], 1);  // the probe's entry
  // A new message makes a new entry: the withdrawn one is closed.
  json again = Send(a, g, "four");
  json fresh = WaitEntry(b, again["event_id"]);
  EXPECT_NE(fresh["notification_id"], n["notification_id"]);
  EXPECT_EQ(fresh["count"], 1);
}

// A read coalesced entry is not changed by the worker when its latest
// message is deleted; the inbox shows it withdrawn, without the preview.
TEST_F(NotificationsTest, AReadCoalescedEntryHidesADeletedLatestMessage) {
  TestUser a = NewUser(), b = NewUser();
  std::string g = NewGroup(a, {&b});
  Send(a, g, "kept");
  json secret = Send(a, g, "oops, a secret");
  json n = WaitEntry(b, secret["event_id"]);
  ASSERT_EQ(n["count"], 2);
  ASSERT_EQ(c_.Post("/api/v1/me/notifications/read", {{"up_to", n["notification_id"]}}, b.token).status, 200);
  auto r = c_.Delete("/api/v1/groups/" + G(g) + "/messages/" + G(secret["event_id"].get<std::string>()), a.token);
  ASSERT_TRUE(r.status == 200 || r.status == 204) << r.body;
  json probe = Send(a, g, "probe");
  WaitEntry(b, probe["event_id"]);
  json page = Inbox(b);
  bool seen = false;
  for (const auto& x : page["notifications"]) {
    if (x["notification_id"] != n["notification_id"]) continue;
    seen = true;
    EXPECT_EQ(x["withdrawn"], true);
    EXPECT_EQ(x["body_preview"], "");
  }
  EXPECT_TRUE(seen);
}

// Migration 0008 on rows made before it, in a scratch schema of the node's
// database (the same tables as 0001 and 0003 made them): several unread
// plain entries of one (user, group) become the newest, standing for all
// of them; the older are read and leave the unread count; read entries,
// mentions and other groups are left alone.
TEST_F(NotificationsTest, MigrationFoldsOldUnreadMessageEntriesIntoTheNewest) {
  std::ifstream in(std::string(GC_SOURCE_DIR) + "/services/notifications/migrations/0008_coalesced_messages.sql");
  ASSERT_TRUE(in) << "migration 0008 not found";
  std::string migration((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  PgConn db(node_->database_url());
  ASSERT_TRUE(db.Connect().ok());
  std::string schema = "fold" + std::to_string(::getpid());
  std::string setup =
      "CREATE SCHEMA " + schema + "; SET search_path = " + schema + ";"
      "CREATE TABLE notifications (id bigserial PRIMARY KEY, user_id text NOT NULL, kind text NOT NULL,"
      " group_id bigint NOT NULL, event_id text NOT NULL, seq bigint NOT NULL, sender text NOT NULL,"
      " sender_display_name text NOT NULL DEFAULT '', group_title text NOT NULL DEFAULT '',"
      " body_preview text NOT NULL DEFAULT '', created_at bigint NOT NULL, read_at bigint, withdrawn_at bigint,"
      " pushed boolean NOT NULL);"
      "CREATE TABLE notification_unread (user_id text PRIMARY KEY, unread bigint NOT NULL CHECK (unread >= 0));"
      "INSERT INTO notifications (user_id, kind, group_id, event_id, seq, sender, created_at, read_at, pushed) VALUES"
      " ('@b:x', 'message', 1, '$1', 1, '@a:x', 100, NULL, true),"
      " ('@b:x', 'message', 1, '$2', 2, '@a:x', 200, NULL, true),"
      " ('@b:x', 'mention', 1, '$3', 3, '@a:x', 300, NULL, true),"
      " ('@b:x', 'message', 1, '$4', 4, '@a:x', 400, NULL, true),"
      " ('@b:x', 'message', 2, '$5', 1, '@a:x', 500, NULL, true),"
      " ('@b:x', 'message', 1, '$0', 0, '@a:x', 50, 60, true),"  // read already: left alone
      " ('@c:x', 'message', 1, '$1', 1, '@a:x', 100, NULL, true),"
      " ('@c:x', 'message', 1, '$2', 2, '@a:x', 200, NULL, true);"
      "INSERT INTO notification_unread SELECT user_id, count(*) FROM notifications WHERE read_at IS NULL GROUP BY user_id;";
  ASSERT_TRUE(db.ExecScript(setup.c_str()).ok());
  Status applied = db.ExecScript(migration.c_str());
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  auto rows = db.Exec(kFoldedRows);
  ASSERT_TRUE(rows.ok());
  std::vector<std::string> got;
  for (int i = 0; i < rows->rows(); ++i) got.push_back(rows->text(i, 0));
  EXPECT_EQ(got, (std::vector<std::string>{"1 1 read", "2 1 read", "3 1 unread", "4 3 unread", "5 1 unread",
                                           "6 1 read", "7 1 read", "8 2 unread"}));
  auto counts = db.Exec(kFoldedCounts);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->text(0, 0), "@b:x 3, @c:x 1");
  ASSERT_TRUE(db.ExecScript(("DROP SCHEMA " + schema + " CASCADE; SET search_path = public").c_str()).ok());
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

  // Bursts of 8 sends at once until the worker is seen behind the log, then
  // SIGKILL at once: one burst nearly always leaves it behind, but a slow
  // node (sanitized, on a loaded machine) may keep up with a few.
  PgConn watch(node.database_url());
  ASSERT_TRUE(watch.Connect().ok());
  int sends = 0;
  int64_t last_seq = 0;
  std::string last;
  std::mutex mu;
  for (int round = 0; round < 10; ++round) {
    std::vector<std::thread> burst;
    for (int t = 0; t < 8; ++t) {
      burst.emplace_back([&, round, t] {
        HttpClient hc(node.http_port());
        for (int i = 0; i < 5; ++i) {
          std::string body = "before the crash " + std::to_string(round) + "-" + std::to_string(t) + "-" + std::to_string(i);
          auto r = hc.Post("/api/v1/groups/" + G(g) + "/messages", {{"body", body}}, a.token);
          EXPECT_EQ(r.status, 201) << r.body;
          if (r.status != 201) continue;
          std::lock_guard<std::mutex> lock(mu);
          ++sends;
          if (r.json()["seq"].get<int64_t>() > last_seq) {
            last_seq = r.json()["seq"];
            last = r.json()["event_id"];
          }
        }
      });
    }
    for (auto& t : burst) t.join();
    auto behind = watch.Exec(kCursorAndHead);
    ASSERT_TRUE(behind.ok());
    if (behind->is_null(0, 0) || behind->int64(0, 0) < behind->int64(0, 1)) break;
  }
  node.Kill();
  const int kSends = sends;

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
  // Every acknowledged message is in b's one entry of the group: the ones
  // made before the crash and the ones made after the restart.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  json page;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = c2.Get("/api/v1/me/notifications?limit=100", b.token);
    ASSERT_EQ(r.status, 200) << r.body;
    page = r.json();
    if (page["notifications"].size() == 1 && page["notifications"][0]["count"] == kSends) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(page["notifications"].size(), 1u) << page.dump();
  EXPECT_EQ(page["notifications"][0]["count"], kSends) << "a message was lost or counted twice";
  EXPECT_EQ(page["notifications"][0]["event_id"], last);
  EXPECT_EQ(page["unread"], 1);
  EXPECT_EQ(node.Stop(), 0);
}

}  // namespace
}  // namespace gc::test
