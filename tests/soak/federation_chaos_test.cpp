// Federation under faults, randomized and reproducible: three nodes, two
// groups homed on different nodes, users on all three sending, editing,
// leaving and rejoining while links drop, reset, black-hole, slow down and
// nodes are killed or frozen. Afterwards every node must hold the identical
// log of each group (same event ids, same order, a chain that verifies), with
// every acknowledged message in it exactly once.
//
// The schedule is drawn from a seed printed at the start; the same seed gives
// the same schedule (GC_CHAOS_SEED=N to replay one). GC_CHAOS_SECONDS sets
// the length (default 15 in `make test`; `make soak` runs it long).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/fault_proxy.h"
#include "tests/harness/harness.h"
#include "tests/support/api.h"
#include "tests/support/federated_nodes.h"

namespace gc::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

struct Actor {
  size_t node;
  std::string id, token;
};

// One step of the schedule.
struct Step {
  enum Kind { kSend, kEdit, kLeaveRejoin, kFault, kHeal, kKill, kFreeze } kind;
  int at_ms;        // from the start
  size_t actor = 0; // kSend, kEdit, kLeaveRejoin
  size_t group = 0;
  size_t node = 0;  // kFault, kHeal, kKill, kFreeze
  FaultProxy::Direction direction = FaultProxy::Direction::kBoth;
  FaultProxy::Setting setting;
  int hold_ms = 0;  // kKill: down for; kFreeze: frozen for
};

std::vector<Step> Schedule(uint32_t seed, int seconds, size_t actors, size_t nodes) {
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<Step> out;
  for (int t = 0; t < seconds * 1000; t += 30 + static_cast<int>(rng() % 40)) {
    Step s{};
    s.at_ms = t;
    int r = static_cast<int>(rng() % 1000);
    if (r < 700) {
      s.kind = Step::kSend;
    } else if (r < 800) {
      s.kind = Step::kEdit;
    } else if (r < 830) {
      s.kind = Step::kLeaveRejoin;
    } else if (r < 930) {
      s.kind = Step::kFault;
      s.node = pick(nodes);
      s.direction = static_cast<FaultProxy::Direction>(pick(3));
      s.setting.fault = static_cast<FaultProxy::Fault>(1 + pick(5));
      s.setting.delay_ms = 20 + static_cast<int>(rng() % 400);
      s.setting.bytes_per_s = 2000 + static_cast<int64_t>(rng() % 50000);
    } else if (r < 985) {
      s.kind = Step::kHeal;
      s.node = pick(nodes);
    } else if (r < 993) {
      s.kind = Step::kKill;
      s.node = pick(nodes);
      s.hold_ms = 300 + static_cast<int>(rng() % 1500);
    } else {
      s.kind = Step::kFreeze;
      s.node = pick(nodes);
      s.hold_ms = 300 + static_cast<int>(rng() % 2500);
    }
    s.actor = pick(actors);
    s.group = pick(2);
    out.push_back(s);
  }
  return out;
}

class FederationChaosTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& p : proxies_) p->Stop();
    for (auto& n : nodes_) {
      if (n->Running()) {
        kill(n->pid(), SIGCONT);
        EXPECT_EQ(n->Stop(), 0);
      }
    }
  }

  // Nodes whose federation endpoint is published as their proxy's address,
  // so that every peer reaches them through it.
  void StartNodes(const std::vector<std::string>& names) {
    std::vector<int> http;
    for (size_t i = 0; i < names.size(); ++i) http.push_back(FreeLoopbackPort());
    for (size_t i = 0; i < names.size(); ++i) {
      int fed = FreeLoopbackPort();
      proxies_.push_back(std::make_unique<FaultProxy>(fed));
      NodeOptions o;
      o.name = names[i];
      o.extra_yaml = std::string(std::getenv("GC_CHAOS_DEBUG") ? "log:\n  level: debug\n" : "") +
                     FederatedNodeYaml(names, i, http, fed, proxies_.back()->port());
      nodes_.push_back(std::make_unique<NodeProcess>(o));
    }
    for (auto& n : nodes_) n->Start();
    for (auto& n : nodes_) ports_.push_back(n->http_port());  // fixed in the config: the same after a restart
  }

  Actor Register(size_t node) {
    TestUser u = RegisterUser(*nodes_[node], "c");
    return {node, u.id, u.token};
  }
  HttpResponse Call(const Actor& a, const std::string& method, const std::string& path, const json& body = json()) {
    HttpClient c(ports_[a.node]);  // read by the actors' threads while nodes restart
    c.set_timeout(std::chrono::seconds(15));
    HttpHeaders h{{"Authorization", "Bearer " + a.token}};
    if (!body.is_null()) h.emplace_back("Content-Type", "application/json");
    try {
      return c.Request(method, path, body.is_null() ? "" : body.dump(), h);
    } catch (const std::exception&) {
      return HttpResponse{};  // status 0: no answer (the node died or froze meanwhile)
    }
  }

  // The whole log as `a`'s node holds it: [[seq, event_id, type, body]], null if it did not answer.
  json Log(const Actor& a, const std::string& g) {
    return ReadGroupLog([&](const std::string& path) { return Call(a, "GET", path); }, g);
  }

  std::vector<std::unique_ptr<FaultProxy>> proxies_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  std::vector<int> ports_;
};

TEST_F(FederationChaosTest, LogsConvergeAndKeepEveryAcknowledgedMessage) {
  const uint32_t seed = static_cast<uint32_t>(EnvInt("GC_CHAOS_SEED", static_cast<int>(std::random_device{}() >> 1)));
  const int seconds = EnvInt("GC_CHAOS_SECONDS", 15);
  std::printf("chaos seed %u, %d s (replay: GC_CHAOS_SEED=%u)\n", seed, seconds, seed);
  std::fflush(stdout);
  RecordProperty("seed", std::to_string(seed));

  StartNodes({"acme.test", "beta.test", "gamma.test"});
  const size_t kNodes = 3;
  std::vector<Actor> actors, observers;
  for (size_t n = 0; n < kNodes; ++n) {
    for (int i = 0; i < 3; ++i) actors.push_back(Register(n));
    observers.push_back(Register(n));
  }
  // Group 0 lives on acme, group 1 on beta; everyone joins both.
  std::vector<std::string> groups;
  for (size_t home : {size_t{0}, size_t{1}}) {
    auto r = Call(observers[home], "POST", "/api/v1/groups", {{"name", UniqueName("chaos")}});
    ASSERT_EQ(r.status, 201) << r.body;
    groups.push_back(r.json()["group_id"]);
  }
  for (const std::string& g : groups) {
    for (const Actor* a : {&observers[0], &observers[1], &observers[2]}) {
      auto r = Call(*a, "POST", "/api/v1/groups/" + PathSegment(g) + "/join", json::object());
      ASSERT_EQ(r.status, 200) << r.body;
    }
    for (const Actor& a : actors) {
      auto r = Call(a, "POST", "/api/v1/groups/" + PathSegment(g) + "/join", json::object());
      ASSERT_EQ(r.status, 200) << r.body;
    }
  }

  // Run the schedule. Faults, kills and freezes happen on this thread at
  // their time; each actor's steps go to that actor's own thread, in order,
  // so that a call waiting on a frozen home holds up only its actor (users
  // act at once, as a crowd does). A step that addresses a node which is
  // down or frozen when it is due is skipped, and so is one whose actor is
  // still busy with three earlier steps (the schedule itself follows from the
  // seed; which of its steps are skipped depends on timing).
  std::vector<Step> steps = Schedule(seed, seconds, actors.size(), kNodes);
  std::vector<Clock::time_point> down_until(kNodes), frozen_until(kNodes);
  std::vector<bool> frozen(kNodes, false), down(kNodes, false);
  struct Sent {
    std::string group, body, event_id;  // event_id empty when queued (202)
    size_t actor;
  };
  std::mutex mu;                              // guards what the actors record below
  std::vector<Sent> acked;                    // GUARDED_BY(mu)
  std::set<std::string> maybe;                // GUARDED_BY(mu): sent without an answer, may or may not be there
  std::map<size_t, std::vector<size_t>> own;  // GUARDED_BY(mu): actor -> indexes into acked with an event id
  std::map<int, int> refused_by;              // GUARDED_BY(mu): status -> count
  int faults = 0, kills = 0, freezes = 0, skipped = 0;

  // One actor's step; runs on that actor's thread.
  std::vector<std::set<size_t>> must_rejoin(actors.size());  // per actor, touched only by its thread
  auto act = [&](size_t i, const Step& s) {
    const Actor& a = actors[s.actor];
    std::string g = PathSegment(groups[s.group]);
    if (s.kind != Step::kLeaveRejoin && must_rejoin[s.actor].count(s.group)) {
      // Its last rejoin was refused (409 while its leave was on its way):
      // join again first, as a user would.
      if (Call(a, "POST", "/api/v1/groups/" + g + "/join", json::object()).status == 200) {
        must_rejoin[s.actor].erase(s.group);
      }
    }
    switch (s.kind) {
      case Step::kSend: {
        std::string body = "m" + std::to_string(i) + ".";
        auto r = Call(a, "POST", "/api/v1/groups/" + g + "/messages",
                      {{"body", body}, {"client_txn_id", "t" + std::to_string(seed) + "-" + std::to_string(i)}});
        std::lock_guard<std::mutex> lock(mu);
        if (r.status == 201 || r.status == 202) {
          acked.push_back({groups[s.group], body, r.status == 201 ? r.json().value("event_id", "") : "", s.actor});
          if (r.status == 201) own[s.actor].push_back(acked.size() - 1);
        } else if (r.status == 0 || r.status >= 500) {
          maybe.insert(body);
        } else {
          ++refused_by[r.status];  // 403 while the actor is out of the group, 409 while its leave is pending
        }
        break;
      }
      case Step::kEdit: {
        std::string event_id, group, body;
        size_t idx = 0;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (own[s.actor].empty()) break;
          idx = own[s.actor][i % own[s.actor].size()];
          event_id = acked[idx].event_id;
          group = acked[idx].group;
          body = acked[idx].body;
        }
        if (body.back() == 'e') break;
        auto r = Call(a, "PATCH", "/api/v1/groups/" + PathSegment(group) + "/messages/" + PathSegment(event_id),
                      {{"body", body + "e"}});
        if (r.status == 200 || r.status == 202) {
          std::lock_guard<std::mutex> lock(mu);
          acked[idx].body += "e";
        }
        break;
      }
      case Step::kLeaveRejoin: {
        Call(a, "POST", "/api/v1/groups/" + g + "/leave", json::object());
        if (Call(a, "POST", "/api/v1/groups/" + g + "/join", json::object()).status == 200) {
          must_rejoin[s.actor].erase(s.group);
        } else {
          must_rejoin[s.actor].insert(s.group);
        }
        break;
      }
      default:
        break;
    }
  };
  struct Lane {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<size_t, Step>> todo;  // GUARDED_BY(mu)
    bool busy = false, closed = false;           // GUARDED_BY(mu)
    std::thread thread;
  };
  std::vector<std::unique_ptr<Lane>> lanes;
  for (size_t k = 0; k < actors.size(); ++k) {
    lanes.push_back(std::make_unique<Lane>());
    Lane* lane = lanes.back().get();
    lane->thread = std::thread([lane, &act] {
      std::unique_lock<std::mutex> lock(lane->mu);
      for (;;) {
        lane->cv.wait(lock, [&] { return lane->closed || !lane->todo.empty(); });
        if (lane->todo.empty()) return;  // closed and drained
        auto [i, s] = lane->todo.front();
        lane->todo.pop_front();
        lane->busy = true;
        lock.unlock();
        act(i, s);
        lock.lock();
        lane->busy = false;
      }
    });
  }
  const auto start = Clock::now();
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    auto at = start + std::chrono::milliseconds(s.at_ms);
    if (Clock::now() < at) std::this_thread::sleep_until(at);  // the schedule's own clock, not a wait for a result
    auto now = Clock::now();
    for (size_t n = 0; n < kNodes; ++n) {  // bring back what is due
      if (frozen[n] && now >= frozen_until[n]) {
        kill(nodes_[n]->pid(), SIGCONT);
        frozen[n] = false;
      }
      if (down[n] && now >= down_until[n]) {
        nodes_[n]->Start();
        down[n] = false;
      }
    }
    auto usable = [&](size_t n) { return !frozen[n] && !down[n]; };
    switch (s.kind) {
      case Step::kSend:
      case Step::kEdit:
      case Step::kLeaveRejoin: {
        Lane& lane = *lanes[s.actor];
        std::lock_guard<std::mutex> lock(lane.mu);
        if (!usable(actors[s.actor].node) || lane.todo.size() + (lane.busy ? 1 : 0) >= 3) {
          ++skipped;
          break;
        }
        lane.todo.emplace_back(i, s);
        lane.cv.notify_one();
        break;
      }
      case Step::kFault:
        proxies_[s.node]->Set(s.direction, s.setting);
        ++faults;
        break;
      case Step::kHeal:
        proxies_[s.node]->Heal();
        break;
      case Step::kKill:
        if (!usable(s.node)) break;
        nodes_[s.node]->Kill();
        down[s.node] = true;
        down_until[s.node] = now + std::chrono::milliseconds(s.hold_ms);
        ++kills;
        break;
      case Step::kFreeze:
        if (!usable(s.node)) break;
        kill(nodes_[s.node]->pid(), SIGSTOP);
        frozen[s.node] = true;
        frozen_until[s.node] = now + std::chrono::milliseconds(s.hold_ms);
        ++freezes;
        break;
    }
  }
  // Heal everything and bring every node back.
  for (auto& p : proxies_) p->Heal();
  for (size_t n = 0; n < kNodes; ++n) {
    if (frozen[n]) kill(nodes_[n]->pid(), SIGCONT);
    if (down[n]) nodes_[n]->Start();
  }
  // The actors finish what they were given (each call has its own timeout)
  // against the healed network.
  for (auto& lane : lanes) {
    {
      std::lock_guard<std::mutex> lock(lane->mu);
      lane->closed = true;
    }
    lane->cv.notify_one();
  }
  for (auto& lane : lanes) lane->thread.join();
  int refused = 0;
  for (const auto& [status, n] : refused_by) refused += n;
  const double ran_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("chaos: %zu steps in %.1f s (%d skipped), %zu acknowledged sends, %zu unanswered, %d refused, "
              "%d faults, %d kills, %d freezes\n",
              steps.size(), ran_s, skipped, acked.size(), maybe.size(), refused, faults, kills, freezes);
  for (const auto& [status, n] : refused_by) std::printf("chaos: %d sends refused with %d\n", n, status);

  // Converged: every observer's node holds the same log of each group, with
  // every acknowledged message in it (as last edited) exactly once. The
  // deadline covers retries with backoff (up to 60 s between tries).
  std::string why;
  auto converged = [&] {
    for (const std::string& g : groups) {
      json first;
      for (size_t n = 0; n < kNodes; ++n) {
        json log = Log(observers[n], g);
        if (log.is_null()) return why = "no log from node " + std::to_string(n), false;
        json ids = json::array();
        for (auto& e : log) ids.push_back({e[0], e[1]});
        if (n == 0) first = ids;
        else if (ids != first) return why = g + ": node " + std::to_string(n) + " differs from node 0", false;
        std::map<std::string, int> seen;
        for (auto& e : log) {
          if (e[2] != "message") continue;
          std::string b = e[3];
          std::string key = b.substr(0, b.find('.') + 1);
          ++seen[key];
        }
        for (const Sent& m : acked) {
          if (m.group != g) continue;
          std::string key = m.body.substr(0, m.body.find('.') + 1);
          if (seen[key] != 1) {
            return why = g + " on node " + std::to_string(n) + ": " + m.body + " seen " + std::to_string(seen[key]) +
                         " times", false;
          }
        }
        for (const auto& [k, count] : seen) {
          if (count > 1) return why = g + ": " + k + " duplicated", false;
        }
      }
    }
    return true;
  };
  auto deadline = Clock::now() + std::chrono::seconds(150);
  bool ok = false;
  while (!ok && Clock::now() < deadline) {  // replication catching up after the faults
    ok = converged();
    if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const double converged_s = std::chrono::duration<double>(Clock::now() - deadline).count() + 150;
  std::printf("chaos: %s %.1f s after the last step\n", ok ? "converged" : "not converged", converged_s);
  ASSERT_TRUE(ok) << "seed " << seed << ": " << why;
  // The chains verify on every node.
  for (size_t n = 0; n < kNodes; ++n) {
    for (const std::string& g : groups) {
      auto v = nodes_[n]->Cli({"admin", "verify-group", g});
      EXPECT_EQ(v.exit_code, 0) << "seed " << seed << " node " << n << " " << g << ": " << v.out << v.err;
    }
  }
}

}  // namespace
}  // namespace gc::test
