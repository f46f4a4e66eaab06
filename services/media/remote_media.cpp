#include "services/media/remote_media.h"

#include "node/common/address.h"
#include "services/media/blob_store.h"

namespace gc {

Error RemoteMediaInvalid(const std::string& what) {
  return Error::Invalid("the origin's answer was refused: " + what, "remote_media_invalid");
}

RemoteDownload::RemoteDownload(std::string media_id, int64_t max_bytes)
    : media_id_(std::move(media_id)), max_bytes_(max_bytes) {
  crypto_hash_sha256_init(&hash_);
}

Status RemoteDownload::Take(const RemoteMediaChunk& c) {
  if (c.media_id != media_id_) return RemoteMediaInvalid("it is for another media_id");
  if (!first_) {
    size_t slash = media_id_.find('/');
    auto uploader = ParseUserId(c.uploader);
    if (!uploader || uploader->server != media_id_.substr(0, slash)) {
      return RemoteMediaInvalid("the uploader is not a user of the origin");
    }
    if (!IsSha256Hex(c.sha256)) return RemoteMediaInvalid("sha256 is not 64 lowercase hex digits");
    if (c.size < 0 || c.size > max_bytes_) {
      return RemoteMediaInvalid("size " + std::to_string(c.size) + " is over limits.max_upload_bytes (" +
                                std::to_string(max_bytes_) + ")");
    }
    if (c.filename.size() > 1024 || c.content_type.size() > 255) return RemoteMediaInvalid("a name is too long");
    first_ = c;
    first_->data.clear();
  } else if (c.sha256 != first_->sha256 || c.size != first_->size || c.uploader != first_->uploader) {
    return RemoteMediaInvalid("a chunk announces other bytes than the first one");
  }
  if (c.offset != received_) {
    return RemoteMediaInvalid("a chunk starts at " + std::to_string(c.offset) + ", expected " +
                              std::to_string(received_));
  }
  if (c.data.empty() && received_ < first_->size) return RemoteMediaInvalid("an empty chunk before the end");
  if (static_cast<int64_t>(c.data.size()) > first_->size - received_) {
    return RemoteMediaInvalid("more bytes than the announced size");
  }
  crypto_hash_sha256_update(&hash_, reinterpret_cast<const unsigned char*>(c.data.data()), c.data.size());
  received_ += static_cast<int64_t>(c.data.size());
  return OkStatus();
}

Status RemoteDownload::Finish() {
  if (!complete()) return RemoteMediaInvalid("the download is incomplete");
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&hash_, digest);
  static const char* hex = "0123456789abcdef";
  std::string got;
  for (unsigned char b : digest) {
    got += hex[b >> 4];
    got += hex[b & 15];
  }
  if (got != first_->sha256) {
    return RemoteMediaInvalid("the bytes hash to " + got + ", not to the announced " + first_->sha256);
  }
  return OkStatus();
}

}  // namespace gc
