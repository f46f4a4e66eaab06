// EntrySigner: the batch's signatures made on several threads are the ones
// SignBytes makes, each in its own slot, job after job.
#include "services/groups/entry_signer.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>
#include <vector>

#include "services/groups/signed_log/chain.h"

namespace gc {
namespace {

struct SignerTestKey {
  std::string public_key, secret_key;
  SignerTestKey() {
    if (sodium_init() < 0) abort();
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    public_key.assign(reinterpret_cast<char*>(pk), sizeof pk);
    secret_key.assign(reinterpret_cast<char*>(sk), sizeof sk);
  }
};

std::vector<std::string> SignerTestEntries(size_t n, int job) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("{\"job\":" + std::to_string(job) + ",\"seq\":" + std::to_string(i) + "}");
  return out;
}

void ExpectSignedInPlace(EntrySigner& signer, const SignerTestKey& key, size_t n, int job) {
  auto entries = SignerTestEntries(n, job);
  std::vector<const std::string*> in;
  for (const auto& e : entries) in.push_back(&e);
  std::vector<std::string> sigs{"stale"};
  signer.SignAll(in, sigs);
  ASSERT_EQ(sigs.size(), n);
  for (size_t i = 0; i < n; ++i) {
    // Ed25519 is deterministic: the same bytes and key give the same signature.
    EXPECT_EQ(sigs[i], SignBytes(entries[i], key.secret_key)) << "entry " << i << " of job " << job;
    EXPECT_TRUE(VerifyBytes(entries[i], sigs[i], key.public_key));
  }
}

TEST(EntrySigner, ManyJobsOfEverySizeWithHelpers) {
  SignerTestKey key;
  EntrySigner signer(key.secret_key, 3);
  // Sizes below, at and above the parallel threshold, and empty; many jobs in
  // a row, so a helper that wakes late for one job meets the next.
  const size_t sizes[] = {0, 1, EntrySigner::kMinParallel - 1, EntrySigner::kMinParallel, 5, 64, 257};
  int job = 0;
  for (int round = 0; round < 20; ++round) {
    for (size_t n : sizes) ExpectSignedInPlace(signer, key, n, job++);
  }
}

TEST(EntrySigner, WithoutHelpersSignsOnTheCaller) {
  SignerTestKey key;
  EntrySigner signer(key.secret_key, 0);
  ExpectSignedInPlace(signer, key, 40, 1);
}

}  // namespace
}  // namespace gc
