// What the integration tests say to a node through its API, in one place:
// users with tokens, an admin, groups, messages, streams. Each call checks
// the status it needs with a non-fatal EXPECT (naming what failed and the
// body) and then returns an empty value, so a test that cannot go on without
// the value ASSERTs on it (`ASSERT_FALSE(u.token.empty())`).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/harness/http_client.h"
#include "tests/harness/node_process.h"
#include "tests/harness/ws_client.h"

namespace gc::test {

// The password of users the tests register.
inline constexpr const char* kTestPassword = "correct horse";

struct TestUser {
  std::string name;   // the username, e.g. u1234n5
  std::string id;     // the address, e.g. @u1234n5:acme.test
  std::string token;  // a session's access token
};

// Registers `name` (expects 201). Empty on failure.
TestUser RegisterAs(HttpClient& c, const std::string& name, const std::string& password = kTestPassword);
// Registers a user with a unique name: prefix + a number (UniqueName).
TestUser RegisterUser(HttpClient& c, const char* prefix = "u");
// The same over a connection of its own, closed before it returns (for tests
// that count the node's connections).
TestUser RegisterUser(const NodeProcess& node, const char* prefix = "u");

// Logs `name` in (expects 200); the new session's access token, or "".
std::string LogIn(HttpClient& c, const std::string& name, const std::string& password = kTestPassword);

// Creates an admin the way an operator does (`groupchat admin create-user
// --admin`, expects exit 0) and logs in (expects 200). The access token, or ""
// if either failed.
std::string CreateAdmin(NodeProcess& node, const std::string& name, const std::string& password);

// Creates a group named uniquely (expects 201) with the fields of `extra`;
// returns its address ("" on failure).
std::string CreateGroup(HttpClient& c, const std::string& token,
                        nlohmann::json extra = nlohmann::json::object());

// The holder of `token` joins `group` (expects 200).
void JoinGroup(HttpClient& c, const std::string& token, const std::string& group);

// Sends a message to `group` (expects 201); returns the stored event.
nlohmann::json SendMessage(HttpClient& c, const std::string& token, const std::string& group,
                           const std::string& body, nlohmann::json extra = nlohmann::json::object());

// The entry of the holder of `token`'s inbox (its newest 100) for event
// `event_id`, or null if there is none (or the inbox did not answer 200).
nlohmann::json NotificationFor(HttpClient& c, const std::string& token, const std::string& event_id);
// NotificationFor, polled until the entry is there or `timeout_ms` passed
// (the notification worker runs after the send answered, by design): the
// entry, or null.
nlohmann::json WaitNotification(HttpClient& c, const std::string& token, const std::string& event_id,
                                int timeout_ms = 10000);

// The "code" of an error answer.
std::string ErrorCode(const HttpResponse& r);

// A counter's or gauge's value from the node's /metrics (expects 200 and the
// metric there); nullopt if either failed.
std::optional<double> MetricValue(HttpClient& c, const std::string& name);

// Opens a stream with the access token (expects 101), from `since` if given.
// Without since the ready frame comes first; with it, the replay of what
// came after `since` comes first and ends with the ready frame.
std::unique_ptr<WsClient> OpenStream(int port, const std::string& token,
                                     std::optional<int64_t> since = std::nullopt);
// Reads until the ready frame (expects one within 10 s); returns the frames before it.
std::vector<nlohmann::json> UntilReady(WsClient& ws, int timeout_ms = 10000);
// Reads until a close frame arrives (skipping other frames): its code, or 0
// if none came within `timeout_ms`, -1 if the connection ended without one.
int CloseCode(WsClient& ws, int timeout_ms);

// A node of a test's own, started with `extra_yaml` over the harness's
// defaults (NodeOptions::extra_yaml), for settings no suite node has.
std::unique_ptr<NodeProcess> StartNodeWith(const std::string& extra_yaml);

}  // namespace gc::test
