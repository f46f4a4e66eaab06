// Federation under crowds and crashes, between real node processes: sends
// queued while the home crashes, is frozen (SIGSTOP) or is slow.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>
#include <vector>

#include "node/db/pg.h"
#include "tests/harness/harness.h"
#include "tests/integration/federation_fixture.h"

namespace gc::test {
namespace {

class FederationFaultsTest : public FederationTest {
 protected:
  // The bodies of `g`'s messages in log order, as `u`'s node holds them.
  static std::vector<std::string> Bodies(const User& u, const std::string& g) {
    std::vector<std::string> out;
    for (auto& e : Log(u, g)) {
      if (e[2] == "message") out.push_back(e[3]);
    }
    return out;
  }
  // How often node `node` has tried to send `user`'s first queued event
  // (fed_outbox.attempts), or -1.
  int Attempts(size_t node, const User& user) {
    PgConn db(N(node).database_url());
    if (!db.Connect().ok()) return -1;
    static constexpr SqlQuery kAttempts{
        "attempts", "SELECT attempts FROM fed_outbox WHERE sender = $1 AND state = 'pending' ORDER BY id LIMIT 1"};
    auto r = db.Exec(kAttempts, {user.id});
    return r.ok() && r->rows() > 0 ? static_cast<int>(r->int64(0, 0)) : -1;
  }
};

// One user's sends, queued while the home cannot answer, are sequenced in the
// order the user wrote them (bob), while another user writes in parallel
// (carol).
//  - "crash": the home is frozen while bob's b1 goes out, then SIGKILLed and
//    restarted: b1 died in its socket buffer, and bob writes b2..b4 to the
//    restarted home. Before the fix they went out at once and were sequenced
//    before b1, whose retry came after its 5 s answer timeout.
//  - "frozen": SIGSTOP long enough for retries: bob writes b1, then b2 once
//    b1 has been tried twice, then b3 and b4 once b1 has been tried three
//    times (polled, with a deadline), then SIGCONT.
//  - "slow": frozen for less than the answer timeout: answers come late.
class QueuedSendOrderTest : public FederationFaultsTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(QueuedSendOrderTest, KeepsEachUsersOrder) {
  StartNodes({"acme.test", "beta.test"});
  User alice = Register(0), bob = Register(1), carol = Register(1);
  std::string g = CreateGroup(alice);
  ASSERT_EQ(Post(bob, "/api/v1/groups/" + G(g) + "/join").status, 200);
  ASSERT_EQ(Post(carol, "/api/v1/groups/" + G(g) + "/join").status, 200);
  ASSERT_EQ(Send(bob, g, "b0").status, 201);

  std::string how = GetParam();
  auto send = [&](const User& u, const std::string& body) {
    int st = Send(u, g, body).status;
    EXPECT_TRUE(st == 201 || st == 202) << body << ": " << st;
  };
  ASSERT_EQ(kill(N(0).pid(), SIGSTOP), 0);
  std::thread carols([&] {
    for (int i = 1; i <= 4; ++i) send(carol, "c" + std::to_string(i));
  });
  send(bob, "b1");
  if (how == "crash") {
    N(0).Kill();
    N(0).Restart();
  } else if (how == "frozen") {
    ASSERT_TRUE(Eventually([&] { return Attempts(1, bob) >= 2; }, 60)) << N(1).LogText();
  }
  send(bob, "b2");
  if (how == "frozen") {
    ASSERT_TRUE(Eventually([&] { return Attempts(1, bob) >= 3; }, 60)) << N(1).LogText();
  }
  send(bob, "b3");
  send(bob, "b4");
  carols.join();
  if (how != "crash") {
    ASSERT_EQ(kill(N(0).pid(), SIGCONT), 0);
  }

  std::vector<std::string> all = {"b0", "b1", "b2", "b3", "b4", "c1", "c2", "c3", "c4"};
  ASSERT_TRUE(Eventually([&] { return Bodies(alice, g).size() == all.size(); }, 90))
      << ::testing::PrintToString(Bodies(alice, g)) << N(1).LogText();
  std::vector<std::string> order = Bodies(alice, g), b, c;
  for (auto& m : order) (m[0] == 'b' ? b : c).push_back(m);
  EXPECT_EQ(b, (std::vector<std::string>{"b0", "b1", "b2", "b3", "b4"})) << ::testing::PrintToString(order);
  EXPECT_EQ(c, (std::vector<std::string>{"c1", "c2", "c3", "c4"})) << ::testing::PrintToString(order);
  EXPECT_TRUE(Eventually([&] { return Bodies(bob, g) == order; })) << ::testing::PrintToString(Bodies(bob, g));
}

INSTANTIATE_TEST_SUITE_P(HomeCrashedFrozenOrSlow, QueuedSendOrderTest, ::testing::Values("crash", "frozen", "slow"));

}  // namespace
}  // namespace gc::test
