#include "services/notifications/webpush_crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "node/common/encoding.h"

namespace gc::webpush {

namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using BnCtx = std::unique_ptr<BN_CTX, Deleter<BN_CTX, BN_CTX_free>>;
using Group = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP, EC_GROUP_free>>;
using Point = std::unique_ptr<EC_POINT, Deleter<EC_POINT, EC_POINT_free>>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using Kdf = std::unique_ptr<EVP_KDF, Deleter<EVP_KDF, EVP_KDF_free>>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using Sig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

const unsigned char* U(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

Group P256() { return Group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)); }

// An EVP_PKEY for P-256 from its uncompressed public point and, for a key
// pair, its private scalar. Null if OpenSSL refuses either.
Pkey MakeKey(const std::string& public_key, const std::string* private_key) {
  ParamBld bld(OSSL_PARAM_BLD_new());
  Bn d(private_key ? BN_bin2bn(U(*private_key), static_cast<int>(private_key->size()), nullptr) : nullptr);
  if (!bld || (private_key && !d)) return nullptr;
  if (!OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, public_key.data(), public_key.size()) ||
      (d && !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()))) {
    return nullptr;
  }
  Params params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return nullptr;
  }
  return Pkey(key);
}

// RFC 5869 HKDF-SHA256 (extract, then expand to `length` bytes).
Result<std::string> Hkdf(const std::string& salt, const std::string& ikm, const std::string& info, size_t length) {
  Kdf kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  KdfCtx ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (!ctx) return Error::Internal("HKDF is not available");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size()),
      OSSL_PARAM_construct_end()};
  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), U(out), length, params) <= 0) return Error::Internal("HKDF failed");
  return out;
}

// The shared secret of ECDH(own private, peer public): the X coordinate.
Result<std::string> Ecdh(const KeyPair& own, const std::string& peer_public) {
  Pkey mine = MakeKey(own.public_key, &own.private_key);
  Pkey peer = MakeKey(peer_public, nullptr);
  if (!mine) return Error::Invalid("the sender key is not a P-256 key pair");
  if (!peer) return Error::Invalid("p256dh is not a point on P-256");
  PkeyCtx ctx(EVP_PKEY_CTX_new(mine.get(), nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) <= 0 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) <= 0) {
    return Error::Invalid("ECDH with p256dh failed");
  }
  std::string secret(len, '\0');
  if (EVP_PKEY_derive(ctx.get(), U(secret), &len) <= 0) return Error::Invalid("ECDH with p256dh failed");
  secret.resize(len);
  return secret;
}

Result<std::string> AesGcm(const std::string& key, const std::string& nonce, const std::string& plaintext) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(plaintext.size() + kTagBytes, '\0');
  int n = 0, tail = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, U(key), U(nonce)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), U(out), &n, U(plaintext), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), U(out) + n, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, U(out) + n + tail) != 1) {
    return Error::Internal("AES-128-GCM failed");
  }
  out.resize(static_cast<size_t>(n + tail) + kTagBytes);
  return out;
}

}  // namespace

Result<KeyPair> KeyPairFromPrivate(const std::string& private_key) {
  if (private_key.size() != kPrivateKeyBytes) return Error::Invalid("a P-256 private key is 32 bytes");
  Group group = P256();
  BnCtx bn(BN_CTX_new());
  Bn d(BN_bin2bn(U(private_key), static_cast<int>(private_key.size()), nullptr));
  if (!group || !bn || !d) return Error::Internal("OpenSSL could not allocate");
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return Error::Invalid("a P-256 private key must be in [1, n-1]");
  }
  Point p(EC_POINT_new(group.get()));
  KeyPair kp{private_key, std::string(kPublicKeyBytes, '\0')};
  if (!p || EC_POINT_mul(group.get(), p.get(), d.get(), nullptr, nullptr, bn.get()) != 1 ||
      EC_POINT_point2oct(group.get(), p.get(), POINT_CONVERSION_UNCOMPRESSED, U(kp.public_key), kPublicKeyBytes,
                         bn.get()) != kPublicKeyBytes) {
    return Error::Internal("P-256 point multiplication failed");
  }
  return kp;
}

Result<KeyPair> GenerateKeyPair() {
  // A scalar outside [1, n-1] comes up with a probability of about 2^-32.
  for (int tries = 0; tries < 8; ++tries) {
    std::string d(kPrivateKeyBytes, '\0');
    if (RAND_priv_bytes(U(d), static_cast<int>(d.size())) != 1) return Error::Internal("no random bytes");
    auto kp = KeyPairFromPrivate(d);
    if (kp.ok() || kp.error().code != ErrorCode::kInvalid) return kp;
  }
  return Error::Internal("could not draw a P-256 private key");
}

bool IsValidPublicKey(const std::string& public_key) {
  if (public_key.size() != kPublicKeyBytes || public_key[0] != 0x04) return false;
  Group group = P256();
  BnCtx bn(BN_CTX_new());
  Point p(group ? EC_POINT_new(group.get()) : nullptr);
  if (!p || !bn) return false;
  return EC_POINT_oct2point(group.get(), p.get(), U(public_key), public_key.size(), bn.get()) == 1 &&
         EC_POINT_is_on_curve(group.get(), p.get(), bn.get()) == 1 && !EC_POINT_is_at_infinity(group.get(), p.get());
}

Result<std::string> EncryptAes128gcm(const std::string& plaintext, const std::string& ua_public,
                                     const std::string& auth_secret, const KeyPair& sender, const std::string& salt,
                                     size_t pad) {
  if (!IsValidPublicKey(ua_public)) return Error::Invalid("p256dh is not an uncompressed point on P-256");
  if (auth_secret.size() != kAuthSecretBytes) return Error::Invalid("auth must be 16 bytes");
  if (salt.size() != kSaltBytes) return Error::Invalid("the salt must be 16 bytes");
  if (plaintext.size() + pad > kMaxPlaintext) return Error::Invalid("the payload does not fit in one 4096-byte record");
  auto ecdh = Ecdh(sender, ua_public);
  if (!ecdh.ok()) return ecdh.error();
  // RFC 8291 3.3 and 3.4: the auth secret mixes into the input keying
  // material, which RFC 8188 2.2 turns into the content key and the nonce.
  std::string key_info = std::string("WebPush: info") + '\0' + ua_public + sender.public_key;
  auto ikm = Hkdf(auth_secret, *ecdh, key_info, 32);
  if (!ikm.ok()) return ikm.error();
  auto cek = Hkdf(salt, *ikm, std::string("Content-Encoding: aes128gcm") + '\0', 16);
  if (!cek.ok()) return cek.error();
  auto nonce = Hkdf(salt, *ikm, std::string("Content-Encoding: nonce") + '\0', 12);
  if (!nonce.ok()) return nonce.error();
  // One record, the last: its delimiter is 0x02 (RFC 8188 2), then padding.
  std::string record = plaintext + '\x02' + std::string(pad, '\0');
  auto sealed = AesGcm(*cek, *nonce, record);
  if (!sealed.ok()) return sealed.error();
  std::string out = salt;
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((kRecordSize >> shift) & 0xff);
  out += static_cast<char>(kPublicKeyBytes);
  out += sender.public_key;
  out += *sealed;
  return out;
}

Result<std::string> EncryptForSubscription(const std::string& plaintext, const std::string& ua_public,
                                           const std::string& auth_secret) {
  auto ephemeral = GenerateKeyPair();
  if (!ephemeral.ok()) return ephemeral.error();
  std::string salt(kSaltBytes, '\0');
  if (RAND_bytes(U(salt), static_cast<int>(salt.size())) != 1) return Error::Internal("no random bytes");
  size_t padded = std::min(kMaxPlaintext, (plaintext.size() + 63) / 64 * 64);
  size_t pad = padded > plaintext.size() ? padded - plaintext.size() : 0;
  return EncryptAes128gcm(plaintext, ua_public, auth_secret, *ephemeral, salt, pad);
}

Result<std::string> VapidJwt(const std::string& audience, int64_t expires_at_s, const std::string& subject,
                             const KeyPair& vapid) {
  Pkey key = MakeKey(vapid.public_key, &vapid.private_key);
  if (!key) return Error::Invalid("the VAPID key is not a P-256 key pair");
  nlohmann::json claims = {{"aud", audience}, {"exp", expires_at_s}, {"sub", subject}};
  std::string input = Base64Url(R"({"typ":"JWT","alg":"ES256"})") + "." + Base64Url(claims.dump());
  MdCtx md(EVP_MD_CTX_new());
  size_t der_len = 0;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &der_len, U(input), input.size()) != 1) {
    return Error::Internal("ES256 signing failed");
  }
  std::string der(der_len, '\0');
  if (EVP_DigestSign(md.get(), U(der), &der_len, U(input), input.size()) != 1) {
    return Error::Internal("ES256 signing failed");
  }
  // JWS (RFC 7518 3.4) wants r || s, 32 bytes each, not OpenSSL's DER.
  const unsigned char* p = U(der);
  Sig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (!sig) return Error::Internal("ES256 signature is not DER");
  std::string rs(64, '\0');
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), U(rs), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), U(rs) + 32, 32) != 32) {
    return Error::Internal("ES256 signature too long");
  }
  return input + "." + Base64Url(rs);
}

std::string VapidAuthorization(const std::string& jwt, const KeyPair& vapid) {
  return "vapid t=" + jwt + ", k=" + Base64Url(vapid.public_key);
}

bool VerifyEs256(const std::string& jwt, const std::string& public_key) {
  size_t dot = jwt.rfind('.');
  if (dot == std::string::npos) return false;
  auto rs = DecodeBase64Url(jwt.substr(dot + 1));
  if (!rs.ok() || rs->size() != 64) return false;
  Sig sig(ECDSA_SIG_new());
  Bn r(BN_bin2bn(U(*rs), 32, nullptr)), s(BN_bin2bn(U(*rs) + 32, 32, nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return false;
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return false;
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_owner(der, [](unsigned char* q) { OPENSSL_free(q); });
  Pkey key = MakeKey(public_key, nullptr);
  MdCtx md(EVP_MD_CTX_new());
  std::string input = jwt.substr(0, dot);
  return key && md && EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(md.get(), der, static_cast<size_t>(der_len), U(input), input.size()) == 1;
}

}  // namespace gc::webpush
