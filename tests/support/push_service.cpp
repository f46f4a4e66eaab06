#include "tests/support/push_service.h"

#include <gtest/gtest.h>

namespace gc::test {

using nlohmann::json;

namespace {

std::vector<std::string> ReceiverArgs(const std::string& subject, const std::vector<PushService::TlsListener>& tls) {
  std::vector<std::string> args;
  if (!subject.empty()) args = {"--subject", subject};
  for (const auto& t : tls) {
    args.push_back("--tls");
    args.push_back(t.name + ":" + t.cert + ":" + t.key);
  }
  return args;
}

}  // namespace

PushService::PushService(const std::string& subject, const std::vector<TlsListener>& tls)
    : script_(std::string(GC_SOURCE_DIR) + "/tests/push/push_receiver.js", ReceiverArgs(subject, tls),
              std::string(GC_SOURCE_DIR) + "/tests/push/node_modules/http_ece", "run `make deps` (npm ci in tests/push)"),
      control_(script_.ready()["port"].get<int>()) {
  control_.set_timeout(std::chrono::seconds(40));
}

json PushService::Subscribe(json script, const std::string& tls, const std::string& host) {
  json body = {{"script", std::move(script)}};
  if (!tls.empty()) body["tls"] = tls;
  if (!host.empty()) body["host"] = host;
  auto r = control_.Post("/subscriptions", body);
  EXPECT_EQ(r.status, 201) << r.body;
  return r.json();
}

json PushService::Pushes(const json& sub, int count, int timeout_ms) {
  auto r = control_.Get("/subscriptions/" + sub["id"].get<std::string>() + "/pushes?count=" + std::to_string(count) +
                        "&timeout_ms=" + std::to_string(timeout_ms));
  EXPECT_EQ(r.status, 200) << r.body;
  return r.json()["pushes"];
}

json PusherBody(const json& sub) {
  return {{"kind", "webpush"}, {"endpoint", sub["endpoint"]}, {"expirationTime", nullptr}, {"keys", sub["keys"]}};
}

}  // namespace gc::test
