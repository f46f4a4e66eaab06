// Checks the federation primitives against the committed test vectors in
// spec/test-vectors/ (a second implementation runs the same files).
#include <gtest/gtest.h>
#include <sodium.h>

#include <fstream>

#include "node/identity/node_keys.h"
#include "services/groups/signed_log/canonical_json.h"
#include "services/groups/signed_log/signed_event.h"

namespace gc {
namespace {

using nlohmann::json;

json LoadVectors(const std::string& name) {
  std::ifstream in(std::string(GC_SOURCE_DIR) + "/spec/test-vectors/" + name);
  EXPECT_TRUE(in.good()) << name;
  return json::parse(in);
}

std::string Hex(const std::string& raw) {
  std::string out(raw.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  out.pop_back();
  return out;
}

TEST(FederationVectors, CanonicalJson) {
  ASSERT_GE(sodium_init(), 0);
  json v = LoadVectors("canonical_json.json");
  ASSERT_GE(v["valid"].size(), 10u);
  for (const auto& c : v["valid"]) {
    auto parsed = ParseStrictJson(c["input"].get<std::string>());
    ASSERT_TRUE(parsed.ok()) << c["input"];
    auto canon = CanonicalJson(*parsed);
    ASSERT_TRUE(canon.ok()) << c["input"];
    EXPECT_EQ(*canon, c["canonical"].get<std::string>());
    EXPECT_EQ(Hex(Sha256(*canon)), c["sha256_hex"].get<std::string>());
    // Canonical form is a fixed point.
    EXPECT_EQ(*CanonicalJson(*ParseStrictJson(*canon)), *canon);
  }
  for (const auto& c : v["invalid"]) {
    auto parsed = ParseStrictJson(c["input"].get<std::string>());
    bool refused = !parsed.ok() || !CanonicalJson(*parsed).ok();
    EXPECT_TRUE(refused) << c["input"] << " (" << c["why"] << ")";
  }
}

TEST(FederationVectors, RefusesInvalidUtf8AndDeepNesting) {
  EXPECT_FALSE(ParseStrictJson("{\"a\":\"\xff\"}").ok());
  EXPECT_FALSE(CanonicalJson(json(std::string("\xc3\x28"))).ok());
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_FALSE(ParseStrictJson(deep).ok());
  EXPECT_FALSE(ParseStrictJson("{\"a\":1,").ok());
  std::string ok_deep(64, '[');
  ok_deep += std::string(64, ']');
  EXPECT_TRUE(ParseStrictJson(ok_deep).ok());
  EXPECT_FALSE(ParseStrictJson("[" + ok_deep + "]").ok());
}

TEST(FederationVectors, StrictParserRefusesDuplicateKeysAtAnyDepth) {
  EXPECT_FALSE(ParseStrictJson(R"({"a":1,"a":2})").ok());
  EXPECT_FALSE(ParseStrictJson(R"({"x":[{"b":1},{"c":{"d":1,"d":1}}]})").ok());
  auto e = ParseStrictJson(R"({"k":{"dup":1,"dup":1}})");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("duplicate key \"dup\""), std::string::npos);
  // Same keys in different objects are fine; values come out as parsed.
  auto v = ParseStrictJson(R"({"a":{"a":1},"b":[{"a":true},{"a":null}],"c":"s\u00e9","d":-5,"e":1.5,"f":[]})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, json::parse(R"({"a":{"a":1},"b":[{"a":true},{"a":null}],"c":"s\u00e9","d":-5,"e":1.5,"f":[]})"));
  EXPECT_EQ(*ParseStrictJson("7"), json(7));
  EXPECT_EQ(*ParseStrictJson(" \"x\" "), json("x"));
  EXPECT_FALSE(ParseStrictJson("").ok());
  EXPECT_FALSE(ParseStrictJson("{} {}").ok());
  EXPECT_FALSE(ParseStrictJson("[1,]").ok());
}

TEST(FederationVectors, EventIdAndSignature) {
  ASSERT_GE(sodium_init(), 0);
  json v = LoadVectors("event_signing.json");
  std::string seed(32, '\0');
  size_t len = 0;
  std::string hex = v["seed_hex"];
  ASSERT_EQ(sodium_hex2bin(reinterpret_cast<unsigned char*>(seed.data()), 32, hex.data(), hex.size(), nullptr, &len,
                           nullptr),
            0);
  unsigned char pk[32], sk[64];
  crypto_sign_seed_keypair(pk, sk, reinterpret_cast<const unsigned char*>(seed.data()));
  SigningKey key{v["server"], v["key_id"], std::string(reinterpret_cast<char*>(sk), 64),
                 std::string(reinterpret_cast<char*>(pk), 32)};
  EXPECT_EQ(Base64Url(key.public_key), v["public_key"].get<std::string>());
  EXPECT_EQ("ed25519:" + Base64Url(key.public_key).substr(0, 8), key.key_id);

  json event = v["event"];
  EXPECT_EQ(*SigningBytes(event), v["signing_bytes"].get<std::string>());
  EXPECT_EQ(Hex(Sha256(*SigningBytes(event))), v["sha256_hex"].get<std::string>());
  EXPECT_EQ(*ContentId(event), v["event_id"].get<std::string>());
  ASSERT_TRUE(Sign(event, key).ok());
  EXPECT_EQ(event["signatures"][key.server][key.key_id], v["signature"]);
  EXPECT_EQ(event, v["signed_event"]);
  EXPECT_TRUE(Verify(v["signed_event"], key.server, key.key_id, key.public_key).ok());
  // The id does not depend on signatures or unsigned data.
  EXPECT_EQ(*ContentId(v["signed_event"]), v["event_id"].get<std::string>());
}

TEST(FederationVectors, TamperingIsDetected) {
  json v = LoadVectors("event_signing.json");
  auto pk = DecodeBase64Url(v["public_key"]);
  ASSERT_TRUE(pk.ok());
  const std::string server = v["server"], key_id = v["key_id"];
  json e = v["signed_event"];
  e["content"]["body"] = "Hello, world";
  EXPECT_EQ(Verify(e, server, key_id, *pk).error().code, ErrorCode::kUnauthorized);
  EXPECT_NE(*ContentId(e), v["event_id"].get<std::string>());
  json moved = v["signed_event"];
  moved["origin_ts"] = moved["origin_ts"].get<int64_t>() + 1;
  EXPECT_FALSE(Verify(moved, server, key_id, *pk).ok());
  json other = v["signed_event"];
  EXPECT_FALSE(Verify(other, "beta.test", key_id, *pk).ok());  // no signature by that server
  json garbled = v["signed_event"];
  garbled["signatures"][server][key_id] = "!!not base64!!";
  EXPECT_FALSE(Verify(garbled, server, key_id, *pk).ok());
  std::string wrong_key(32, '\x01');
  EXPECT_FALSE(Verify(v["signed_event"], server, key_id, wrong_key).ok());
}

}  // namespace
}  // namespace gc
