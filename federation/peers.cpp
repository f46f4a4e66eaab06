#include "federation/peers.h"

#include <chrono>
#include <cstring>
#include <thread>

#include "node/common/outbound_http.h"
#include "node/common/address.h"
#include "node/common/log.h"
#include "node/config/config.h"
#include "node/identity/node_keys.h"
#include "services/groups/group_log.h"
#include "services/groups/signed_log/canonical_json.h"
#include "services/groups/signed_log/chain.h"
#include "services/groups/signed_log/signed_event.h"

namespace gc {

using nlohmann::json;

Result<PeerInfo> FetchNodeDocument(const std::string& name, const std::string& base_url,
                                   const OutboundPolicy& policy) {
  auto body = HttpFetch(base_url, "/.well-known/groupchat/node", policy, nullptr);
  if (!body.ok()) return body.error();
  // The strict parser bounds nesting (64): the document is copied below, and
  // nlohmann-json copies recursively.
  auto parsed = ParseStrictJson(*body);
  if (!parsed.ok() || !parsed->is_object()) return Error::Unavailable(name + ": the node document is not JSON");
  json doc = std::move(*parsed);
  auto str = [&](const char* k) { return doc.contains(k) && doc[k].is_string() ? doc[k].get<std::string>() : ""; };
  if (str("name") != name) return Error::Unavailable(name + ": the node document names " + str("name"));
  auto pub = DecodeBase64Url(str("public_key"));
  auto tkey = DecodeBase64Url(str("transport_key"));
  if (!pub.ok() || pub->size() != 32 || !tkey.ok() || tkey->size() != 32) {
    return Error::Unavailable(name + ": the node document has malformed keys");
  }
  std::string sig = str("signature");
  json unsigned_doc = doc;
  unsigned_doc.erase("signature");
  auto bytes = SigningBytes(unsigned_doc);
  if (!bytes.ok() || !VerifyBytes(*bytes, sig, *pub)) {
    return Error::Unavailable(name + ": the node document's signature does not verify");
  }
  std::string endpoint = str("federation_endpoint");
  if (endpoint.rfind("tcp://", 0) != 0) return Error::Unavailable(name + ": no federation endpoint");
  // The endpoint is where the transport will connect: the same outbound
  // policy as for the document (a peer must not point this node at a
  // private address it was not configured for).
  {
    std::string hostport = endpoint.substr(6);
    size_t colon = hostport.rfind(':');
    if (colon == std::string::npos) return Error::Unavailable(name + ": malformed federation endpoint");
    std::string host = hostport.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    auto allowed = ResolveAllowed(host, hostport.substr(colon + 1), policy);
    if (!allowed.ok()) return Error::Unavailable(name + ": federation endpoint refused: " + allowed.error().message);
  }
  PeerInfo p;
  p.name = name;
  p.identity_key = *pub;
  p.key_id = str("key_id");
  if (p.key_id != "ed25519:" + Base64Url(*pub).substr(0, 8)) return Error::Unavailable(name + ": key_id does not match the key");
  p.transport_key = *tkey;
  p.endpoint = endpoint;
  if (doc.contains("rotation") && doc["rotation"].is_object()) {
    const auto& r = doc["rotation"];
    if (r.contains("old_key_id") && r["old_key_id"].is_string()) p.rotation_old_key_id = r["old_key_id"];
    if (r.contains("signature") && r["signature"].is_string()) p.rotation_signature = r["signature"];
  }
  return p;
}

PeerDirectory::PeerDirectory(PeerStore& store, const Config& c)
    : store_(store),
      self_(c.node.name),
      policy_(c.federation.policy),
      allow_(c.federation.allow.begin(), c.federation.allow.end()),
      deny_(c.federation.deny.begin(), c.federation.deny.end()),
      resolve_(c.federation.resolve) {}

Status PeerDirectory::Load() {
  auto peers = store_.LoadPeers();
  if (!peers.ok()) return peers.error();
  auto old = store_.LoadRetiredKeys();
  if (!old.ok()) return old.error();
  std::lock_guard<std::mutex> lock(mu_);
  for (const RetiredPeerKey& k : *old) old_keys_[k.name][k.key_id] = k.key;
  for (PeerInfo& p : *peers) peers_[p.name] = std::move(p);
  return OkStatus();
}

Status PeerDirectory::Introduce(const std::string& name) {
  std::string body = nlohmann::json{{"name", self_}}.dump();
  auto r = HttpFetch(BaseUrl(name), "/_federation/v1/hello", PolicyFor(name, 10000), &body);
  if (!r.ok()) return r.error();
  return OkStatus();
}

std::string PeerDirectory::BaseUrl(const std::string& name) const {
  auto it = resolve_.find(name);
  if (it != resolve_.end()) return it->second;
  return "https://" + name;
}

OutboundPolicy PeerDirectory::PolicyFor(const std::string& name, int deadline_ms) const {
  OutboundPolicy p;
  // An admin who maps a name in federation.resolve chose its address: that
  // is how private networks and tests on loopback federate.
  p.allow_private = resolve_.count(name) > 0;
  p.deadline_ms = deadline_ms;
  return p;
}

bool PeerDirectory::Admits(const std::string& name) const {
  if (name == self_ || !IsValidServerName(name) || deny_.count(name)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(name);
  std::string state = it == peers_.end() ? "" : it->second.admin_state;
  if (state == "blocked") return false;
  if (policy_ == "allowlist") return allow_.count(name) > 0 || state == "allowed";
  return true;
}

std::string PeerDirectory::AdmitsConnection(const std::string& key) const {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [n, p] : peers_) {
      if (!p.identity_key.empty() && p.transport_key == key && !p.key_conflict) name = n;
    }
  }
  return !name.empty() && Admits(name) ? name : "";
}

std::optional<PeerInfo> PeerDirectory::Lookup(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(name);
  if (it == peers_.end() || it->second.identity_key.empty()) return std::nullopt;
  return it->second;
}

Result<PeerInfo> PeerDirectory::Resolve(const std::string& name) {
  if (!Admits(name)) return Error::Forbidden(name + " is not admitted by this node's federation policy");
  if (auto p = Lookup(name)) {
    if (p->key_conflict) return Error::Conflict(name + " presented a different identity key; an admin must accept it");
    return *p;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = failed_at_.find(name);
    if (it != failed_at_.end() && NowMs() - it->second < 2000) {
      return Error::Unavailable(name + " could not be resolved a moment ago");
    }
  }
  auto fetched = FetchNodeDocument(name, BaseUrl(name), PolicyFor(name, 5000));
  if (!fetched.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    failed_at_[name] = NowMs();
    LogWarn("cannot resolve peer", {{"peer", name}, {"error", fetched.error().message}});
    return fetched.error();
  }
  return Pin(*fetched);
}

Result<PeerInfo> PeerDirectory::Pin(const PeerInfo& f) {
  int64_t now = NowMs();
  std::string id = Base64Url(f.identity_key);
  std::optional<std::pair<std::string, std::string>> retired;  // (key id, key) handed over
  auto st = [&]() -> Result<bool> {
    auto pinned = store_.Pin(f, now);
    if (!pinned.ok() || *pinned) return pinned;
    // A different key: accepted only if the pinned key handed over to it.
    auto held = store_.Pinned(f.name);
    if (!held.ok()) return held.error();
    if (*held && !f.rotation_signature.empty() && f.rotation_old_key_id == (*held)->key_id) {
      std::string bytes = RotationBytes(f.name, f.rotation_old_key_id, f.key_id, id);
      if (VerifyBytes(bytes, f.rotation_signature, (*held)->key)) {
        GC_TRY(store_.Rotate(f, **held, now));
        retired = std::make_pair((*held)->key_id, (*held)->key);
        return true;
      }
    }
    GC_TRY(store_.MarkKeyConflict(f.name, f.identity_key));
    return false;
  }();
  if (!st.ok()) return st.error();
  std::lock_guard<std::mutex> lock(mu_);
  PeerInfo& p = peers_[f.name];
  if (!*st) {
    p.key_conflict = id;
    LogError("peer presented a different identity key: refused", {{"peer", f.name}, {"key", id}});
    return Error::Conflict(f.name + " presented a different identity key; an admin must accept it");
  }
  if (retired) {
    old_keys_[f.name][retired->first] = retired->second;
    LogInfo("peer rotated its identity key; following it", {{"peer", f.name}, {"old_key_id", retired->first},
                                                           {"key_id", f.key_id}});
  }
  std::string admin_state = p.admin_state;
  int64_t first = p.first_seen ? p.first_seen : now;
  p = f;
  p.admin_state = admin_state;
  p.first_seen = first;
  p.last_seen = now;
  LogInfo("peer pinned", {{"peer", f.name}, {"key_id", f.key_id}, {"endpoint", f.endpoint}});
  return p;
}

Result<PeerInfo> PeerDirectory::Refresh(const std::string& name) {
  if (!Admits(name)) return Error::Forbidden(name + " is not admitted by this node's federation policy");
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = refreshed_at_.find(name);
    if (it != refreshed_at_.end() && NowMs() - it->second < 1000) {
      auto p = peers_.find(name);
      if (p != peers_.end() && !p->second.identity_key.empty()) return p->second;
      return Error::Unavailable(name + " was refreshed a moment ago");
    }
    refreshed_at_[name] = NowMs();
  }
  auto fetched = FetchNodeDocument(name, BaseUrl(name), PolicyFor(name, 5000));
  if (!fetched.ok()) return fetched.error();
  return Pin(*fetched);
}

Result<std::string> PeerDirectory::KeyFor(const std::string& name, const std::string& key_id) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto p = peers_.find(name);
      if (p != peers_.end() && p->second.key_id == key_id && !p->second.identity_key.empty() &&
          !p->second.key_conflict) {
        return p->second.identity_key;
      }
      auto o = old_keys_.find(name);
      if (o != old_keys_.end()) {
        auto k = o->second.find(key_id);
        if (k != o->second.end()) return k->second;
      }
    }
    if (attempt == 0) {
      // An unknown key id: the peer may have rotated; look again (Refresh
      // fetches at most once a second per peer).
      auto r = Lookup(name) ? Refresh(name) : Resolve(name);
      if (!r.ok()) return r.error();
      if (r->key_id != key_id) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1000));
        r = Refresh(name);
        if (!r.ok()) return r.error();
      }
    }
  }
  return Error::Unauthorized("no known key " + key_id + " of " + name);
}

std::map<std::string, std::map<std::string, std::string>> PeerDirectory::AllKeys() const {
  std::lock_guard<std::mutex> lock(mu_);
  auto out = old_keys_;
  for (const auto& [n, p] : peers_) {
    if (!p.identity_key.empty()) out[n][p.key_id] = p.identity_key;
  }
  return out;
}

Status PeerDirectory::SetAdminState(const std::string& name, const std::string& state) {
  if (!IsValidServerName(name) || name == self_) return Error::Invalid("not a peer server name");
  GC_TRY(store_.SetAdminState(name, state, NowMs()));
  std::lock_guard<std::mutex> lock(mu_);
  auto& p = peers_[name];
  if (p.name.empty()) {
    p.name = name;
    p.first_seen = NowMs();
  }
  p.admin_state = state;
  return OkStatus();
}

Status PeerDirectory::AcceptNewKey(const std::string& name) {
  auto accepted = store_.AcceptNewKey(name);
  if (!accepted.ok()) return accepted.error();
  if (!*accepted) return Error::NotFound("no changed key to accept for " + name);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(name);
  if (it != peers_.end()) {  // re-resolved and re-pinned on next contact; blocks and allows stay
    it->second.identity_key.clear();
    it->second.key_conflict.reset();
  }
  return OkStatus();
}

std::vector<PeerInfo> PeerDirectory::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PeerInfo> out;
  for (const auto& [n, p] : peers_) out.push_back(p);
  return out;
}

void PeerDirectory::Touch(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(name);
  if (it == peers_.end()) return;
  it->second.last_seen = NowMs();
  touched_.insert(name);
}

void PeerDirectory::RecordError(const std::string& name, const std::string& error) {
  (void)store_.RecordError(name, error);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(name);
  if (it != peers_.end()) it->second.last_error = error;
}

void PeerDirectory::FlushContacts() {
  std::map<std::string, int64_t> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& n : touched_) todo[n] = peers_[n].last_seen;
    touched_.clear();
  }
  for (const auto& [n, t] : todo) (void)store_.Touch(n, t);
}

}  // namespace gc
