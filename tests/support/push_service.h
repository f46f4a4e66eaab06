// PushService: the local Web Push service of the tests
// (tests/push/push_receiver.js, run with node; proven against the npm
// web-push package by tests/push/receiver.test.js). It plays the browser's
// push service and the browser: every push is decrypted with npm http_ece
// and its VAPID token checked with node's crypto, and the test reads what
// arrived through a control API on loopback. Optional https listeners
// (TlsListener) present a test's certificates, for pushes over TLS.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/harness/http_client.h"
#include "tests/harness/node_script.h"

namespace gc::test {

class PushService {
 public:
  // An https listener for push endpoints: `name` picks it in Subscribe.
  struct TlsListener {
    std::string name, cert, key;  // PEM files
  };
  // `subject`: the VAPID sub every push must carry ("" for any).
  explicit PushService(const std::string& subject, const std::vector<TlsListener>& tls = {});

  // A new subscription {id, endpoint, keys}, answering `script` first
  // ([{status, retry_after?}], then 201). With `tls`, its endpoint is
  // https://HOST:PORT/push/ID on that listener (HOST: `host`, or 127.0.0.1).
  nlohmann::json Subscribe(nlohmann::json script = nlohmann::json::array(), const std::string& tls = "",
                           const std::string& host = "");
  // The pushes that reached `sub` once `count` did, or after `timeout_ms`.
  nlohmann::json Pushes(const nlohmann::json& sub, int count, int timeout_ms = 20000);
  // The port of https listener `name`.
  int TlsPort(const std::string& name) const { return script_.ready()["tls"].value(name, 0); }

 private:
  NodeScript script_;
  HttpClient control_;
};

// The body of POST /me/pushers for a subscription, as a browser's
// PushSubscription.toJSON() gives it.
nlohmann::json PusherBody(const nlohmann::json& sub);

}  // namespace gc::test
