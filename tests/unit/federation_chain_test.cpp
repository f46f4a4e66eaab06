// Checks the hash chain primitives (services/groups/signed_log/chain.h) against
// spec/test-vectors/chain.json, which spec/test-vectors/gen_chain.py produces
// with an independent implementation (Python hashlib/json, OpenSSL Ed25519).
#include <gtest/gtest.h>
#include <sodium.h>

#include <fstream>
#include <map>
#include <vector>

#include "node/identity/node_keys.h"
#include "services/groups/signed_log/canonical_json.h"
#include "services/groups/signed_log/chain.h"
#include "services/groups/signed_log/signed_event.h"

namespace gc {
namespace {

using nlohmann::json;

json LoadChainVectors() {
  std::ifstream in(std::string(GC_SOURCE_DIR) + "/spec/test-vectors/chain.json");
  EXPECT_TRUE(in.good()) << "spec/test-vectors/chain.json";
  return json::parse(in);
}

struct Keys {
  std::string public_key, secret_key, key_id;
};

Keys KeysFromSeed(const std::string& seed_hex) {
  std::string seed(32, '\0');
  size_t len = 0;
  EXPECT_EQ(sodium_hex2bin(reinterpret_cast<unsigned char*>(seed.data()), seed.size(), seed_hex.data(),
                           seed_hex.size(), nullptr, &len, nullptr),
            0);
  EXPECT_EQ(len, 32u);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, reinterpret_cast<const unsigned char*>(seed.data()));
  Keys k{std::string(reinterpret_cast<char*>(pk), sizeof pk), std::string(reinterpret_cast<char*>(sk), sizeof sk),
         ""};
  k.key_id = "ed25519:" + Base64Url(k.public_key).substr(0, 8);
  return k;
}

ChainEvent ChainEventFrom(const json& e) {
  ChainEvent c{e["group_id"], e["type"],  e["sender"],       e["origin"], e["origin_ts"].get<int64_t>(),
               e["nonce"],    e["content_hash"], std::nullopt};
  if (e.contains("relates_to")) c.relates_to = e["relates_to"].get<std::string>();
  return c;
}

// Flips one bit of byte `i`.
std::string Flip(std::string s, size_t i) {
  s[i] = static_cast<char>(s[i] ^ 0x01);
  return s;
}

class FederationChain : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    v_ = LoadChainVectors();
    ASSERT_EQ(v_["events"].size(), 2u);
    ASSERT_EQ(v_["entries"].size(), 2u);
    for (const auto& [name, k] : v_["keys"].items()) {
      Keys keys = KeysFromSeed(k["seed_hex"]);
      ASSERT_EQ(Base64Url(keys.public_key), k["public_key"].get<std::string>()) << name;
      ASSERT_EQ(keys.key_id, k["key_id"].get<std::string>()) << name;
      keys_[name] = keys;
    }
  }
  json v_;
  std::map<std::string, Keys> keys_;
};

TEST_F(FederationChain, ContentHash) {
  for (const auto& ev : v_["events"]) {
    EXPECT_EQ(*CanonicalJson(ev["content"]), ev["content_canonical"].get<std::string>());
    auto h = ContentHash(ev["content"]);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(*h, ev["content_hash"].get<std::string>());
    EXPECT_EQ(ev["event"]["content_hash"], ev["content_hash"]);
    // Any change to the content changes the hash.
    json changed = ev["content"];
    changed["x"] = 1;
    EXPECT_NE(*ContentHash(changed), ev["content_hash"].get<std::string>());
  }
  // Content without a canonical form has no hash.
  EXPECT_FALSE(ContentHash(json{{"body", 1.5}}).ok());
  EXPECT_FALSE(ContentHash(json{{"body", std::string("\xc3\x28")}}).ok());
}

TEST_F(FederationChain, EventIdOfOriginEvent) {
  for (const auto& ev : v_["events"]) {
    ChainEvent ce = ChainEventFrom(ev["event"]);
    EXPECT_EQ(OriginEventJson(ce), ev["event"]);
    EXPECT_EQ(*CanonicalJson(OriginEventJson(ce)), ev["event_canonical"].get<std::string>());
    auto id = EventIdOf(ce);
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(*id, ev["event_id"].get<std::string>());
    // The same id through the generic signed-event path (signatures ignored).
    EXPECT_EQ(*ContentId(ev["event"]), ev["event_id"].get<std::string>());
  }
  // relates_to is hashed when present, absent otherwise.
  ChainEvent without = ChainEventFrom(v_["events"][1]["event"]);
  without.relates_to.reset();
  EXPECT_FALSE(OriginEventJson(without).contains("relates_to"));
  EXPECT_NE(*EventIdOf(without), v_["events"][1]["event_id"].get<std::string>());
  // Every field of E is covered.
  ChainEvent moved = ChainEventFrom(v_["events"][0]["event"]);
  moved.origin_ts += 1;
  EXPECT_NE(*EventIdOf(moved), v_["events"][0]["event_id"].get<std::string>());
}

TEST_F(FederationChain, OriginSignature) {
  int signed_events = 0;
  for (const auto& ev : v_["events"]) {
    if (ev["origin_signature"].is_null()) {
      // Only events whose origin is the home node go without one.
      EXPECT_EQ(ev["event"]["origin"], v_["home"]);
      continue;
    }
    ++signed_events;
    const json& s = ev["origin_signature"];
    ASSERT_EQ(s["server"], ev["event"]["origin"]);
    const Keys& k = keys_.at(s["server"]);
    ASSERT_EQ(s["key_id"].get<std::string>(), k.key_id);
    std::string bytes = ev["event_canonical"];
    std::string sig = s["signature"];
    EXPECT_EQ(SignBytes(bytes, k.secret_key), sig);
    EXPECT_TRUE(VerifyBytes(bytes, sig, k.public_key));
    // The same signature through Sign/Verify on the event object.
    json e = ev["event"];
    SigningKey sk{s["server"], k.key_id, k.secret_key, k.public_key};
    ASSERT_TRUE(Sign(e, sk).ok());
    EXPECT_EQ(e["signatures"][sk.server][sk.key_id].get<std::string>(), sig);
    EXPECT_TRUE(Verify(e, sk.server, sk.key_id, k.public_key).ok());
  }
  EXPECT_EQ(signed_events, 1);
}

TEST_F(FederationChain, EntryHashAndLinks) {
  const std::string gid = v_["group_id"];
  std::string prev;
  for (size_t i = 0; i < v_["entries"].size(); ++i) {
    const json& en = v_["entries"][i];
    const json& h = en["entry"];
    EXPECT_EQ(h["seq"].get<int64_t>(), static_cast<int64_t>(i + 1));
    EXPECT_EQ(h["prev"].get<std::string>(), prev) << "seq " << i + 1;
    EXPECT_EQ(h["event_id"], v_["events"][i]["event_id"]);
    EXPECT_EQ(h["group_id"].get<std::string>(), gid);
    json built = EntryJson(gid, h["seq"], h["prev"], h["event_id"], h["home_ts"]);
    EXPECT_EQ(built, h);
    EXPECT_EQ(*CanonicalJson(built), en["entry_canonical"].get<std::string>());
    auto hash = EntryHash(gid, h["seq"], h["prev"], h["event_id"], h["home_ts"]);
    ASSERT_TRUE(hash.ok());
    EXPECT_EQ(*hash, en["entry_hash"].get<std::string>());
    EXPECT_EQ(Base64Url(Sha256(en["entry_canonical"].get<std::string>())), *hash);
    prev = *hash;
  }
  EXPECT_EQ(prev, v_["chain_head"].get<std::string>());
  EXPECT_TRUE(v_["entries"][0]["entry"]["prev"].get<std::string>().empty());
}

TEST_F(FederationChain, HomeSignature) {
  const std::string home = v_["home"];
  const Keys& k = keys_.at(home);
  for (const auto& en : v_["entries"]) {
    const json& s = en["home_signature"];
    ASSERT_EQ(s["server"].get<std::string>(), home);
    ASSERT_EQ(s["key_id"].get<std::string>(), k.key_id);
    std::string bytes = en["entry_canonical"];
    EXPECT_EQ(SignBytes(bytes, k.secret_key), s["signature"].get<std::string>());
    EXPECT_TRUE(VerifyBytes(bytes, s["signature"], k.public_key));
  }
}

TEST_F(FederationChain, PushEntriesMatchTheChain) {
  const std::string home = v_["home"];
  ASSERT_EQ(v_["push_entries"].size(), v_["entries"].size());
  for (size_t i = 0; i < v_["push_entries"].size(); ++i) {
    const json& p = v_["push_entries"][i];
    const json& en = v_["entries"][i];
    const json& ev = v_["events"][i];
    EXPECT_EQ(p["seq"], en["entry"]["seq"]);
    EXPECT_EQ(p["prev"], en["entry"]["prev"]);
    EXPECT_EQ(p["home_ts"], en["entry"]["home_ts"]);
    EXPECT_EQ(p["event_id"], ev["event_id"]);
    EXPECT_EQ(p["content"], ev["content"]);
    EXPECT_EQ(*ContentHash(p["content"]), p["event"]["content_hash"].get<std::string>());
    EXPECT_EQ(*EventIdOf(ChainEventFrom(p["event"])), p["event_id"].get<std::string>());
    const Keys& hk = keys_.at(home);
    EXPECT_EQ(p["signatures"][home][hk.key_id], en["home_signature"]["signature"]);
    if (ev["origin_signature"].is_null()) {
      EXPECT_FALSE(p["event"].contains("signatures"));
    } else {
      const std::string origin = ev["origin_signature"]["server"];
      const Keys& ok = keys_.at(origin);
      EXPECT_TRUE(Verify(p["event"], origin, ok.key_id, ok.public_key).ok());
    }
  }
}

TEST_F(FederationChain, TamperingFailsVerification) {
  const Keys& home = keys_.at(v_["home"]);
  const json& en = v_["entries"][1];
  const std::string bytes = en["entry_canonical"], sig = en["home_signature"]["signature"];
  ASSERT_TRUE(VerifyBytes(bytes, sig, home.public_key));
  // One flipped bit anywhere in the signed bytes.
  for (size_t i : {size_t{0}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_FALSE(VerifyBytes(Flip(bytes, i), sig, home.public_key)) << "byte " << i;
  }
  // A changed field: another seq, prev or home_ts gives another hash and
  // bytes that the signature does not cover.
  const json& h = en["entry"];
  const std::string gid = v_["group_id"];
  auto other_seq = CanonicalJson(EntryJson(gid, h["seq"].get<int64_t>() + 1, h["prev"], h["event_id"], h["home_ts"]));
  auto other_prev = CanonicalJson(EntryJson(gid, h["seq"], "", h["event_id"], h["home_ts"]));
  auto other_ts = CanonicalJson(EntryJson(gid, h["seq"], h["prev"], h["event_id"], h["home_ts"].get<int64_t>() + 1));
  for (const auto& b : {*other_seq, *other_prev, *other_ts}) {
    EXPECT_NE(Base64Url(Sha256(b)), en["entry_hash"].get<std::string>());
    EXPECT_FALSE(VerifyBytes(b, sig, home.public_key));
  }
  // A tampered signature, a malformed one, the wrong key.
  auto raw = DecodeBase64Url(sig);
  ASSERT_TRUE(raw.ok());
  EXPECT_FALSE(VerifyBytes(bytes, Base64Url(Flip(*raw, 10)), home.public_key));
  EXPECT_FALSE(VerifyBytes(bytes, sig.substr(0, sig.size() - 2), home.public_key));
  EXPECT_FALSE(VerifyBytes(bytes, sig + "=", home.public_key));
  EXPECT_FALSE(VerifyBytes(bytes, "", home.public_key));
  const Keys& other = keys_.at("beta.test");
  EXPECT_FALSE(VerifyBytes(bytes, sig, other.public_key));
  EXPECT_FALSE(VerifyBytes(bytes, sig, home.public_key.substr(0, 31)));

  // The origin signature: a flipped byte of E, or a changed content (through
  // content_hash), no longer verifies.
  const json& ev = v_["events"][0];
  const Keys& origin = keys_.at(ev["origin_signature"]["server"]);
  const std::string ebytes = ev["event_canonical"], esig = ev["origin_signature"]["signature"];
  ASSERT_TRUE(VerifyBytes(ebytes, esig, origin.public_key));
  EXPECT_FALSE(VerifyBytes(Flip(ebytes, ebytes.size() / 3), esig, origin.public_key));
  json content = ev["content"];
  content["body"] = "Hi @alice:acme.test, \"cafe\" 🚀\n";
  ChainEvent ce = ChainEventFrom(ev["event"]);
  ce.content_hash = *ContentHash(content);
  auto changed = CanonicalJson(OriginEventJson(ce));
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(*EventIdOf(ce), ev["event_id"].get<std::string>());
  EXPECT_FALSE(VerifyBytes(*changed, esig, origin.public_key));
}

// The direct writers of canonical(E) and canonical(H) give the bytes the
// generic encoder gives, escapes and all, and refuse what it refuses.
TEST(ChainCanonicalTest, DirectWritersMatchTheGenericEncoder) {
  std::vector<std::string> odd = {"", "plain", "quote \" and back\\slash", "tab\tnew\nline\r", std::string("nul\0x", 5),
                                  "\x01\x1f\x7f", "caf\xc3\xa9 \xf0\x9f\x9a\x80", "/slash/"};
  for (const auto& a : odd) {
    for (bool rel : {false, true}) {
      ChainEvent ce{"#g:" + a, "message" + a, "@u:" + a, a + "origin", 1764000000000, a + "nonce", a, std::nullopt};
      if (rel) ce.relates_to = "$" + a;
      auto direct = CanonicalOriginEvent(ce);
      auto generic = CanonicalJson(OriginEventJson(ce));
      ASSERT_TRUE(direct.ok() && generic.ok()) << a;
      EXPECT_EQ(*direct, *generic);
      EXPECT_EQ(*EventIdOf(ce), *ContentId(OriginEventJson(ce)));
    }
    auto direct = CanonicalEntry("#g:" + a, 7, a, "$" + a, -3);
    auto generic = CanonicalJson(EntryJson("#g:" + a, 7, a, "$" + a, -3));
    ASSERT_TRUE(direct.ok() && generic.ok()) << a;
    EXPECT_EQ(*direct, *generic);
  }
  ChainEvent bad{"#g:x", "message", "@u:x", "x", 1, "\xff", "h", std::nullopt};
  EXPECT_FALSE(CanonicalOriginEvent(bad).ok());
  EXPECT_FALSE(CanonicalJson(OriginEventJson(bad)).ok());
  ChainEvent big{"#g:x", "message", "@u:x", "x", int64_t{1} << 53, "n", "h", std::nullopt};
  EXPECT_FALSE(CanonicalOriginEvent(big).ok());
  EXPECT_FALSE(CanonicalEntry("#g:x", int64_t{1} << 53, "", "$e", 0).ok());
  EXPECT_FALSE(CanonicalEntry("#g:x", 1, "\xc3", "$e", 0).ok());
}

}  // namespace
}  // namespace gc
