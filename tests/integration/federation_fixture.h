// The fixture of the multinode federation tests (federation_test.cpp,
// federation_faults_test.cpp): real node processes on loopback, each with its
// own database, resolving each other through federation.resolve, and the
// client calls their scenarios are written in (on tests/support/api.h and
// tests/support/federated_nodes.h).
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/harness.h"
#include "node/db/pg.h"
#include "tests/support/api.h"
#include "tests/support/federated_nodes.h"

namespace gc::test {

using nlohmann::json;

struct User {
  std::string id, token;
  int port;
};

// Polls `fn` every 50 ms for up to `seconds`; true once it returned true.
template <typename Fn>
bool Eventually(Fn fn, int seconds = 30) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The joins a node has taken up for user $1: each is recorded before it
// goes to the home (federation/join.cpp), and stays while the home does not
// answer.
GC_SQL(kRecordedJoins, "SELECT count(*) FROM fed_pending_joins WHERE user_id = $1");

class FederationTest : public ::testing::Test {
 protected:
  // Nodes named `names`, each resolving the others through federation.resolve.
  // With `embedded_db`, each node runs its own PostgreSQL, which dies with it
  // (a SIGKILL of the node loses what its database had not flushed).
  void StartNodes(const std::vector<std::string>& names, const std::string& extra = "", bool embedded_db = false) {
    std::vector<int> http, fed;
    for (size_t i = 0; i < names.size(); ++i) {
      http.push_back(FreeLoopbackPort());
      fed.push_back(FreeLoopbackPort());
    }
    for (size_t i = 0; i < names.size(); ++i) {
      NodeOptions o;
      o.name = names[i];
      o.embedded_db = embedded_db;
      o.extra_yaml = FederatedNodeYaml(names, i, http, fed[i]) + extra;
      nodes_.push_back(std::make_unique<NodeProcess>(o));
    }
    for (auto& n : nodes_) n->Start();
  }
  void TearDown() override {
    for (auto& n : nodes_) {
      if (n->Running()) {
        kill(n->pid(), SIGCONT);
        EXPECT_EQ(n->Stop(), 0) << n->LogText();
      }
    }
  }
  NodeProcess& N(size_t i) { return *nodes_[i]; }
  // The number of rows `query` ($1: `user`) counts in node `node`'s database.
  std::function<int()> RowCounter(size_t node, const SqlQuery& query, const std::string& user) {
    auto db = std::make_shared<PgConn>(N(node).database_url());
    EXPECT_TRUE(db->Connect().ok());
    return [db, &query, user] {
      auto r = db->Exec(query, {user});
      EXPECT_TRUE(r.ok());
      return r.ok() && r->rows() > 0 ? static_cast<int>(r->int64(0, 0)) : 0;
    };
  }

  User Register(size_t node) {
    TestUser u = RegisterUser(N(node));
    return {u.id, u.token, N(node).http_port()};
  }
  static HttpResponse Post(const User& u, const std::string& path, const json& body = json::object()) {
    return HttpClient(u.port).Post(path, body, u.token);
  }
  static HttpResponse Get(const User& u, const std::string& path) { return HttpClient(u.port).Get(path, u.token); }
  static std::string CreateGroup(const User& owner, json extra = json::object()) {
    HttpClient c(owner.port);
    return gc::test::CreateGroup(c, owner.token, std::move(extra));
  }
  static HttpResponse Send(const User& u, const std::string& g, const std::string& body, json extra = json::object()) {
    extra["body"] = body;
    return Post(u, "/api/v1/groups/" + G(g) + "/messages", extra);
  }
  // The whole log as one user's node holds it: [(seq, event_id, type, body)].
  static json Log(const User& u, const std::string& g) {
    HttpResponse failed;
    json log = ReadGroupLog([&](const std::string& path) { return Get(u, path); }, g, &failed);
    if (log.is_null()) ADD_FAILURE() << "history: " << failed.status << " " << failed.body;
    return log;
  }
  static bool HasBody(const User& u, const std::string& g, const std::string& body) {
    for (auto& e : Log(u, g)) {
      if (e.is_array() && e[3] == body) return true;
    }
    return false;
  }

  std::vector<std::unique_ptr<NodeProcess>> nodes_;
};

}  // namespace gc::test
