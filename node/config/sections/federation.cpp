// federation.*: the ZeroMQ endpoint for other nodes and who may use it.
#include "node/config/config_checks.h"
#include "node/config/config_schema.h"

namespace gc::config {
namespace {

bool ValidFederationListen(std::string_view s) {
  constexpr std::string_view kScheme = "tcp://";
  if (s.substr(0, kScheme.size()) != kScheme) return false;
  return IsHostPort(s.substr(kScheme.size()), /*allow_star=*/true);
}

bool ValidPublishedEndpoint(std::string_view s) {
  constexpr std::string_view kScheme = "tcp://";
  if (s.empty()) return true;
  if (s.substr(0, kScheme.size()) != kScheme) return false;
  auto hp = s.substr(kScheme.size());
  return IsHostPort(hp, /*allow_star=*/false) && hp.substr(hp.rfind(':') + 1) != "0";
}

bool ValidPolicy(std::string_view s) { return s == "open" || s == "allowlist"; }

const Key kFederationKeys[] = {
    {"listen", StringField{GC_CONFIG_REF(federation.listen), ValidFederationListen,
                           "tcp://host:port (port 0 to 65535)"},
     "Where this node listens for other nodes (ZeroMQ with CURVE); host may be *."},
    {"policy", StringField{GC_CONFIG_REF(federation.policy), ValidPolicy, "open or allowlist"},
     "open: any node not denied; allowlist: only the nodes in allow."},
    {"allow", ListField{GC_CONFIG_REF(federation.allow), ValidServerName, kServerNameExpect},
     "Server names admitted when policy is allowlist."},
    {"deny", ListField{GC_CONFIG_REF(federation.deny), ValidServerName, kServerNameExpect},
     "Server names always refused, whatever the policy."},
    {"endpoint", StringField{GC_CONFIG_REF(federation.endpoint), ValidPublishedEndpoint,
                             "empty, or tcp://host:port with a port 1 to 65535"},
     "The address other nodes connect to, published in the node document; empty: the bound listen address."},
    {"rate_per_peer", DoubleField{GC_CONFIG_REF(federation.rate_per_peer), 0, true},
     "Frames per second one peer may send (token bucket); beyond it the peer is answered rate_limited."},
    {"burst_per_peer", DoubleField{GC_CONFIG_REF(federation.burst_per_peer), 1, false},
     "Bucket size of rate_per_peer."},
    {"resolve", MapField{GC_CONFIG_REF(federation.resolve), ValidServerName, kServerNameExpect, ValidBaseUrl,
                         "an http:// or https:// URL"},
     "Server name -> base URL of that node's HTTP port, used instead of https://NAME."},
};

}  // namespace

Section FederationConfigSection() {
  return {"federation", "Federation with other nodes: endpoint, admission and name resolution.", kFederationKeys};
}

}  // namespace gc::config
