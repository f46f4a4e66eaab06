// Web Push cryptography: P-256 keys, RFC 8291 message encryption and
// RFC 8292 VAPID tokens, on OpenSSL (libsodium has no P-256).
//
// Pure functions of their inputs, with no I/O, so that they can be checked
// against the RFCs' own examples (tests/unit/webpush_crypto_test.cpp): the
// random parts of an encryption (the sender's ephemeral key and the salt) are
// parameters, and EncryptForSubscription is the one call that draws them.
//
// Wire forms, as browsers use them: a public key is the 65-byte uncompressed
// point (0x04 || X || Y), a private key the 32-byte big-endian scalar; both
// travel as unpadded base64url.
//
// Thread-safety: every function is thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "node/common/result.h"

namespace gc::webpush {

inline constexpr size_t kPublicKeyBytes = 65;
inline constexpr size_t kPrivateKeyBytes = 32;
inline constexpr size_t kAuthSecretBytes = 16;
inline constexpr size_t kSaltBytes = 16;
// The record size the node writes: one record, and the largest body push
// services must accept (RFC 8030 7.2: 4096 octets of payload).
inline constexpr uint32_t kRecordSize = 4096;
// Header (salt 16, rs 4, idlen 1, keyid 65) and the AEAD tag.
inline constexpr size_t kHeaderBytes = 86;
inline constexpr size_t kTagBytes = 16;
// The longest plaintext that fits in one 4096-byte body (with the 0x02 delimiter).
inline constexpr size_t kMaxPlaintext = kRecordSize - kHeaderBytes - kTagBytes - 1;

struct KeyPair {
  std::string private_key;  // 32 bytes
  std::string public_key;   // 65 bytes, uncompressed
};

// A fresh random P-256 key pair. kInternal only if OpenSSL fails.
Result<KeyPair> GenerateKeyPair();

// The key pair of a private scalar (kInvalid unless 32 bytes in [1, n-1]).
Result<KeyPair> KeyPairFromPrivate(const std::string& private_key);

// True if `public_key` is 65 bytes, 0x04 || X || Y, and a point on P-256
// (not the point at infinity).
bool IsValidPublicKey(const std::string& public_key);

// RFC 8291 section 3 and RFC 8188: `plaintext` encrypted for a subscription
// (`ua_public`: p256dh, `auth_secret`: auth) as one aes128gcm record of size
// kRecordSize: header (salt, rs, keyid = the sender's public key) then
// AES-128-GCM(plaintext || 0x02 || `pad` zero bytes). `sender` is the
// ephemeral key pair and `salt` 16 random bytes: fresh for every message
// outside tests. kInvalid for a bad key, a salt or secret of the wrong
// length, or a plaintext + pad longer than kMaxPlaintext.
Result<std::string> EncryptAes128gcm(const std::string& plaintext, const std::string& ua_public,
                                     const std::string& auth_secret, const KeyPair& sender,
                                     const std::string& salt, size_t pad = 0);

// EncryptAes128gcm with a fresh ephemeral key and salt, padded so that the
// length of the plaintext only shows to the next multiple of 64 bytes
// (never past kMaxPlaintext).
Result<std::string> EncryptForSubscription(const std::string& plaintext, const std::string& ua_public,
                                           const std::string& auth_secret);

// RFC 8292: the ES256 JWT {"typ":"JWT","alg":"ES256"}.{"aud","exp","sub"}
// signed with `vapid` (signature r || s, 64 bytes), each part base64url.
// `audience` is the push resource's origin ("https://push.example.net"),
// `expires_at_s` seconds since the epoch (at most 24 h ahead: the caller's
// business), `subject` a mailto: or https: contact.
Result<std::string> VapidJwt(const std::string& audience, int64_t expires_at_s, const std::string& subject,
                             const KeyPair& vapid);

// The value of the Authorization header: "vapid t=JWT, k=PUBLIC_KEY_B64URL".
std::string VapidAuthorization(const std::string& jwt, const KeyPair& vapid);

// True if `jwt`'s ES256 signature verifies with `public_key` (65 bytes).
// For tests and for checking a key pair after loading it.
bool VerifyEs256(const std::string& jwt, const std::string& public_key);

}  // namespace gc::webpush
