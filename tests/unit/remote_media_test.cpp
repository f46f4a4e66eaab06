// The checks a node applies to another node's media as it arrives in chunks
// (services/media/remote_media.h): what an honest origin sends is taken,
// and every lie a tampering origin could tell is refused with
// remote_media_invalid before anything is stored.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "services/media/remote_media.h"

namespace gc {
namespace {

const std::string kRemoteId = "acme.test/AAAAAAAAAAAAAAAAAAAAAAAA";

std::string HexSha256(const std::string& bytes) {
  unsigned char d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  std::string out;
  for (unsigned char b : d) {
    out += "0123456789abcdef"[b >> 4];
    out += "0123456789abcdef"[b & 15];
  }
  return out;
}

// The chunks an honest origin sends for `bytes`, `per` bytes each.
std::vector<RemoteMediaChunk> Chunks(const std::string& bytes, size_t per) {
  std::vector<RemoteMediaChunk> out;
  size_t off = 0;
  do {
    RemoteMediaChunk c;
    c.media_id = kRemoteId;
    c.uploader = "@alice:acme.test";
    c.content_type = "application/octet-stream";
    c.filename = "f.bin";
    c.sha256 = HexSha256(bytes);
    c.size = static_cast<int64_t>(bytes.size());
    c.offset = static_cast<int64_t>(off);
    c.data = bytes.substr(off, per);
    off += c.data.size();
    out.push_back(c);
  } while (off < bytes.size());
  return out;
}

// Feeds `chunks`; the first error, or OK once the download is finished.
Status Feed(const std::vector<RemoteMediaChunk>& chunks, int64_t max = 1 << 20) {
  RemoteDownload d(kRemoteId, max);
  for (const auto& c : chunks) {
    GC_TRY(d.Take(c));
    if (d.complete()) break;
  }
  return d.Finish();
}

void ExpectRefused(const Status& st, const std::string& why) {
  ASSERT_FALSE(st.ok()) << why;
  EXPECT_EQ(st.error().code, ErrorCode::kInvalid) << why;
  EXPECT_EQ(st.error().detail_code, "remote_media_invalid") << why;
}

std::string Bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 % 251);
  return s;
}

TEST(RemoteDownload, TakesAnHonestOriginsChunks) {
  std::string bytes = Bytes(10000);
  EXPECT_TRUE(Feed(Chunks(bytes, 4096)).ok());
  EXPECT_TRUE(Feed(Chunks(bytes, 10000)).ok());
  EXPECT_TRUE(Feed(Chunks("", 10)).ok());  // an empty file is one empty chunk
  RemoteDownload d(kRemoteId, 1 << 20);
  for (const auto& c : Chunks(bytes, 3000)) ASSERT_TRUE(d.Take(c).ok());
  EXPECT_TRUE(d.complete());
  EXPECT_EQ(d.received(), 10000);
  EXPECT_EQ(d.announced().sha256, HexSha256(bytes));
}

TEST(RemoteDownload, RefusesBytesThatDoNotHashToTheAnnouncedSha256) {
  std::string bytes = Bytes(10000);
  auto chunks = Chunks(bytes, 4096);
  chunks[1].data[7] ^= 1;  // one bit flipped in transit or by the origin
  ExpectRefused(Feed(chunks), "tampered byte");
  auto other = Chunks(bytes, 4096);
  for (auto& c : other) c.sha256 = HexSha256("something else");
  ExpectRefused(Feed(other), "wrong announced sha256");
}

TEST(RemoteDownload, RefusesChunksThatDoNotFitTogether) {
  std::string bytes = Bytes(10000);
  auto gap = Chunks(bytes, 4096);
  gap[1].offset += 1;
  ExpectRefused(Feed(gap), "a gap");
  auto overlap = Chunks(bytes, 4096);
  overlap[2].offset -= 1;
  ExpectRefused(Feed(overlap), "an overlap");
  auto resized = Chunks(bytes, 4096);
  resized[1].size = 20000;
  ExpectRefused(Feed(resized), "a chunk announcing another size");
  auto other_sha = Chunks(bytes, 4096);
  other_sha[2].sha256 = HexSha256("x");
  ExpectRefused(Feed(other_sha), "a chunk announcing another sha256");
  auto too_long = Chunks(bytes, 4096);
  too_long.back().data += "extra";
  ExpectRefused(Feed(too_long), "more bytes than announced");
  auto empty = Chunks(bytes, 4096);
  empty[1].data.clear();
  ExpectRefused(Feed(empty), "an empty chunk before the end");
  auto other_id = Chunks(bytes, 4096);
  other_id[0].media_id = "acme.test/BBBBBBBBBBBBBBBBBBBBBBBB";
  ExpectRefused(Feed(other_id), "another media_id");
}

TEST(RemoteDownload, RefusesAnnouncementsOutsideTheLimits) {
  std::string bytes = Bytes(5000);
  ExpectRefused(Feed(Chunks(bytes, 4096), /*max=*/4999), "over limits.max_upload_bytes");
  auto bad_sha = Chunks(bytes, 4096);
  for (auto& c : bad_sha) c.sha256 = "../../etc/passwd";
  ExpectRefused(Feed(bad_sha), "a sha256 that is no blob name");
  auto stranger = Chunks(bytes, 4096);
  for (auto& c : stranger) c.uploader = "@mallory:evil.test";
  ExpectRefused(Feed(stranger), "an uploader of another node");
  auto negative = Chunks(bytes, 4096);
  for (auto& c : negative) c.size = -1;
  ExpectRefused(Feed(negative), "a negative size");
}

TEST(RemoteDownload, AnIncompleteDownloadDoesNotFinish) {
  std::string bytes = Bytes(10000);
  RemoteDownload d(kRemoteId, 1 << 20);
  ASSERT_TRUE(d.Take(Chunks(bytes, 4096)[0]).ok());
  EXPECT_FALSE(d.complete());
  ExpectRefused(d.Finish(), "finished after the first chunk");
}

}  // namespace
}  // namespace gc
