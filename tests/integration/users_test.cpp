// The user service end to end: a real node on a real PostgreSQL, driven over
// HTTP. Scenarios: registration (open, invite, closed), login, logout,
// profiles, sessions, deactivation, and the bad input each endpoint must
// refuse with a clear 4xx while the node keeps serving.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "node/db/pg.h"
#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;


class UsersTest : public NodeTest {
 protected:
  static void SetUpTestSuite() {
    StartNode(kNoRateLimits);
    // An admin, created the way an operator would.
    admin_token_ = CreateAdmin(*node_, "root", "rootpassword");
    ASSERT_FALSE(admin_token_.empty());
  }
  TestUser Register(const std::string& name, const std::string& password = kTestPassword) {
    return RegisterAs(c_, name, password);
  }

  static inline std::string admin_token_;
};

TEST_F(UsersTest, RegisterLoginMeLogout) {
  std::string name = UniqueName("alice");
  auto reg = c_.Post("/api/v1/auth/register",
                          {{"username", name}, {"password", "correct horse"}, {"display_name", "Alice A."}});
  ASSERT_EQ(reg.status, 201) << reg.body;
  EXPECT_EQ(reg.json()["user_id"], "@" + name + ":acme.test");
  std::string token = reg.json()["access_token"];
  EXPECT_EQ(token.rfind("gct_", 0), 0u);
  EXPECT_EQ(token.size(), 4u + 43u);  // 256 bits, base64url

  auto me = c_.Get("/api/v1/me", token);
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.json()["user_id"], "@" + name + ":acme.test");
  EXPECT_EQ(me.json()["display_name"], "Alice A.");
  EXPECT_EQ(me.json()["is_admin"], false);
  EXPECT_TRUE(me.json().contains("avatar_media_id"));

  auto login = c_.Post("/api/v1/auth/login", {{"username", name}, {"password", "correct horse"}});
  ASSERT_EQ(login.status, 200);
  std::string token2 = login.json()["access_token"];
  EXPECT_NE(token, token2);

  EXPECT_EQ(c_.Post("/api/v1/auth/logout", nullptr, token).status, 204);
  EXPECT_EQ(c_.Get("/api/v1/me", token).status, 401);
  EXPECT_EQ(c_.Get("/api/v1/me", token2).status, 200);  // other sessions live on
}

TEST_F(UsersTest, UsernamesAreCaseInsensitiveAndUnique) {
  std::string name = UniqueName("bob");
  Register(name);
  std::string upper = name;
  for (auto& c : upper) c = static_cast<char>(toupper(c));
  auto dup = c_.Post("/api/v1/auth/register", {{"username", upper}, {"password", "correct horse"}});
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(ErrorCode(dup), "conflict");
  EXPECT_EQ(dup.json()["error"]["reason"], "username_taken");
  auto login = c_.Post("/api/v1/auth/login", {{"username", upper}, {"password", "correct horse"}});
  EXPECT_EQ(login.status, 200);
  auto full = c_.Post("/api/v1/auth/login", {{"username", "@" + name + ":acme.test"}, {"password", "correct horse"}});
  EXPECT_EQ(full.status, 200);
}

TEST_F(UsersTest, WrongPasswordAndUnknownUserLookTheSame) {
  std::string name = UniqueName("carol");
  Register(name);
  auto wrong = c_.Post("/api/v1/auth/login", {{"username", name}, {"password", "not the password"}});
  auto unknown = c_.Post("/api/v1/auth/login", {{"username", UniqueName("nobody")}, {"password", "whatever1"}});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.body, unknown.body);
}

TEST_F(UsersTest, RegistrationRejectsBadInput) {
  struct Case {
    std::string body;
    int status;
  };
  std::vector<Case> cases = {
      {R"({"username":"x y","password":"correct horse"})", 400},
      {R"({"username":"","password":"correct horse"})", 400},
      {R"({"username":"shortpw","password":"1234567"})", 400},
      {R"({"username":"robert'); DROP TABLE users;--","password":"correct horse"})", 400},
      {R"({"username":42,"password":"correct horse"})", 400},
      {R"({"username":"nopw"})", 400},
      {R"({"password":"correct horse"})", 400},
      {R"({"username":"a","password":"correct horse","display_name":7})", 400},
      {R"({"username":"ctrl","password":"correct horse","display_name":"a\u0000b"})", 400},
      {R"({"username":"trunc","password":"corr)", 400},
      {R"(["username","password"])", 400},
      {R"(null)", 400},
      {"", 400},
      {"\xff\xfe garbage", 400},
      {R"({"username":"ümlaut","password":"correct horse"})", 400},
  };
  cases.push_back({R"({"username":")" + std::string(65, 'a') + R"(","password":"correct horse"})", 400});
  cases.push_back({R"({"username":"longpw","password":")" + std::string(1025, 'p') + R"("})", 400});
  for (const auto& c : cases) {
    auto r = c_.Request("POST", "/api/v1/auth/register", c.body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    if (r.status == 400) {
      EXPECT_EQ(ErrorCode(r), "invalid_request") << c.body;
      EXPECT_FALSE(r.json()["error"]["message"].get<std::string>().empty());
    }
  }
  // The SQL-looking name did not break anything: the users table is intact.
  Register(UniqueName("after"));
}

TEST_F(UsersTest, MalformedJsonSaysWhatIsWrong) {
  auto r = c_.Request("POST", "/api/v1/auth/login", R"({"username": "a", )", {});
  ASSERT_EQ(r.status, 400);
  std::string msg = r.json()["error"]["message"];
  EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << msg;
}

TEST_F(UsersTest, UnicodeDisplayNames) {
  auto a = Register(UniqueName("uni"));
  std::string name = "Zoë 🚀 נועה 日本";
  auto r = c_.Patch("/api/v1/me", {{"display_name", name}}, a.token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["display_name"], name);
  EXPECT_EQ(c_.Get("/api/v1/me", a.token).json()["display_name"], name);
  std::string max;
  for (int i = 0; i < 256; ++i) max += "é";
  EXPECT_EQ(c_.Patch("/api/v1/me", {{"display_name", max}}, a.token).status, 200);
  EXPECT_EQ(c_.Patch("/api/v1/me", {{"display_name", max + "e"}}, a.token).status, 400);
  EXPECT_EQ(c_.Patch("/api/v1/me", {{"display_name", "line\nbreak"}}, a.token).status, 400);
  EXPECT_EQ(c_.Patch("/api/v1/me", {{"display_name", nullptr}}, a.token).status, 400);
  EXPECT_EQ(c_.Patch("/api/v1/me", {{"display_name", 5}}, a.token).status, 400);
  EXPECT_EQ(c_.Patch("/api/v1/me", json::object(), a.token).status, 400);
  // Invalid UTF-8 never gets past the JSON parser.
  auto bad = c_.Request("PATCH", "/api/v1/me", "{\"display_name\":\"\xc3\x28\"}",
                             {{"Authorization", "Bearer " + a.token}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(c_.Get("/api/v1/me", a.token).json()["display_name"], max);
}

TEST_F(UsersTest, PublicProfiles) {
  auto a = Register(UniqueName("pub"));
  auto b = Register(UniqueName("viewer"));
  c_.Patch("/api/v1/me", {{"display_name", "Pub Lic"}}, a.token);
  auto r = c_.Get("/api/v1/users/" + std::string("%40") + a.name + "%3Aacme.test", b.token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["display_name"], "Pub Lic");
  EXPECT_FALSE(r.json().contains("is_admin"));
  EXPECT_EQ(c_.Get("/api/v1/users/%40nobody-here%3Aacme.test", b.token).status, 404);
  // A user of another node is asked of that node; this one cannot be reached.
  auto remote = c_.Get("/api/v1/users/%40x%3Aother.test", b.token);
  EXPECT_EQ(remote.status, 503) << remote.body;
  EXPECT_EQ(remote.json()["error"]["code"], "unavailable");
  EXPECT_EQ(c_.Get("/api/v1/users/%zz", b.token).status, 400);
  EXPECT_EQ(c_.Get("/api/v1/users/%40" + a.name + "%3Aacme.test").status, 401);
}

TEST_F(UsersTest, SessionsCanBeListedAndRevoked) {
  auto a = Register(UniqueName("sess"));
  auto second = c_.Request("POST", "/api/v1/auth/login",
                                json{{"username", a.name}, {"password", "correct horse"}}.dump(),
                                {{"User-Agent", "phone-app/1.0"}});
  ASSERT_EQ(second.status, 200);
  std::string token2 = second.json()["access_token"];
  auto list = c_.Get("/api/v1/me/sessions", a.token);
  ASSERT_EQ(list.status, 200);
  auto sessions = list.json()["sessions"];
  ASSERT_EQ(sessions.size(), 2u);
  int64_t other = 0;
  int current = 0;
  for (auto& s : sessions) {
    if (s["current"] == true) ++current;
    else other = s["session_id"];
    EXPECT_EQ(s["ip"], "127.0.0.1");
  }
  EXPECT_EQ(current, 1);
  ASSERT_NE(other, 0);
  EXPECT_EQ(c_.Get("/api/v1/me", token2).status, 200);  // cached now
  EXPECT_EQ(c_.Delete("/api/v1/me/sessions/" + std::to_string(other), a.token).status, 204);
  // Revoked: fails on the very next request even though it was cached.
  EXPECT_EQ(c_.Get("/api/v1/me", token2).status, 401);
  EXPECT_EQ(c_.Delete("/api/v1/me/sessions/" + std::to_string(other), a.token).status, 404);
  EXPECT_EQ(c_.Delete("/api/v1/me/sessions/abc", a.token).status, 400);
  EXPECT_EQ(c_.Delete("/api/v1/me/sessions/-1", a.token).status, 400);
  EXPECT_EQ(c_.Delete("/api/v1/me/sessions/99999999999999999999", a.token).status, 400);
  // Someone else's session is not found, not revoked.
  auto b = Register(UniqueName("other"));
  auto blist = c_.Get("/api/v1/me/sessions", b.token).json()["sessions"];
  int64_t bsession = blist[0]["session_id"];
  EXPECT_EQ(c_.Delete("/api/v1/me/sessions/" + std::to_string(bsession), a.token).status, 404);
  EXPECT_EQ(c_.Get("/api/v1/me", b.token).status, 200);
}

TEST_F(UsersTest, MissingInvalidAndMalformedTokens) {
  auto r = c_.Get("/api/v1/me");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r), "unauthorized");
  EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  EXPECT_EQ(c_.Get("/api/v1/me", "gct_not-a-real-token").status, 401);
  EXPECT_EQ(c_.Get("/api/v1/me", std::string(5000, 'a')).status, 401);
  EXPECT_EQ(c_.Request("GET", "/api/v1/me", "", {{"Authorization", "Basic dXNlcjpwYXNz"}}).status, 401);
  EXPECT_EQ(c_.Request("GET", "/api/v1/me", "", {{"Authorization", "Bearer"}}).status, 401);
  EXPECT_EQ(c_.Request("GET", "/api/v1/me", "", {{"Authorization", "Bearer ' OR '1'='1"}}).status, 401);
}

TEST_F(UsersTest, DeactivatedUserIsLockedOutAtOnce) {
  auto a = Register(UniqueName("gone"));
  EXPECT_EQ(c_.Get("/api/v1/me", a.token).status, 200);  // in the cache
  auto r = c_.Post("/api/v1/admin/users/" + a.id + "/deactivate", nullptr, admin_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(c_.Get("/api/v1/me", a.token).status, 401);
  auto login = c_.Post("/api/v1/auth/login", {{"username", a.name}, {"password", "correct horse"}});
  EXPECT_EQ(login.status, 401);
  // Reactivation lets them log in again, but old sessions stay dead.
  ASSERT_EQ(c_.Post("/api/v1/admin/users/" + a.id + "/reactivate", nullptr, admin_token_).status, 200);
  EXPECT_EQ(c_.Get("/api/v1/me", a.token).status, 401);
  EXPECT_EQ(c_.Post("/api/v1/auth/login", {{"username", a.name}, {"password", "correct horse"}}).status, 200);
}

TEST_F(UsersTest, AdminRoutesRefuseNonAdmins) {
  auto a = Register(UniqueName("pleb"));
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v1/admin/users"},
           {"POST", "/api/v1/admin/users/@root:acme.test/deactivate"},
           {"POST", "/api/v1/admin/users/@root:acme.test/reactivate"},
           {"GET", "/api/v1/admin/invites"},
           {"POST", "/api/v1/admin/invites"},
           {"DELETE", "/api/v1/admin/invites/x"},
           {"GET", "/api/v1/admin/registration"},
           {"PUT", "/api/v1/admin/registration"}}) {
    auto r = c_.Request(method, path, "{}", {{"Authorization", "Bearer " + a.token}});
    EXPECT_EQ(r.status, 403) << method << " " << path;
    EXPECT_EQ(ErrorCode(r), "forbidden");
    EXPECT_EQ(c_.Request(method, path, "{}", {}).status, 401) << method << " " << path;
  }
  EXPECT_EQ(c_.Get("/api/v1/me", admin_token_).status, 200);  // root still fine
}

TEST_F(UsersTest, AdminSearchesUsers) {
  std::string name = UniqueName("findme");
  Register(name);
  auto r = c_.Get("/api/v1/admin/users?q=" + name, admin_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json()["users"].size(), 1u);
  EXPECT_EQ(r.json()["users"][0]["user_id"], "@" + name + ":acme.test");
  EXPECT_EQ(r.json()["total"], 1);
  EXPECT_EQ(c_.Get("/api/v1/admin/users?limit=0", admin_token_).status, 400);
  EXPECT_EQ(c_.Get("/api/v1/admin/users?limit=abc", admin_token_).status, 400);
  EXPECT_EQ(c_.Get("/api/v1/admin/users?q=%25_%27", admin_token_).status, 200);
}

// Registration modes, on a node of its own (they are node-wide state).
TEST(Registration, InviteOnlyAndClosed) {
  auto started = StartNodeWith("registration:\n  mode: invite\nrate_limits:\n  enabled: false\n");
  NodeProcess& node = *started;
  HttpClient c = node.Client();
  auto none = c.Post("/api/v1/auth/register", {{"username", "ivan"}, {"password", "correct horse"}});
  EXPECT_EQ(none.status, 403);
  EXPECT_EQ(none.json()["error"]["reason"], "invite_required");
  auto bogus = c.Post("/api/v1/auth/register",
                      {{"username", "ivan"}, {"password", "correct horse"}, {"invite_token", "bogus"}});
  EXPECT_EQ(bogus.status, 403);
  EXPECT_EQ(bogus.json()["error"]["reason"], "invite_invalid");

  // An invite from the command line, good for one use.
  auto cli = node.Cli({"admin", "create-invite", "--uses", "1"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  std::string token = cli.out.substr(0, cli.out.find('\n'));
  auto ok = c.Post("/api/v1/auth/register",
                   {{"username", "ivan"}, {"password", "correct horse"}, {"invite_token", token}});
  EXPECT_EQ(ok.status, 201) << ok.body;
  auto used = c.Post("/api/v1/auth/register",
                     {{"username", "ivan2"}, {"password", "correct horse"}, {"invite_token", token}});
  EXPECT_EQ(used.status, 403);

  // The admin API makes invites too, and can revoke them and switch modes.
  ASSERT_EQ(node.Cli({"admin", "create-user", "--username", "boss", "--password-file", "-", "--admin"},
                     "bosspassword\n").exit_code, 0);
  std::string admin = c.Post("/api/v1/auth/login", {{"username", "boss"}, {"password", "bosspassword"}})
                          .json()["access_token"];
  auto inv = c.Post("/api/v1/admin/invites", {{"uses", 5}}, admin);
  ASSERT_EQ(inv.status, 201) << inv.body;
  std::string t2 = inv.json()["token"];
  EXPECT_EQ(c.Post("/api/v1/admin/invites", {{"uses", 0}}, admin).status, 400);
  EXPECT_EQ(c.Post("/api/v1/admin/invites", {{"uses", "many"}}, admin).status, 400);
  EXPECT_EQ(c.Delete("/api/v1/admin/invites/" + t2, admin).status, 204);
  EXPECT_EQ(c.Post("/api/v1/auth/register",
                   {{"username", "jane"}, {"password", "correct horse"}, {"invite_token", t2}}).status,
            403);
  auto list = c.Get("/api/v1/admin/invites", admin);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json()["invites"].size(), 2u);

  ASSERT_EQ(c.Put("/api/v1/admin/registration", {{"mode", "closed"}}, admin).status, 200);
  EXPECT_EQ(c.Put("/api/v1/admin/registration", {{"mode", "sometimes"}}, admin).status, 400);
  auto closed = c.Post("/api/v1/auth/register", {{"username", "kim"}, {"password", "correct horse"}});
  EXPECT_EQ(closed.status, 403);
  EXPECT_EQ(closed.json()["error"]["reason"], "registration_closed");
  ASSERT_EQ(c.Put("/api/v1/admin/registration", {{"mode", "open"}}, admin).status, 200);
  EXPECT_EQ(c.Post("/api/v1/auth/register", {{"username", "kim"}, {"password", "correct horse"}}).status, 201);
  EXPECT_EQ(node.Stop(), 0);
}

// Rate limits, on a node with small buckets.
TEST(RateLimits, LoginAndRequestBucketsTrip) {
  auto started = StartNodeWith(
      "rate_limits:\n  enabled: true\n  login_per_username: {rate: 0.01, burst: 3}\n"
      "  login_per_ip: {rate: 0.01, burst: 6}\n  per_user: {rate: 0.01, burst: 5}\n"
      "  register_per_ip: {rate: 0.01, burst: 3}\n  per_ip: {rate: 1000, burst: 1000}\n");
  NodeProcess& node = *started;
  HttpClient c = node.Client();
  auto reg = c.Post("/api/v1/auth/register", {{"username", "rita"}, {"password", "correct horse"}});
  ASSERT_EQ(reg.status, 201);
  std::string token = reg.json()["access_token"];
  // Per-username login bucket: 3 tries, then 429 with Retry-After, even with
  // the right password.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.Post("/api/v1/auth/login", {{"username", "rita"}, {"password", "wrong pass"}}).status, 401);
  }
  auto limited = c.Post("/api/v1/auth/login", {{"username", "RITA"}, {"password", "correct horse"}});
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.json()["error"]["code"], "rate_limited");
  EXPECT_GE(std::stoi(limited.header("retry-after")), 1);
  // Per-IP login bucket: other usernames from the same IP run out too.
  int statuses429 = 0;
  for (int i = 0; i < 4; ++i) {
    if (c.Post("/api/v1/auth/login", {{"username", "u" + std::to_string(i)}, {"password", "x12345678"}}).status == 429)
      ++statuses429;
  }
  EXPECT_GE(statuses429, 1);
  // Per-user request bucket.
  int ok = 0, limited_user = 0;
  for (int i = 0; i < 8; ++i) {
    int s = c.Get("/api/v1/me", token).status;
    if (s == 200) ++ok;
    if (s == 429) ++limited_user;
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(limited_user, 3);
  // Registration per IP: 1 used above, 2 more, then 429.
  EXPECT_EQ(c.Post("/api/v1/auth/register", {{"username", "s1"}, {"password", "correct horse"}}).status, 201);
  EXPECT_EQ(c.Post("/api/v1/auth/register", {{"username", "s2"}, {"password", "correct horse"}}).status, 201);
  EXPECT_EQ(c.Post("/api/v1/auth/register", {{"username", "s3"}, {"password", "correct horse"}}).status, 429);
  // Probes are never limited.
  for (int i = 0; i < 20; ++i) ASSERT_EQ(c.Get("/healthz").status, 200);
  EXPECT_EQ(node.Stop(), 0);
}

// Every spelling of one account shares its login bucket: a blocked "rita"
// used to log in as "@RITA:acme.test" (each case variant of the full address
// had a bucket of its own).
TEST(RateLimits, LoginLimitCoversEverySpellingOfTheAccount) {
  auto started = StartNodeWith(
      "rate_limits:\n  enabled: true\n  login_per_username: {rate: 0.01, burst: 3}\n"
      "  login_per_ip: {rate: 1000, burst: 1000}\n  per_ip: {rate: 1000, burst: 1000}\n");
  NodeProcess& node = *started;
  HttpClient c = node.Client();
  ASSERT_EQ(c.Post("/api/v1/auth/register", {{"username", "rita"}, {"password", "correct horse"}}).status, 201);
  for (const char* name : {"@Rita:acme.test", "@rITA:acme.test", "@RiTa:ACME.TEST"}) {
    EXPECT_EQ(c.Post("/api/v1/auth/login", {{"username", name}, {"password", "wrong pass"}}).status, 401) << name;
  }
  for (const char* name : {"rita", "@rita:Acme.Test", "@RITA:acme.test"}) {
    auto r = c.Post("/api/v1/auth/login", {{"username", name}, {"password", "correct horse"}});
    EXPECT_EQ(r.status, 429) << name << ": " << r.body;
  }
  // Another account is not affected, and names of no account share a
  // lower-cased bucket instead of one per spelling.
  ASSERT_EQ(c.Post("/api/v1/auth/register", {{"username", "sam"}, {"password", "correct horse"}}).status, 201);
  EXPECT_EQ(c.Post("/api/v1/auth/login", {{"username", "@SAM:acme.test"}, {"password", "correct horse"}}).status, 200);
  int limited = 0;
  for (const char* name : {"@x:other.test", "@X:other.test", "@x:OTHER.test", "@X:Other.Test"}) {
    if (c.Post("/api/v1/auth/login", {{"username", name}, {"password", "wrong pass"}}).status == 429) ++limited;
  }
  EXPECT_EQ(limited, 1);
  EXPECT_EQ(node.Stop(), 0);
}

GC_SQL(kUsersTestStoredHash, "SELECT password_hash FROM users WHERE local_part = $1");

// sessions.password_hash_memory_mib: new hashes use it, and a password hashed
// with another value is hashed again at its next successful login (never at
// a failed one), also when ten logins of the account arrive at once.
TEST(PasswordCost, OldHashesAreRedoneAtTheNextLogin) {
  auto started = StartNodeWith("rate_limits:\n  enabled: false\nsessions:\n  password_hash_memory_mib: 2\n");
  NodeProcess& node = *started;
  PgConn db(node.database_url());
  ASSERT_TRUE(db.Connect().ok());
  auto stored = [&] {
    auto r = db.Exec(kUsersTestStoredHash, {std::string("petra")});
    EXPECT_TRUE(r.ok() && r->rows() == 1);
    return r.ok() && r->rows() == 1 ? r->text(0, 0) : std::string();
  };
  HttpClient c = node.Client();
  ASSERT_EQ(c.Post("/api/v1/auth/register", {{"username", "petra"}, {"password", "correct horse"}}).status, 201);
  std::string first = stored();
  EXPECT_NE(first.find("$argon2id$"), std::string::npos) << first;
  EXPECT_NE(first.find("m=2048,"), std::string::npos) << first;

  node.options().extra_yaml = "rate_limits:\n  enabled: false\nsessions:\n  password_hash_memory_mib: 3\n";
  node.Restart();
  c = node.Client();
  EXPECT_EQ(c.Post("/api/v1/auth/login", {{"username", "petra"}, {"password", "wrong horse"}}).status, 401);
  EXPECT_EQ(stored(), first) << "a failed login changed the hash";

  std::vector<std::thread> crowd;
  std::atomic<int> ok{0};
  for (int i = 0; i < 10; ++i) {
    crowd.emplace_back([&] {
      HttpClient mine = node.Client();
      if (mine.Post("/api/v1/auth/login", {{"username", "petra"}, {"password", "correct horse"}}).status == 200) ++ok;
    });
  }
  for (auto& t : crowd) t.join();
  EXPECT_EQ(ok.load(), 10);
  std::string again = stored();
  EXPECT_NE(again.find("m=3072,"), std::string::npos) << again;
  // The new hash is the password's: logins go on working, wrong ones fail.
  EXPECT_EQ(c.Post("/api/v1/auth/login", {{"username", "petra"}, {"password", "correct horse"}}).status, 200);
  EXPECT_EQ(c.Post("/api/v1/auth/login", {{"username", "petra"}, {"password", "wrong horse"}}).status, 401);
  EXPECT_EQ(stored(), again) << "a hash made with today's cost was made again";
  EXPECT_EQ(node.Stop(), 0);
}

}  // namespace
}  // namespace gc::test
