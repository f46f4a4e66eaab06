// What the multinode tests share about several federated nodes on loopback:
// the YAML that makes node i of a set listen on its ports and resolve every
// other node of the set, and the whole log of a group as one node holds it.
// The fixtures built on it: FederationTest (tests/integration/
// federation_fixture.h) and the chaos test (tests/soak/), which puts a fault
// proxy in front of each node's federation port.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/harness/http_client.h"

namespace gc::test {

// The extra YAML of node `i` of `names` (rate limits off): HTTP on
// 127.0.0.1:http_ports[i], federation on tcp://127.0.0.1:fed_port, published
// as tcp://127.0.0.1:endpoint_port if that is not 0 (a proxy in front of
// it), and federation.resolve naming every other node's HTTP port.
std::string FederatedNodeYaml(const std::vector<std::string>& names, size_t i, const std::vector<int>& http_ports,
                              int fed_port, int endpoint_port = 0);

// The whole log of `group` as a node holds it, oldest first, paged through
// GET /api/v1/groups/{group}/messages with `get` (a path -> its answer):
// [[seq, event_id, type, body]]. Null if a page was not answered 200
// (`failed`, if given, gets that answer). At most 1000 pages.
nlohmann::json ReadGroupLog(const std::function<HttpResponse(const std::string& path)>& get, const std::string& group,
                            HttpResponse* failed = nullptr);

}  // namespace gc::test
