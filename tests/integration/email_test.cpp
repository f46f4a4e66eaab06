// Email for missed mentions and replies, against a real node and a real SMTP
// server (Debian's python3-aiosmtpd, tests/harness/smtp_sink.py): one mail
// after delay_s with the message link and an unsubscribe link; nothing when
// the group was read first; several mentions batched into one mail; the
// unsubscribe link (forged and replayed tokens refused); a SIGKILL right
// after the send was acknowledged; the SMTP server down for a while; header
// injection through display names, group titles and bodies; many users at
// once; and the profile's email field.
//
// Mail arrives after delay_s (1 s here) plus the worker's round trips, so
// tests wait for it with a deadline. To show that something was NOT mailed
// they send a later mention that is, wait for that mail, and look at it and
// at everything that arrived (a user's pending mentions are mailed together,
// so the earlier one would be in it or before it).
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "node/common/encoding.h"
#include "tests/harness/harness.h"
#include "tests/harness/smtp_sink.h"
#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kPublicUrl = "https://chat.acme.test";

std::string EmailYaml(const SmtpSink& sink, int delay_s) {
  return "rate_limits:\n  enabled: false\nnotifications:\n  email:\n    smtp_url: \"" + sink.url() +
         "\"\n    from: \"GroupChat <chat@acme.test>\"\n    delay_s: " + std::to_string(delay_s) +
         "\n    public_url: \"" + kPublicUrl + "\"\n";
}

// On `c`'s node: a new user `a` and a group of theirs that a new user `b`,
// with the profile email <b_prefix>@example.test, has joined.
struct MailablePair {
  TestUser a, b;
  std::string group;
};
MailablePair NewMailablePair(HttpClient& c, const char* a_prefix, const char* b_prefix) {
  MailablePair p{RegisterUser(c, a_prefix), RegisterUser(c, b_prefix), ""};
  auto r = c.Patch("/api/v1/me", {{"email", std::string(b_prefix) + "@example.test"}}, p.b.token);
  EXPECT_EQ(r.status, 200) << r.body;
  p.group = CreateGroup(c, p.a.token);
  JoinGroup(c, p.b.token, p.group);
  return p;
}

class EmailTest : public NodeTest {
 protected:
  static void SetUpTestSuite() {
    sink_ = new SmtpSink();
    StartNode(EmailYaml(*sink_, 1));
  }
  static void TearDownTestSuite() {
    NodeTest::TearDownTestSuite();
    delete sink_;
    sink_ = nullptr;
  }

  // A user with a unique address as profile email.
  TestUser MailUser(const char* prefix = "m") {
    TestUser u = RegisterUser(c_, prefix);
    auto r = c_.Patch("/api/v1/me", {{"email", u.name + "@example.test"}}, u.token);
    EXPECT_EQ(r.status, 200) << r.body;
    return u;
  }
  static std::string Addr(const TestUser& u) { return u.name + "@example.test"; }

  std::string GroupWith(const TestUser& owner, std::vector<const TestUser*> members, json extra = json::object()) {
    return NewGroupWith(owner, members, std::move(extra));
  }
  json Mention(const TestUser& from, const std::string& g, const TestUser& to, const std::string& text) {
    return SendMessage(c_, from.token, g, text + " " + to.id);
  }

  // Mails to `addr` so far.
  static std::vector<json> MailsTo(const std::string& addr) {
    std::vector<json> out;
    for (auto& m : sink_->Messages()) {
      for (const auto& r : m["rcpt_tos"]) {
        if (r == addr) out.push_back(m);
      }
    }
    return out;
  }
  // Waits (deadline 20 s) for at least `n` mails to `addr`.
  static std::vector<json> WaitMails(const std::string& addr, size_t n, seconds timeout = seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto got = MailsTo(addr);
      if (got.size() >= n || std::chrono::steady_clock::now() >= deadline) return got;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polled: files from another process
    }
  }
  // The unsubscribe URL of a mail (from its List-Unsubscribe header).
  static std::string UnsubscribeUrl(const json& mail) {
    std::string h = MailHeader(mail, "List-Unsubscribe");
    if (h.size() < 2) return "";
    return h.substr(1, h.size() - 2);
  }
  // The path + query of one of this node's public URLs.
  static std::string LocalPath(const std::string& url) {
    EXPECT_EQ(url.rfind(kPublicUrl, 0), 0u) << url;
    return url.substr(std::string(kPublicUrl).size());
  }

  static inline SmtpSink* sink_ = nullptr;
};

TEST_F(EmailTest, MailsAnUnreadMentionOnceWithItsLinkAndAnUnsubscribeLink) {
  TestUser a = RegisterUser(c_, "ma"), b = MailUser();
  std::string g = GroupWith(a, {&b}, {{"title", "Eng room"}});
  json ev = Mention(a, g, b, "please look at the build");
  auto mails = WaitMails(Addr(b), 1);
  ASSERT_EQ(mails.size(), 1u);
  const json& m = mails[0];
  EXPECT_EQ(m["mail_from"], "chat@acme.test");
  EXPECT_EQ(MailHeader(m, "From"), "GroupChat <chat@acme.test>");
  EXPECT_NE(MailHeader(m, "Subject").find("mentioned you in Eng room"), std::string::npos) << MailHeader(m, "Subject");
  std::string text = m["text"];
  EXPECT_NE(text.find("please look at the build"), std::string::npos) << text;
  std::string link = std::string(kPublicUrl) + "/#/g/" + G(g) + "/e/" + G(ev["event_id"]);
  EXPECT_NE(text.find(link), std::string::npos) << text << "\nwanted " << link;
  std::string unsub = UnsubscribeUrl(m);
  EXPECT_EQ(unsub.rfind(std::string(kPublicUrl) + "/api/v1/email/unsubscribe?token=", 0), 0u) << unsub;
  EXPECT_NE(text.find(unsub), std::string::npos);
  EXPECT_EQ(MailHeader(m, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  // Once: a later mention's mail is the second and last one.
  Mention(a, g, b, "second");
  auto after = WaitMails(Addr(b), 2);
  ASSERT_EQ(after.size(), 2u);
  std::string second = after[1]["text"];
  EXPECT_EQ(second.find("please look at the build"), std::string::npos) << second;
}

TEST_F(EmailTest, ReadingTheGroupBeforeTheDelayCancelsTheMail) {
  TestUser a = RegisterUser(c_, "ma"), b = MailUser();
  std::string g = GroupWith(a, {&b});
  json first = Mention(a, g, b, "read me quickly");
  ASSERT_EQ(c_.Post("/api/v1/groups/" + G(g) + "/read", {{"seq", first["seq"]}}, b.token).status, 200);
  // Also through the inbox: a reply read with POST /me/notifications/read.
  TestUser d = MailUser();
  std::string g2 = GroupWith(d, {&a});
  json own = SendMessage(c_, d.token, g2, "my question");
  SendMessage(c_, a.token, g2, "an answer", {{"reply_to", own["event_id"]}});
  json inbox;
  for (int i = 0; i < 200; ++i) {  // the entry is made by the worker after the 201
    inbox = c_.Get("/api/v1/me/notifications", d.token).json();
    if (!inbox["notifications"].empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_FALSE(inbox["notifications"].empty());
  int64_t id = inbox["notifications"][0]["notification_id"];
  ASSERT_EQ(c_.Post("/api/v1/me/notifications/read", {{"up_to", id}}, d.token).status, 200);

  Mention(a, g, b, "this one stays unread");
  SendMessage(c_, a.token, g2, "late " + d.id);
  auto mb = WaitMails(Addr(b), 1), md = WaitMails(Addr(d), 1);
  ASSERT_EQ(mb.size(), 1u);
  ASSERT_EQ(md.size(), 1u);
  EXPECT_EQ(mb[0]["text"].get<std::string>().find("read me quickly"), std::string::npos) << mb[0]["text"];
  EXPECT_NE(mb[0]["text"].get<std::string>().find("this one stays unread"), std::string::npos);
  EXPECT_EQ(md[0]["text"].get<std::string>().find("an answer"), std::string::npos) << md[0]["text"];
}

TEST_F(EmailTest, BatchesSeveralMentionsIntoOneMail) {
  TestUser a = RegisterUser(c_, "ma"), b = MailUser();
  std::string g = GroupWith(a, {&b});
  // The SMTP server is away until both entries exist, so that however slow
  // this machine is, the first cannot be mailed alone before the second is
  // made (its failed attempt is retried with both).
  int port = sink_->port();
  sink_->Stop();
  Mention(a, g, b, "first ping");
  SendMessage(c_, b.token, g, "hello");
  json mine = SendMessage(c_, b.token, g, "a question of mine");
  SendMessage(c_, a.token, g, "an answer to it", {{"reply_to", mine["event_id"]}});
  for (int i = 0; i < 400; ++i) {  // deadline 20 s: the entries are made by the worker after the 201s
    if (c_.Get("/api/v1/me/notifications", b.token).json()["unread"] >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  sink_->Start(port);
  auto mails = WaitMails(Addr(b), 1);
  ASSERT_EQ(mails.size(), 1u);
  std::string text = mails[0]["text"];
  EXPECT_NE(text.find("first ping"), std::string::npos) << text;
  EXPECT_NE(text.find("an answer to it"), std::string::npos) << text;
  EXPECT_NE(text.find("replied to you"), std::string::npos) << text;
  EXPECT_EQ(MailHeader(mails[0], "Subject"), "2 unread mentions and replies on acme.test");
  // No second mail follows for the same two.
  Mention(a, g, b, "marker");
  auto after = WaitMails(Addr(b), 2);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1]["text"].get<std::string>().find("first ping"), std::string::npos);
}

TEST_F(EmailTest, UnsubscribeLinkTurnsEmailOffAndRefusesForgedAndReplayedTokens) {
  TestUser a = RegisterUser(c_, "ma"), b = MailUser();
  std::string g = GroupWith(a, {&b});
  Mention(a, g, b, "hi");
  auto mails = WaitMails(Addr(b), 1);
  ASSERT_EQ(mails.size(), 1u);
  std::string path = LocalPath(UnsubscribeUrl(mails[0]));
  std::string token = path.substr(path.find("token=") + 6);
  HttpClient anon(node_->http_port());
  // The link's page changes nothing (mail scanners follow links).
  auto page = anon.Get(path);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<form method=\"post\""), std::string::npos) << page.body;
  EXPECT_EQ(c_.Get("/api/v1/me/email-notifications", b.token).json()["enabled"], true);
  // Forged: another user's id under this signature, a changed signature, junk.
  std::string other = Base64Url(a.id) + token.substr(token.find('.'));
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  for (const std::string& bad : {other, flipped, std::string("nonsense"), std::string("")}) {
    auto r = anon.PostRaw("/api/v1/email/unsubscribe?token=" + bad, "", "text/plain");
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_request");
  }
  EXPECT_EQ(c_.Get("/api/v1/me/email-notifications", b.token).json()["enabled"], true);
  // One-click (RFC 8058): POST with the form body, no login.
  auto done = anon.PostRaw(path, "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded");
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(c_.Get("/api/v1/me/email-notifications", b.token).json()["enabled"], false);
  // Replayed: the same link again.
  auto again = anon.PostRaw(path, "", "text/plain");
  EXPECT_EQ(again.status, 409) << again.body;
  // Email is off: a new mention is not mailed. Then the user turns it back on,
  // and the old link still does not work.
  Mention(a, g, b, "while unsubscribed");
  ASSERT_EQ(c_.Put("/api/v1/me/email-notifications", {{"enabled", true}}, b.token).status, 200);
  EXPECT_EQ(anon.PostRaw(path, "", "text/plain").status, 409);
  Mention(a, g, b, "after resubscribing");
  auto after = WaitMails(Addr(b), 2);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1]["text"].get<std::string>().find("while unsubscribed"), std::string::npos) << after[1]["text"];
  EXPECT_NE(after[1]["text"].get<std::string>().find("after resubscribing"), std::string::npos);
  EXPECT_NE(UnsubscribeUrl(after[1]), UnsubscribeUrl(mails[0]));
  // Bad input to the settings.
  EXPECT_EQ(c_.Put("/api/v1/me/email-notifications", {{"enabled", "yes"}}, b.token).status, 400);
  EXPECT_EQ(c_.Put("/api/v1/me/email-notifications", json::object(), b.token).status, 400);
  EXPECT_EQ(anon.Get("/api/v1/me/email-notifications").status, 401);
}

TEST_F(EmailTest, NoHeaderCanBeInjectedThroughNamesTitlesOrBodies) {
  TestUser a = RegisterUser(c_, "ma"), b = MailUser();
  // Display names refuse control characters; titles and bodies carry them.
  EXPECT_EQ(c_.Patch("/api/v1/me", {{"display_name", "Eve\r\nBcc: victim@example.test"}}, a.token).status, 400);
  ASSERT_EQ(c_.Patch("/api/v1/me", {{"display_name", "Ève Ünïcode"}}, a.token).status, 200);
  EXPECT_EQ(c_.Post("/api/v1/groups", {{"name", UniqueName("mx")}, {"title", "Room\r\nBcc: victim@example.test"}},
                    a.token).status, 400);
  std::string g = GroupWith(a, {&b}, {{"title", "Räum: Bcc <victim@example.test>"}});
  Mention(a, g, b, "body\r\n.\r\nMAIL FROM:<x@example.test>\r\nBcc: victim@example.test\r\n\r\nend");
  auto mails = WaitMails(Addr(b), 1);
  ASSERT_EQ(mails.size(), 1u);
  const json& m = mails[0];
  EXPECT_EQ(m["rcpt_tos"], json::array({Addr(b)}));
  std::string raw = m["raw_headers"];
  EXPECT_EQ(raw.find("\nBcc:"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("\nX-Evil:"), std::string::npos) << raw;
  EXPECT_EQ(MailHeader(m, "Bcc"), "");
  for (char ch : raw) EXPECT_TRUE(ch == '\r' || ch == '\n' || (ch >= 0x20 && ch < 0x7f)) << "raw header byte " << int(ch);
  EXPECT_EQ(MailHeader(m, "Subject"), "Ève Ünïcode mentioned you in Räum: Bcc <victim@example.test>");
  EXPECT_NE(m["text"].get<std::string>().find("MAIL FROM:<x@example.test>"), std::string::npos);
  // The profile refuses addresses that would add recipients or headers.
  for (const char* bad : {"a@b.test\r\nBcc: c@d.test", "a@b.test, c@d.test", "<a@b.test>", "nobody", "a@b",
                          "a@@b.test", "a b@c.test"}) {
    auto r = c_.Patch("/api/v1/me", {{"email", bad}}, b.token);
    EXPECT_EQ(r.status, 400) << bad;
  }
}

TEST_F(EmailTest, EmailIsPrivateToTheUserAndAdmins) {
  TestUser b = MailUser(), other = RegisterUser(c_, "mo");
  EXPECT_EQ(c_.Get("/api/v1/me", b.token).json()["email"], Addr(b));
  auto pub = c_.Get("/api/v1/users/" + G(b.id), other.token);
  EXPECT_EQ(pub.status, 200);
  EXPECT_FALSE(pub.json().contains("email")) << pub.body;
  std::string admin = CreateAdmin(*node_, UniqueName("madm"), kTestPassword);
  auto seen = c_.Get("/api/v1/admin/users/" + G(b.id), admin);
  EXPECT_EQ(seen.json()["email"], Addr(b)) << seen.body;
  // Cleared with null.
  EXPECT_EQ(c_.Patch("/api/v1/me", {{"email", nullptr}}, b.token).json()["email"], nullptr);
  EXPECT_EQ(c_.Patch("/api/v1/me", {{"email", 42}}, b.token).status, 400);
}

TEST_F(EmailTest, ManyUsersMentionedAtOnceGetOneMailEach) {
  TestUser a = RegisterUser(c_, "ma");
  std::vector<TestUser> users;
  for (int i = 0; i < 12; ++i) users.push_back(MailUser("mn"));
  std::vector<const TestUser*> ptrs;
  for (auto& u : users) ptrs.push_back(&u);
  std::string g = GroupWith(a, ptrs);
  std::string body = "all hands:";
  for (auto& u : users) body += " " + u.id;
  SendMessage(c_, a.token, g, body);
  // And from several threads at once, one mention each in another group.
  std::string g2 = GroupWith(a, ptrs);
  std::vector<std::thread> threads;
  for (auto& u : users) {
    threads.emplace_back([&, port = node_->http_port()] {
      HttpClient c(port);
      auto r = c.Post("/api/v1/groups/" + G(g2) + "/messages", {{"body", "solo " + u.id}}, a.token);
      EXPECT_EQ(r.status, 201) << r.body;
    });
  }
  for (auto& t : threads) t.join();
  for (auto& u : users) {
    auto mails = WaitMails(Addr(u), 1);
    ASSERT_GE(mails.size(), 1u) << u.id;
    std::string all;
    for (auto& m : mails) all += m["text"].get<std::string>();
    EXPECT_NE(all.find("all hands:"), std::string::npos) << all;
    EXPECT_NE(all.find("solo " + u.id), std::string::npos) << all;
    EXPECT_LE(mails.size(), 2u);  // batched: one mail, or two if the second group's mention came after the first mail
  }
}

TEST(EmailDurability, MentionAcknowledgedBeforeSigkillIsStillMailedOnce) {
  SmtpSink sink;
  auto node = StartNodeWith(EmailYaml(sink, 1));
  HttpClient c(node->http_port());
  auto [a, b, g] = NewMailablePair(c, "ka", "kb");
  SendMessage(c, a.token, g, "before the crash " + b.id);  // 201 received
  node->Kill();
  node->Start();
  auto mails = sink.WaitFor(1, std::chrono::seconds(20));
  ASSERT_EQ(mails.size(), 1u) << node->LogText();
  EXPECT_NE(mails[0]["text"].get<std::string>().find("before the crash"), std::string::npos);
  // Not twice: a later mention makes the second and last mail.
  HttpClient c2(node->http_port());
  SendMessage(c2, a.token, g, "after " + b.id);
  auto more = sink.WaitFor(2, std::chrono::seconds(20));
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[1]["text"].get<std::string>().find("before the crash"), std::string::npos);
  EXPECT_EQ(node->Stop(), 0);
}

TEST(EmailDurability, SmtpServerDownIsRetriedLaterAndTheNodeKeepsServing) {
  SmtpSink sink;
  int port = sink.port();
  auto node = StartNodeWith(EmailYaml(sink, 0));
  HttpClient c(node->http_port());
  auto [a, b, g] = NewMailablePair(c, "da", "db");
  sink.Stop();
  SendMessage(c, a.token, g, "while the server is down " + b.id);
  // Wait until the node has tried and failed at least once.
  bool failed = false;
  for (int i = 0; i < 400 && !failed; ++i) {  // deadline 20 s: the failure is a metric
    failed = c.Get("/metrics").body.find("groupchat_email_failed_total 0\n") == std::string::npos;
    if (!failed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(failed) << node->LogText();
  EXPECT_EQ(c.Get("/healthz").status, 200);
  sink.Start(port);
  auto mails = sink.WaitFor(1, std::chrono::seconds(30));
  ASSERT_EQ(mails.size(), 1u) << node->LogText();
  EXPECT_NE(mails[0]["text"].get<std::string>().find("while the server is down"), std::string::npos);
  EXPECT_EQ(node->Stop(), 0);
}

}  // namespace
}  // namespace gc::test
