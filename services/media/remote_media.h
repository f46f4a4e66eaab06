// Federated media: how a node gets another node's media (spec/media.md 8).
//
// A media_id names its origin (`acme.test/OPAQUE`). A node asked for one it
// does not hold fetches it from the origin over federation in chunks
// (`media.fetch`, spec/federation.md 8.6c), checks what arrived against what
// the origin announced, and keeps it as an ordinary blob with a `media` row
// whose origin is the other node. The media service does not know how the
// chunks travel: it asks a RemoteMediaSource (the federation service
// implements it), which keeps the dependency pointing from federation/ to
// services/media/, never back.
//
// RemoteDownload is the check of the chunks, kept pure so that a unit test
// can feed it what a lying origin would send: every chunk must announce the
// same size and sha256 as the first, start where the previous one ended and
// not run past the size; the size must be within limits.max_upload_bytes;
// and the SHA-256 of all bytes must be the announced one. Anything else
// refuses the download (kInvalid, detail remote_media_invalid), so nothing
// but the announced bytes is ever stored.
#pragma once

#include <sodium.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "node/common/result.h"

namespace gc {

// One answer of the origin to `media.fetch {media_id, offset}`.
struct RemoteMediaChunk {
  std::string media_id;
  std::string uploader;      // "@alice:acme.test"
  std::string content_type;  // the origin's; the reader sniffs again
  std::string filename;
  std::string sha256;        // hex, of the whole original
  int64_t size = 0;          // of the whole original
  int64_t offset = 0;        // where `data` starts
  std::string data;          // raw bytes (base64url on the wire)
};

class RemoteMediaSource {
 public:
  virtual ~RemoteMediaSource() = default;
  // Asks `origin` for the chunk of `media_id` at `offset`, waiting at most
  // `timeout`; `avatar`: asked as one of the origin's users' avatars (which
  // the origin serves to any peer), not as media of a group. kNotFound: the origin has no such media for this node (the
  // same answer whether it exists or this node may not read it);
  // kUnavailable: the origin could not be reached or did not answer in
  // time; kInvalid: the answer was malformed. Blocks: call from a worker.
  virtual Result<RemoteMediaChunk> FetchMediaChunk(const std::string& origin, const std::string& media_id,
                                                   int64_t offset, bool avatar, std::chrono::milliseconds timeout) = 0;
};

// The checks of a download in progress (see above). Not thread-safe: one
// download, one thread.
class RemoteDownload {
 public:
  RemoteDownload(std::string media_id, int64_t max_bytes);

  // Takes the next chunk; on success its data may be written at `offset`.
  // Errors are kInvalid with detail remote_media_invalid and say what was
  // wrong.
  Status Take(const RemoteMediaChunk& chunk);
  // All bytes arrived?
  bool complete() const { return first_ && received_ == first_->size; }
  int64_t received() const { return received_; }
  // After the last chunk: the bytes hash to the announced sha256.
  Status Finish();
  // The first chunk's announcement (valid after a successful Take).
  const RemoteMediaChunk& announced() const { return *first_; }

 private:
  std::string media_id_;
  int64_t max_bytes_;
  int64_t received_ = 0;
  std::optional<RemoteMediaChunk> first_;  // without its data
  crypto_hash_sha256_state hash_;
};

// A refusal of remote bytes (kInvalid, detail remote_media_invalid).
Error RemoteMediaInvalid(const std::string& what);

}  // namespace gc
