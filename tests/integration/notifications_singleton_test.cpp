// Several processes, one node: the notification worker, the pushers and the
// email sender run in exactly one of them (a PostgreSQL advisory lock,
// node/db/singleton_lock.h), and move to another process when that one
// dies. Two real node processes share one database and the node's keys; a real
// SMTP server (python3-aiosmtpd) counts the mails: without the lock both
// processes would mail every due mention.
//
// Only the first process takes sends: a process's group log allocates
// stream positions from what it read at start (sending through both is not
// supported yet), so the second process is here for the singleton work.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "node/db/pg.h"
#include "tests/harness/harness.h"
#include "tests/harness/smtp_sink.h"
#include "tests/support/api.h"

namespace gc::test {
namespace {

using nlohmann::json;

GC_SQL(kSingletonDiag,
       "SELECT (SELECT json_agg(p) FROM email_pending p)::text, (SELECT notification_id FROM email_cursor)::text,"
       " (SELECT max(id) FROM notifications)::text, (SELECT json_agg(r) FROM email_retry r)::text");

// What the email tables hold, for failure messages.
std::string EmailState(const std::string& conninfo) {
  PgConn c(conninfo);
  if (!c.Connect().ok()) return "(no database)";
  auto r = c.Exec(kSingletonDiag);
  if (!r.ok()) return r.error().message;
  return "pending " + r->text(0, 0) + " cursor " + r->text(0, 1) + " max notification " + r->text(0, 2) + " retry " +
         r->text(0, 3);
}

bool HoldsLock(const NodeProcess& n) {
  return n.Client().Get("/metrics").body.find("groupchat_notifications_singleton_held 1\n") != std::string::npos;
}

// Polls `ok` every 50 ms until it holds or `timeout` passes.
template <typename F>
bool WaitUntil(F ok, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ok()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polled: another process's state
  }
  return true;
}

size_t CountTo(const std::vector<json>& mails, const std::string& addr) {
  size_t n = 0;
  for (const auto& m : mails) {
    for (const auto& r : m["rcpt_tos"]) n += r == addr;
  }
  return n;
}

TEST(NotificationSingleton, OneProcessMailsAndAnotherTakesOverAfterSigkill) {
  SmtpSink sink;
  std::string yaml = "rate_limits:\n  enabled: false\nnotifications:\n  email:\n    smtp_url: \"" + sink.url() +
                     "\"\n    from: \"chat@acme.test\"\n    delay_s: 3\n";
  NodeOptions a_options;
  a_options.extra_yaml = yaml;
  NodeProcess a(a_options);
  a.Start();
  // The same node: same database, same keys (a data dir is one process's:
  // node.lock), so B gets a copy of A's keys.
  NodeOptions b_options;
  b_options.extra_yaml = yaml + "database:\n  url: \"" + a.database_url() + "\"\n";
  NodeProcess b(b_options);
  std::filesystem::create_directories(b.data_dir());
  std::filesystem::copy(a.data_dir() + "/keys", b.data_dir() + "/keys", std::filesystem::copy_options::recursive);
  b.Start();
  ASSERT_TRUE(HoldsLock(a));
  EXPECT_FALSE(HoldsLock(b));

  HttpClient c(a.http_port());
  TestUser sender = RegisterUser(c, "sa");
  std::vector<TestUser> first, second;
  for (int i = 0; i < 5; ++i) first.push_back(RegisterUser(c, "sf"));
  for (int i = 0; i < 3; ++i) second.push_back(RegisterUser(c, "ss"));
  std::string g = CreateGroup(c, sender.token);
  for (auto* list : {&first, &second}) {
    for (auto& u : *list) {
      ASSERT_EQ(c.Patch("/api/v1/me", {{"email", u.name + "@example.test"}}, u.token).status, 200);
      ASSERT_EQ(c.Post("/api/v1/groups/" + G(g) + "/join", json::object(), u.token).status, 200);
    }
  }

  // Both processes run; each mention is mailed once.
  for (auto& u : first) SendMessage(c, sender.token, g, "first round " + u.id);
  auto mails = sink.WaitFor(first.size(), std::chrono::seconds(30));
  ASSERT_EQ(mails.size(), first.size());

  // Mentions made (in the inbox, so owed durably) but not yet due; then the
  // process holding the lock dies.
  for (auto& u : second) {
    std::string ev = SendMessage(c, sender.token, g, "second round " + u.id)["event_id"];
    ASSERT_TRUE(WaitUntil(
        [&] {
          json inbox = c.Get("/api/v1/me/notifications", u.token).json();
          for (const auto& n : inbox["notifications"]) {
            if (n["event_id"] == ev) return true;
          }
          return false;
        },
        std::chrono::seconds(10)))
        << "event " << ev << "\ninbox " << c.Get("/api/v1/me/notifications", u.token).body;
  }
  a.Kill();
  auto died = std::chrono::steady_clock::now();
  // PostgreSQL releases the lock when the dead process's connection closes;
  // the survivor tries every second (the contract allows 10 s; the deadline
  // here is generous so that a loaded machine does not fail the test).
  ASSERT_TRUE(WaitUntil([&] { return HoldsLock(b); }, std::chrono::seconds(30))) << b.LogText();
  RecordProperty("takeover_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::steady_clock::now() - died).count()));

  mails = sink.WaitFor(first.size() + second.size(), std::chrono::seconds(30));
  std::string to;
  for (const auto& m : mails) to += m["rcpt_tos"].dump() + " ";
  ASSERT_EQ(mails.size(), first.size() + second.size())
      << EmailState(a.database_url()) << "\nmailed to " << to << "\nA:\n" << a.LogText() << "\nB:\n" << b.LogText();
  for (auto* list : {&first, &second}) {
    for (auto& u : *list) EXPECT_EQ(CountTo(mails, u.name + "@example.test"), 1u) << u.id;
  }
  EXPECT_EQ(b.Stop(), 0);
}

}  // namespace
}  // namespace gc::test
