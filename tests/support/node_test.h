// tests/support/: the shared fixtures of the integration tests. Why a folder
// beside tests/harness/ rather than more harness: the harness is the
// machinery that drives the binary (processes, a private PostgreSQL, sockets,
// HTTP and WebSocket clients) and knows nothing of the API's words or of
// gtest fixtures; support is the vocabulary the tests are written in, on top
// of it: a node for a suite, users with tokens, groups, messages, streams, an
// admin, a loopback listener. A test that needs one of these takes it from
// here instead of writing its own, so that a change to registration or to the
// stream handshake is made once.
//
//   NodeTest          a gtest fixture: one node per suite, checked after each test
//   api.h             RegisterUser, CreateAdmin, CreateGroup, SendMessage, OpenStream,
//                     NotificationFor / WaitNotification (the inbox), ...
//   loopback_listener.h  a TCP listener on 127.0.0.1:0 (black hole, or accept it yourself)
//   federated_nodes.h    the YAML of several federated nodes on loopback, a group's whole log
//   push_service.h       the local Web Push service (tests/push), over http and https
//   test_ca.h            a throwaway CA and its leaf certificates (openssl CLI)
//
// The multinode fixture (several federated nodes) is
// tests/integration/federation_fixture.h, built on the same helpers.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/harness/harness.h"
#include "tests/support/api.h"

namespace gc::test {

// The YAML that turns rate limits off, for suites whose tests make many calls.
inline constexpr const char* kNoRateLimits = "rate_limits:\n  enabled: false\n";

// A fixture whose suite shares one node, started by the suite:
//
//   class GroupsTest : public NodeTest {
//    protected:
//     static void SetUpTestSuite() { StartNode(std::string(kNoRateLimits) + "limits:\n  ..."); }
//   };
//
// After every test the node must still run and answer /healthz (whatever the
// test sent it); after the suite it must stop cleanly (exit 0). Suites of one
// binary run one after another, so they share the node_ slot.
class NodeTest : public ::testing::Test {
 protected:
  // Starts the suite's node with `extra_yaml` merged over the harness's
  // defaults (NodeOptions::extra_yaml); rate limits stay on unless it says so.
  static void StartNode(const std::string& extra_yaml);
  static void StartNode(NodeOptions options);
  static void TearDownTestSuite();
  void TearDown() override;

  // A new user with a unique name (prefix + a number).
  TestUser NewUser(const char* prefix = "u") { return RegisterUser(c_, prefix); }
  // A new group of `owner` with a unique name; `extra` adds fields (title, visibility, ...).
  std::string NewGroup(const TestUser& owner, nlohmann::json extra = nlohmann::json::object()) {
    return CreateGroup(c_, owner.token, std::move(extra));
  }
  // NewGroup, joined by each of `members` (expects 200 each).
  std::string NewGroupWith(const TestUser& owner, const std::vector<const TestUser*>& members,
                           nlohmann::json extra = nlohmann::json::object()) {
    std::string g = NewGroup(owner, std::move(extra));
    for (const TestUser* m : members) JoinGroup(c_, m->token, g);
    return g;
  }
  // Sends a message (expects 201) and returns the stored event.
  nlohmann::json Send(const TestUser& u, const std::string& group, const std::string& body,
                      nlohmann::json extra = nlohmann::json::object()) {
    return SendMessage(c_, u.token, group, body, std::move(extra));
  }
  // A stream of `u`'s, open (expects 101); it has not read its ready frame yet.
  std::unique_ptr<WsClient> Connect(const TestUser& u, std::optional<int64_t> since = std::nullopt) {
    return OpenStream(node_->http_port(), u.token, since);
  }

  static inline NodeProcess* node_ = nullptr;  // owned; set by StartNode
  HttpClient c_{node_->http_port()};
};

}  // namespace gc::test
