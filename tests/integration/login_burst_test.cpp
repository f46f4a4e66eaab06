// Logins hash with argon2id on a bounded pool of their own
// (sessions.password_hash_threads, sessions.password_hash_queue): a burst of
// logins must not hold back message traffic, and what the pool cannot take is
// refused at once with 503 and Retry-After, never left hanging.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/node_test.h"

namespace gc::test {
namespace {

using nlohmann::json;

class LoginBurstTest : public NodeTest {
 protected:
  static void SetUpTestSuite() {
    StartNode(std::string(kNoRateLimits) + "sessions:\n  password_hash_threads: 1\n  password_hash_queue: 2\n"
              // The real cost (the harness lowers it for every other test).
              "  password_hash_memory_mib: 64\n");
  }

  // A login answer is either a working session or a clear refusal.
  void CheckLogin(const HttpResponse& r, const TestUser& u, int* ok, int* refused) {
    if (r.status == 200) {
      ++*ok;
      std::string token = r.json()["access_token"];
      HttpClient c(node_->http_port());
      auto me = c.Get("/api/v1/me", token);
      EXPECT_EQ(me.status, 200);
      if (me.status == 200) {
        EXPECT_EQ(me.json()["user_id"], u.id);
      }
      return;
    }
    ASSERT_EQ(r.status, 503) << r.body;
    ++*refused;
    EXPECT_EQ(r.json()["error"]["code"], "unavailable") << r.body;
    EXPECT_FALSE(r.header("Retry-After").empty());
  }
};

TEST_F(LoginBurstTest, SendsCompleteWhileLoginsKeepThePasswordPoolBusy) {
  TestUser a = NewUser("burst");
  std::string g = NewGroup(a);
  // Four login loops keep the one hashing thread and its queue of two full
  // until every send has been answered (bounded: at most 200 logins each).
  std::atomic<bool> sends_done{false};
  std::vector<std::vector<HttpResponse>> answers(4);
  std::vector<std::thread> loops;
  for (int i = 0; i < 4; ++i) {
    loops.emplace_back([&, i] {
      HttpClient c(node_->http_port());
      for (int n = 0; n < 200 && !sends_done; ++n) {
        answers[i].push_back(c.Post("/api/v1/auth/login", {{"username", a.name}, {"password", kTestPassword}}));
      }
    });
  }
  std::vector<int64_t> seqs;
  HttpClient sender(node_->http_port());
  for (int i = 0; i < 30; ++i) {
    auto r = sender.Post("/api/v1/groups/" + PathSegment(g) + "/messages", {{"body", "during logins " + std::to_string(i)}},
                         a.token);
    ASSERT_EQ(r.status, 201) << r.body;
    seqs.push_back(r.json()["seq"]);
  }
  sends_done = true;
  for (auto& t : loops) t.join();
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);
  int ok = 0, refused = 0;
  for (auto& list : answers) {
    for (auto& r : list) CheckLogin(r, a, &ok, &refused);
  }
  EXPECT_GT(ok, 0);
}

TEST_F(LoginBurstTest, ABurstWiderThanThePoolIsRefusedInPartWith503) {
  TestUser a = NewUser("wide");
  int ok = 0, refused = 0;
  // Sixteen logins at once against one thread and a queue of two: some must
  // be refused. A burst can only come out fully accepted if the node took the
  // requests one by one, each after the previous hash: repeat then (bounded).
  for (int round = 0; round < 10 && refused == 0; ++round) {
    std::vector<HttpResponse> answers(16);
    std::vector<std::thread> ts;
    for (int i = 0; i < 16; ++i) {
      ts.emplace_back([&, i] {
        HttpClient c(node_->http_port());
        answers[i] = c.Post("/api/v1/auth/login", {{"username", a.name}, {"password", kTestPassword}});
      });
    }
    for (auto& t : ts) t.join();
    for (auto& r : answers) CheckLogin(r, a, &ok, &refused);
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(ok, 0);
  // Once the burst is over, logins work again.
  EXPECT_FALSE(LogIn(c_, a.name).empty());
}

}  // namespace
}  // namespace gc::test
