#include "tests/support/federated_nodes.h"

#include "tests/harness/test_util.h"

namespace gc::test {

using nlohmann::json;

std::string FederatedNodeYaml(const std::vector<std::string>& names, size_t i, const std::vector<int>& http_ports,
                              int fed_port, int endpoint_port) {
  std::string yaml = "rate_limits:\n  enabled: false\nhttp:\n  listen: 127.0.0.1:" + std::to_string(http_ports[i]) +
                     "\nfederation:\n  listen: tcp://127.0.0.1:" + std::to_string(fed_port) + "\n";
  if (endpoint_port != 0) yaml += "  endpoint: tcp://127.0.0.1:" + std::to_string(endpoint_port) + "\n";
  yaml += "  resolve:\n";
  for (size_t j = 0; j < names.size(); ++j) {
    if (j != i) yaml += "    " + names[j] + ": http://127.0.0.1:" + std::to_string(http_ports[j]) + "\n";
  }
  return yaml;
}

json ReadGroupLog(const std::function<HttpResponse(const std::string& path)>& get, const std::string& group,
                  HttpResponse* failed) {
  json all = json::array();
  std::string before;
  for (int page_no = 0; page_no < 1000; ++page_no) {
    HttpResponse r = get("/api/v1/groups/" + PathSegment(group) + "/messages?limit=100" + before);
    if (r.status != 200) {
      if (failed) *failed = r;
      return json();
    }
    json body = r.json();
    json page = json::array();
    for (auto& e : body["events"]) page.push_back({e["seq"], e["event_id"], e["type"], e["content"].value("body", "")});
    if (!page.empty()) before = "&before=" + std::to_string(page[0][0].get<int64_t>());
    page.insert(page.end(), all.begin(), all.end());
    all = std::move(page);
    if (!body.value("has_more", false)) break;
  }
  return all;
}

}  // namespace gc::test
