// Federation under crowds and crashes, between real node processes: a
// hundred users joining one remote group at once, nodes SIGKILLed right after
// answering a join (with their embedded PostgreSQL dying with them), sends
// queued while the home crashes, is frozen (SIGSTOP) or is slow, and local requests
// served while hundreds of joins wait on a frozen home.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "node/db/pg.h"
#include "tests/harness/harness.h"
#include "tests/integration/federation_fixture.h"

namespace gc::test {
namespace {

using Clock = std::chrono::steady_clock;

class FederationFaultsTest : public FederationTest {
 protected:
  // `n` users of node `node`, registered in parallel (password hashing is
  // slow on a loaded machine: a generous client timeout).
  std::vector<User> RegisterMany(size_t node, int n) {
    std::vector<User> users(static_cast<size_t>(n));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        HttpClient c(N(node).http_port());
        c.set_timeout(std::chrono::seconds(60));
        for (int i = t; i < n; i += 4) {
          auto r = c.Post("/api/v1/auth/register", {{"username", UniqueName("u")}, {"password", "correct horse"}});
          EXPECT_EQ(r.status, 201) << r.body;
          if (r.status == 201) users[static_cast<size_t>(i)] = {r.json()["user_id"], r.json()["access_token"], N(node).http_port()};
        }
      });
    }
    for (auto& th : threads) th.join();
    return users;
  }
  // Every joined member of `g` as `u`'s node lists them.
  static std::set<std::string> Joined(const User& u, const std::string& g) {
    std::set<std::string> out;
    std::string after;
    for (int page = 0; page < 100; ++page) {
      auto r = Get(u, "/api/v1/groups/" + G(g) + "/members?limit=500" + (after.empty() ? "" : "&after=" + G(after)));
      if (r.status != 200) return {};
      json body = r.json();
      for (auto& m : body["members"]) {
        if (m["membership"] == "join") out.insert(m["user_id"].get<std::string>());
      }
      if (body["next"].is_null()) break;
      after = body["next"];
    }
    return out;
  }
  struct Call {
    User user;
    std::string path;
    json body = json::object();
  };
  // `requests` POSTs at once, one thread each; their statuses (-1: no answer).
  // `answered` (if given) counts the requests answered so far.
  static std::vector<int> AllAtOnce(const std::vector<Call>& requests, std::atomic<int>* answered = nullptr) {
    std::vector<int> status(requests.size());
    std::vector<std::thread> threads;
    std::atomic<int> ready{0};
    for (size_t i = 0; i < requests.size(); ++i) {
      threads.emplace_back([&, i] {
        HttpClient c(requests[i].user.port);
        c.set_timeout(std::chrono::seconds(60));
        ++ready;
        while (ready.load() < static_cast<int>(requests.size())) std::this_thread::yield();  // a common start
        try {
          status[i] = c.Post(requests[i].path, requests[i].body, requests[i].user.token).status;
        } catch (const std::exception&) {
          status[i] = -1;  // no answer within the client's timeout
        }
        if (answered) ++*answered;
      });
    }
    for (auto& th : threads) th.join();
    return status;
  }
  // alice's group on acme.test, joined by bob and carol of beta.test.
  struct RemoteGroup {
    User alice, bob, carol;
    std::string g;
  };
  RemoteGroup StartWithRemoteGroup() {
    StartNodes({"acme.test", "beta.test"});
    RemoteGroup r{Register(0), Register(1), Register(1), ""};
    r.g = CreateGroup(r.alice);
    EXPECT_EQ(Post(r.bob, "/api/v1/groups/" + G(r.g) + "/join").status, 200);
    EXPECT_EQ(Post(r.carol, "/api/v1/groups/" + G(r.g) + "/join").status, 200);
    return r;
  }
  // Back-to-back GET /api/v1/groups by `u` (each must be answered 200) until
  // all `crowd` requests of a crowd waiting on a frozen home are answered.
  // Returns the most crowd requests that were waiting throughout one local
  // read: recorded by the node (`recorded()`, read from its database) before
  // the read was sent, and not yet answered (`answered`) when it came back.
  // That is an order of events, not a duration: if each waiting request held
  // one of the node's worker threads (http.workers, 8), a local read could
  // only be answered once one of them was, and never more than a worker's
  // worth of the crowd could be waiting across a read.
  static int MostWaitingAcrossALocalRead(const User& u, const std::function<int()>& recorded,
                                         const std::atomic<int>& answered, int crowd) {
    int most = 0;
    for (int i = 0; i < 100000 && answered.load() < crowd; ++i) {  // bounded: the crowd's client timeout ends it
      int before = recorded();
      try {
        EXPECT_EQ(Get(u, "/api/v1/groups").status, 200);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "a local read got no answer: " << e.what();
      }
      most = std::max(most, before - answered.load());
    }
    std::printf("at most %d of %d waiting on the frozen home across one local read\n", most, crowd);
    return most;
  }
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

TEST_F(FederationFaultsTest, HundredConcurrentJoinsOfARemoteGroupAllSucceed) {
  StartNodes({"acme.test", "beta.test"});
  User alice = Register(0);
  std::string g = CreateGroup(alice);
  ASSERT_EQ(Send(alice, g, "before the crowd").status, 201);
  std::vector<User> users = RegisterMany(1, 110);
  std::string join = "/api/v1/groups/" + G(g) + "/join";

  // beta holds no replica yet: 90 users join at once, 10 of them twice.
  std::vector<Call> first;
  for (int i = 0; i < 90; ++i) first.push_back({users[static_cast<size_t>(i)], join});
  for (int i = 0; i < 10; ++i) first.push_back({users[static_cast<size_t>(i)], join});
  auto t0 = Clock::now();
  std::vector<int> status = AllAtOnce(first);
  double took = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(std::count(status.begin(), status.end(), 200), 100) << ::testing::PrintToString(status);
  EXPECT_LT(took, 20.0);

  // With the replica: 20 new users and 80 members join at once.
  std::vector<Call> second;
  for (int i = 0; i < 110; ++i) {
    if (i < 80 || i >= 90) second.push_back({users[static_cast<size_t>(i)], join});
  }
  t0 = Clock::now();
  status = AllAtOnce(second);
  took = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(std::count(status.begin(), status.end(), 200), 100) << ::testing::PrintToString(status);
  EXPECT_LT(took, 20.0);

  std::set<std::string> want = {alice.id};
  for (const User& u : users) want.insert(u.id);
  EXPECT_EQ(Joined(alice, g), want);
  EXPECT_TRUE(Eventually([&] { return Joined(users[0], g) == want; })) << Joined(users[0], g).size();
  EXPECT_TRUE(HasBody(users[100], g, "before the crowd"));
}

// A join answered 200 is there after either node is SIGKILLed right after the
// answer, and the home's later events reach the participant.
TEST_F(FederationFaultsTest, JoinsAndInviteAcceptancesSurviveSigkill) {
  StartNodes({"acme.test", "beta.test"}, "", /*embedded_db=*/true);
  User alice = Register(0), bob = Register(1), carol = Register(1), dave = Register(1);
  std::string g = CreateGroup(alice), priv = CreateGroup(alice, {{"visibility", "private"}});
  ASSERT_EQ(Send(alice, g, "first").status, 201);
  auto joined_on_both = [&](const User& u, const std::string& group) {
    return Joined(alice, group).count(u.id) && Joined(u, group).count(u.id);
  };
  // SIGKILL (the node's PostgreSQL dies with it), then start again on the
  // same ports.
  auto crash = [&](size_t node) {
    N(node).Kill();
    N(node).Restart();
  };

  // The participant killed right after a join that created its replica.
  ASSERT_EQ(Post(bob, "/api/v1/groups/" + G(g) + "/join").status, 200);
  crash(1);
  EXPECT_TRUE(joined_on_both(bob, g)) << N(1).LogText();
  ASSERT_EQ(Send(alice, g, "after beta's crash").status, 201);
  EXPECT_TRUE(Eventually([&] { return HasBody(bob, g, "after beta's crash"); })) << N(1).LogText();

  // ... right after a join through the existing replica.
  ASSERT_EQ(Post(carol, "/api/v1/groups/" + G(g) + "/join").status, 200);
  crash(1);
  EXPECT_TRUE(joined_on_both(carol, g)) << N(1).LogText();

  // ... right after accepting an invitation.
  ASSERT_EQ(Post(alice, "/api/v1/groups/" + G(priv) + "/invites", {{"user_id", dave.id}}).status, 200);
  ASSERT_TRUE(Eventually([&] { return Get(dave, "/api/v1/groups").body.find(priv) != std::string::npos; }));
  ASSERT_EQ(Post(dave, "/api/v1/groups/" + G(priv) + "/join").status, 200);
  crash(1);
  EXPECT_TRUE(joined_on_both(dave, priv)) << N(1).LogText();
  ASSERT_EQ(Send(alice, priv, "for dave").status, 201);
  EXPECT_TRUE(Eventually([&] { return HasBody(dave, priv, "for dave"); })) << N(1).LogText();

  // The home killed right after answering a join.
  User frank = Register(1);
  ASSERT_EQ(Post(frank, "/api/v1/groups/" + G(g) + "/join").status, 200);
  crash(0);
  EXPECT_TRUE(joined_on_both(frank, g)) << N(0).LogText();
  ASSERT_EQ(Send(alice, g, "after acme's crash").status, 201);
  EXPECT_TRUE(Eventually([&] { return HasBody(frank, g, "after acme's crash"); })) << N(1).LogText();
  EXPECT_TRUE(Eventually([&] { return Log(alice, g) == Log(bob, g); }));
  EXPECT_EQ(N(1).LogText().find("no user of this node was invited"), std::string::npos);
}

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
  // Named references, not a structured binding: clang 14 (the sanitized
  // build) cannot capture a binding in a lambda.
  RemoteGroup r = StartWithRemoteGroup();
  User &alice = r.alice, &bob = r.bob, &carol = r.carol;
  std::string& g = r.g;
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

// A leave queued while the home is frozen is not undone by the replica's
// stale view: a rejoin or a message of the same user right after it waits
// (409 pending_change) until the leave has come back from the home; then
// the rejoin goes to the home and holds on both nodes. Before: the rejoin
// was answered 200 "already in" from the stale replica, the queued leave
// then landed, and bob was out of the group with his join acknowledged
// (and his next message, answered 202, refused by the home).
TEST_F(FederationFaultsTest, AQueuedLeaveIsNotUndoneByAStaleRejoin) {
  // Named references, not a structured binding: clang 14 (the sanitized
  // build) cannot capture a binding in a lambda.
  RemoteGroup r = StartWithRemoteGroup();
  User &alice = r.alice, &bob = r.bob, &carol = r.carol;
  std::string& g = r.g;
  N(0).Freeze();
  auto left = Post(bob, "/api/v1/groups/" + G(g) + "/leave");
  ASSERT_EQ(left.status, 200) << left.body;  // queued, durably, after the wait for the home
  auto rejoin = Post(bob, "/api/v1/groups/" + G(g) + "/join");
  // Seen once in CI (a loaded fresh-clone run, not reproduced in 16 runs
  // since): 200 with the leave already applied, as if the home had sequenced
  // it while frozen. The logs say what happened if it comes back.
  EXPECT_EQ(rejoin.status, 409) << rejoin.body << "\nhome:\n" << N(0).LogText() << "\nparticipant:\n" << N(1).LogText();
  EXPECT_EQ(rejoin.json().value("error", json::object()).value("reason", ""), "pending_change") << rejoin.body;
  auto early = Send(bob, g, "written between leave and rejoin");
  EXPECT_EQ(early.status, 409) << early.body;
  EXPECT_EQ(Send(carol, g, "carol is not held up").status, 202);  // another user's sends still queue
  ASSERT_EQ(kill(N(0).pid(), SIGCONT), 0);

  // Once the leave is back, the rejoin is judged by the home.
  int status = 0;
  ASSERT_TRUE(Eventually([&] {
    status = Post(bob, "/api/v1/groups/" + G(g) + "/join").status;
    return status != 409;
  }, 60)) << N(1).LogText();
  ASSERT_EQ(status, 200);
  EXPECT_TRUE(Eventually([&] { return Joined(alice, g).count(bob.id) == 1 && Joined(bob, g).count(bob.id) == 1; }))
      << N(1).LogText();
  auto after = Send(bob, g, "back again");
  EXPECT_EQ(after.status, 201) << after.body;
  EXPECT_TRUE(Eventually([&] { return HasBody(alice, g, "back again"); }));
  EXPECT_FALSE(HasBody(alice, g, "written between leave and rejoin"));
}

// Joins waiting on a frozen home occupy no worker: local requests are
// answered meanwhile. Proved by order, not by how long a read took: local
// reads are answered while far more joins are waiting on the home (recorded
// by the node, not yet answered) than the node has worker threads.
TEST_F(FederationFaultsTest, JoinsWaitingOnAFrozenHomeDoNotStarveLocalRequests) {
  StartNodes({"acme.test", "beta.test"});
  User alice = Register(0), bob = Register(1), carol = Register(1);
  std::string g = CreateGroup(alice);
  ASSERT_EQ(Post(bob, "/api/v1/groups/" + G(g) + "/join").status, 200);  // introduced, a replica
  // The joins beta has taken up: each is recorded before it goes to the home
  // (federation/join.cpp), and the record stays when the home does not answer.
  auto recorded = RowCounter(1, kRecordedJoins, carol.id);
  ASSERT_EQ(recorded(), 0);
  ASSERT_EQ(kill(N(0).pid(), SIGSTOP), 0);
  constexpr int kCrowd = 200;
  std::vector<Call> joins;
  for (int i = 0; i < kCrowd; ++i) {
    joins.push_back({carol, "/api/v1/groups/" + G("#crowd" + std::to_string(i) + ":acme.test") + "/join"});
  }
  std::vector<int> status;
  std::atomic<int> answered{0};
  std::thread crowd([&] { status = AllAtOnce(joins, &answered); });
  int most = MostWaitingAcrossALocalRead(bob, recorded, answered, kCrowd);
  crowd.join();
  ASSERT_EQ(kill(N(0).pid(), SIGCONT), 0);
  // 8 workers (plus a few answers on their way) is the most a worker-parking
  // node could show; a node that parks none shows nearly the whole crowd.
  EXPECT_GE(most, kCrowd / 4) << "joins waiting on the home across a local read, at most: " << most;
  EXPECT_EQ(recorded(), kCrowd);
  EXPECT_EQ(std::count(status.begin(), status.end(), 503), kCrowd) << ::testing::PrintToString(status);
  EXPECT_EQ(Get(bob, "/api/v1/groups").status, 200);
}

// Reactions (like edits, deletes and membership changes) waiting on a frozen
// home occupy no worker either: each is answered after its 2.5 s wait for
// the home, still queued, and local reads are answered while far more of
// them wait than the node has worker threads.
TEST_F(FederationFaultsTest, ChangesWaitingOnAFrozenHomeDoNotStarveLocalRequests) {
  // Named references, not a structured binding: clang 14 (the sanitized
  // build) cannot capture a binding in a lambda.
  RemoteGroup r = StartWithRemoteGroup();
  User &bob = r.bob, &carol = r.carol;
  std::string& g = r.g;
  auto sent = Send(bob, g, "react to me");
  ASSERT_EQ(sent.status, 201) << sent.body;
  std::string reactions = "/api/v1/groups/" + G(g) + "/messages/" + G(sent.json()["event_id"]) + "/reactions";
  // Each change is stored in the outbox before the wait for the home
  // (federation/outbox.cpp), and stays there while the home is frozen.
  static constexpr SqlQuery kQueued{"faults_queued_changes", "SELECT count(*) FROM fed_outbox WHERE sender = $1"};
  auto queued = RowCounter(1, kQueued, bob.id);
  int before = queued();
  auto recorded = [&] { return queued() - before; };
  ASSERT_EQ(kill(N(0).pid(), SIGSTOP), 0);
  constexpr int kCrowd = 100;
  std::vector<Call> changes;
  for (int i = 0; i < kCrowd; ++i) changes.push_back({bob, reactions, {{"key", "k" + std::to_string(i)}}});
  std::vector<int> status;
  std::atomic<int> answered{0};
  std::thread crowd([&] { status = AllAtOnce(changes, &answered); });
  int most = MostWaitingAcrossALocalRead(carol, recorded, answered, kCrowd);
  crowd.join();
  ASSERT_EQ(kill(N(0).pid(), SIGCONT), 0);
  EXPECT_GE(most, kCrowd / 4) << "changes waiting on the home across a local read, at most: " << most;
  EXPECT_EQ(recorded(), kCrowd);
  EXPECT_EQ(std::count(status.begin(), status.end(), 200), kCrowd) << ::testing::PrintToString(status);
}

}  // namespace
}  // namespace gc::test
