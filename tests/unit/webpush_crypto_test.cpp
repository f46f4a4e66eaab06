// Web Push cryptography (services/notifications/webpush_crypto.h) against the
// RFCs' own examples: RFC 8291 Appendix A (fixed keys and salt give exactly
// the published message) and RFC 8292 section 2.4 (the signing input of its
// JWT, and its signature checked the way ours are). The integration test
// (tests/integration/webpush_test.cpp) decrypts and verifies what a running
// node sends with independent code (npm http_ece, node's crypto).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "node/common/encoding.h"
#include "services/notifications/webpush_crypto.h"

namespace gc::webpush {
namespace {

std::string B64(const std::string& text) {
  auto raw = DecodeBase64Url(text);
  EXPECT_TRUE(raw.ok()) << text;
  return raw.ok() ? *raw : std::string();
}

// RFC 8291 Appendix A, line breaks removed.
const char kPlaintext[] = "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24";
const char kAsPublic[] = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
const char kAsPrivate[] = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
const char kUaPublic[] = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const char kSalt[] = "DGv6ra1nlYgDCS1FRnbzlw";
const char kAuth[] = "BTBZMqHH6r4Tts7J_aSIgg";
const char kMessage[] =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3j"
    "l7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

TEST(WebPushCrypto, Rfc8291AppendixA) {
  auto sender = KeyPairFromPrivate(B64(kAsPrivate));
  ASSERT_TRUE(sender.ok()) << sender.error().message;
  EXPECT_EQ(Base64Url(sender->public_key), kAsPublic);
  std::string plaintext = B64(kPlaintext);
  EXPECT_EQ(plaintext, "When I grow up, I want to be a watermelon");
  auto out = EncryptAes128gcm(plaintext, B64(kUaPublic), B64(kAuth), *sender, B64(kSalt));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(Base64Url(*out), kMessage);
}

TEST(WebPushCrypto, PaddingAndSizeLimits) {
  auto sender = KeyPairFromPrivate(B64(kAsPrivate));
  ASSERT_TRUE(sender.ok());
  std::string ua = B64(kUaPublic), auth = B64(kAuth), salt = B64(kSalt);
  auto padded = EncryptAes128gcm("hi", ua, auth, *sender, salt, 30);
  ASSERT_TRUE(padded.ok());
  EXPECT_EQ(padded->size(), kHeaderBytes + 2 + 1 + 30 + kTagBytes);
  // The largest plaintext fills the 4096-byte body exactly; one more byte is refused.
  auto full = EncryptAes128gcm(std::string(kMaxPlaintext, 'x'), ua, auth, *sender, salt);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->size(), 4096u);
  EXPECT_FALSE(EncryptAes128gcm(std::string(kMaxPlaintext + 1, 'x'), ua, auth, *sender, salt).ok());
  EXPECT_FALSE(EncryptAes128gcm(std::string(kMaxPlaintext - 4, 'x'), ua, auth, *sender, salt, 5).ok());
  // Fresh key and salt each time; the length shows only to 64 bytes.
  auto a = EncryptForSubscription("hello", ua, auth), b = EncryptForSubscription("hello, world", ua, auth);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), b->size());
  EXPECT_EQ(a->size(), kHeaderBytes + 64 + 1 + kTagBytes);
  EXPECT_NE(a->substr(0, kHeaderBytes), b->substr(0, kHeaderBytes));
}

TEST(WebPushCrypto, RefusesBadKeys) {
  std::string ua = B64(kUaPublic);
  EXPECT_TRUE(IsValidPublicKey(ua));
  std::string off_curve = ua;
  off_curve[64] = static_cast<char>(off_curve[64] ^ 1);
  EXPECT_FALSE(IsValidPublicKey(off_curve));
  std::string compressed = ua.substr(0, 33);
  compressed[0] = 0x02;
  EXPECT_FALSE(IsValidPublicKey(compressed));
  std::string wrong_prefix = ua;
  wrong_prefix[0] = 0x05;
  EXPECT_FALSE(IsValidPublicKey(wrong_prefix));
  EXPECT_FALSE(IsValidPublicKey(std::string(65, '\x04')));
  EXPECT_FALSE(IsValidPublicKey(""));
  EXPECT_FALSE(KeyPairFromPrivate(std::string(32, '\0')).ok());
  EXPECT_FALSE(KeyPairFromPrivate(std::string(32, '\xff')).ok());  // above the group order
  EXPECT_FALSE(KeyPairFromPrivate("short").ok());
  auto sender = GenerateKeyPair();
  ASSERT_TRUE(sender.ok());
  EXPECT_TRUE(IsValidPublicKey(sender->public_key));
  EXPECT_FALSE(EncryptAes128gcm("x", off_curve, B64(kAuth), *sender, B64(kSalt)).ok());
  EXPECT_FALSE(EncryptAes128gcm("x", ua, "short", *sender, B64(kSalt)).ok());
  EXPECT_FALSE(EncryptAes128gcm("x", ua, B64(kAuth), *sender, "short").ok());
}

// RFC 8292 2.4: the example's token, in three parts.
const char kRfcJwtHeader[] = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9";
const char kRfcJwtClaims[] =
    "eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1YiI6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0";
const char kRfcJwtSignature[] = "i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUfnK9ojFwDXb1JrErtmysazNjjvW2L9OkSSHzvoD1oA";
const char kRfcVapidKey[] = "BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs";

TEST(WebPushCrypto, Rfc8292Example) {
  std::string rfc = std::string(kRfcJwtHeader) + "." + kRfcJwtClaims + "." + kRfcJwtSignature;
  // Its signature verifies read as ours are (r || s, uncompressed key) ...
  EXPECT_TRUE(VerifyEs256(rfc, B64(kRfcVapidKey)));
  std::string tampered = rfc;
  tampered[40] = tampered[40] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyEs256(tampered, B64(kRfcVapidKey)));
  // ... and the same claims give exactly its signing input.
  auto key = GenerateKeyPair();
  ASSERT_TRUE(key.ok());
  auto jwt = VapidJwt("https://push.example.net", 1453523768, "mailto:push@example.com", *key);
  ASSERT_TRUE(jwt.ok()) << jwt.error().message;
  EXPECT_EQ(jwt->substr(0, jwt->rfind('.')), std::string(kRfcJwtHeader) + "." + kRfcJwtClaims);
}

TEST(WebPushCrypto, VapidJwtVerifiesWithItsKeyOnly) {
  auto key = GenerateKeyPair();
  auto other = GenerateKeyPair();
  ASSERT_TRUE(key.ok() && other.ok());
  auto jwt = VapidJwt("https://fcm.googleapis.com", 1900000000, "https://acme.test", *key);
  ASSERT_TRUE(jwt.ok());
  EXPECT_TRUE(VerifyEs256(*jwt, key->public_key));
  EXPECT_FALSE(VerifyEs256(*jwt, other->public_key));
  size_t dot1 = jwt->find('.'), dot2 = jwt->rfind('.');
  auto claims = nlohmann::json::parse(B64(jwt->substr(dot1 + 1, dot2 - dot1 - 1)));
  EXPECT_EQ(claims, (nlohmann::json{{"aud", "https://fcm.googleapis.com"}, {"exp", 1900000000}, {"sub", "https://acme.test"}}));
  EXPECT_EQ(B64(jwt->substr(dot2 + 1)).size(), 64u);
  EXPECT_EQ(VapidAuthorization(*jwt, *key), "vapid t=" + *jwt + ", k=" + Base64Url(key->public_key));
  // A key pair loaded from its private half is the same pair.
  auto again = KeyPairFromPrivate(key->private_key);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key, key->public_key);
}

}  // namespace
}  // namespace gc::webpush
