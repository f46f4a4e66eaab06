// MediaService: uploads, downloads, thumbnails and the life of media files.
//
// A media item is a row in `media` (who uploaded it, its type, size, name,
// dimensions) pointing at a blob: bytes in the BlobStore named by their
// SHA-256. Blobs carry a reference count (media rows and thumbnail rows that
// point at them), so identical uploads are stored once and a blob leaves the
// store only when nothing points at it any more.
//
// A media_id is `SERVER/OPAQUE`: the origin node's name and 24 random
// base64url characters. It names an upload, not bytes, so access, quarantine
// and deletion are per upload while storage is per content. Federated media
// (issue 15, point 7) fits this shape: a node asked for another node's id
// fetches the bytes once from the origin, checks them against the origin's
// sha256, and keeps them as a blob like any other, with a `media` row whose
// origin is the other node.
//
// Who may read (CONTRACT.md, Media): the uploader; members of a group in
// which a live message carries the media_id (joined later too: they see the
// history); any signed-in user for a user's avatar that user uploaded.
// Everyone else, quarantined media and removed media: kNotFound, the same
// answer as for an id that never existed.
//
// Uploads are checked and written in this order: size (by the HTTP server,
// from Content-Length), type sniffed from the bytes, quota, image decode and
// re-encode (libvips, on the service's bounded pool: kUnavailable when it is
// full), thumbnails, blobs stored, then the rows in one transaction that
// re-checks the quota under a per-user lock. A failure at any step leaves no
// row pointing at anything missing.
//
// Thread-safety: thread-safe; every method but UploadAsync blocks on the
// database or the store: call from worker threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/common/principal.h"
#include "node/common/result.h"
#include "node/http/http_types.h"
#include "services/media/blob_store.h"
#include "services/media/image_processor.h"

namespace gc {

class PgPool;
class WorkerPool;

struct MediaOptions {
  std::string server_name;
  std::string temp_dir;                 // staging for re-encodes (same filesystem as uploads)
  int64_t quota_bytes_per_user = 0;     // 0: none
  int64_t max_image_pixels = 40000000;
  int image_workers = 2;
  int image_queue = 16;
  int retention_days = 0;               // 0: keep forever
  int unreferenced_after_s = 86400;
};

struct MediaItem {
  std::string media_id;
  std::string origin;
  std::string uploader;
  std::string content_type;
  std::string filename;
  int64_t size = 0;
  std::string sha256;
  std::optional<int> width, height;
  int64_t created_at_ms = 0;
  bool quarantined = false;
};

// The thumbnail sizes (pixels, the longer side at most).
inline constexpr int kThumbnailSizes[] = {96, 320, 800};
// The smallest fixed size >= requested (the largest for bigger requests).
int SnapThumbnailSize(int64_t requested);

// Whether `id` is SERVER/OPAQUE with OPAQUE in [A-Za-z0-9_-]{16,64}.
bool IsValidMediaId(const std::string& id);

struct MediaFilter {
  std::string uploader;          // user id, exact
  std::string group_id;          // "#eng:acme.test": media carried by its messages
  std::string type_prefix;       // "image/", "video/mp4"
  std::optional<int64_t> min_size, max_size;
  std::optional<std::string> before;  // media_id cursor (created_at order, newest first)
  int limit = 50;
};

struct MediaStats {
  int64_t count = 0;          // media items
  int64_t uploaded_bytes = 0; // their sizes, counted per upload
  int64_t stored_bytes = 0;   // bytes of referenced blobs (after dedup, thumbnails included)
  int64_t blobs = 0;
  int64_t quarantined = 0;
};

struct Uploader {
  std::string user_id;
  int64_t count = 0;
  int64_t bytes = 0;
};

class MediaService {
 public:
  // Called for audit-worthy actions of the node itself (retention).
  using AuditFn = std::function<void(const std::string& action, const std::string& target, const std::string& why)>;

  MediaService(PgPool& db, BlobStore& store, MediaOptions options);
  ~MediaService();  // Stop()
  void Stop();
  void set_audit(AuditFn audit) { audit_ = std::move(audit); }

  // Stores an upload (see the order above) and calls `done` once, from any
  // thread. Errors: kInvalid (empty; invalid_media for images that cannot
  // be decoded or are over max_image_pixels), kTooLarge (detail
  // quota_exceeded), kUnavailable (pool full, store down).
  using UploadDone = std::function<void(Result<MediaItem>)>;
  void UploadAsync(std::shared_ptr<const UserProfile> me, std::shared_ptr<UploadedFile> file, std::string filename,
                   UploadDone done);

  // The item if `user` may read it (rules above); kNotFound otherwise.
  Result<MediaItem> Readable(const std::string& user, const std::string& media_id);

  // The original's bytes (an open file; the caller owns the descriptor).
  Result<BlobStore::Opened> OpenOriginal(const MediaItem& item);
  // A thumbnail that fits in `size` x `size` (snapped): its type and bytes.
  // kNotFound for media that is not an image.
  struct Thumb {
    std::string content_type;
    std::string sha256;
    BlobStore::Opened opened;
  };
  Result<Thumb> OpenThumbnail(const MediaItem& item, int size);

  // May `user` attach `media_id` to a message? Yes for their own uploads
  // and media they can already read; kInvalid (a message send answers 400)
  // otherwise, with a message that does not tell which.
  Status MayPost(const std::string& user, const std::string& media_id);
  // May `user` make `media_id` their avatar (readable by every signed-in
  // user from then on)? Only an image they uploaded; kInvalid otherwise.
  Status MayUseAsAvatar(const std::string& user, const std::string& media_id);

  // Admin.
  Result<std::vector<MediaItem>> List(const MediaFilter& filter);
  Result<std::vector<Uploader>> TopUploaders(int limit);
  // kNotFound for an unknown id. Idempotent.
  Status SetQuarantine(const std::string& media_id, bool quarantined, const std::string& by);
  Result<MediaStats> Stats();

  // Removes uploads no live message or avatar refers to once older than
  // unreferenced_after_s, and (retention_days > 0) every upload older than
  // that, then deletes blobs nothing points at. One process of a node does
  // it at a time (advisory lock); returns the number of uploads removed.
  Result<int64_t> Sweep();

  // Counters for /metrics.
  std::atomic<uint64_t> uploads{0};
  std::atomic<uint64_t> upload_bytes{0};
  std::atomic<uint64_t> uploads_refused{0};
  std::atomic<uint64_t> store_errors{0};
  std::atomic<uint64_t> thumbnails_made{0};
  std::atomic<uint64_t> thumbnail_micros{0};
  std::atomic<uint64_t> removed{0};
  size_t queued() const;

 private:
  Result<MediaItem> Upload(const UserProfile& me, UploadedFile& file, const std::string& filename);
  // A staged file stored as a blob with one (pending) reference taken.
  Status StoreBlob(const std::string& sha, const std::string& path, uint64_t size);
  void ReleaseBlob(const std::string& sha);
  Status DeleteUnreferencedBlobs();
  Result<int64_t> RemoveMedia(const std::vector<std::string>& ids);

  PgPool& db_;
  BlobStore& store_;
  MediaOptions options_;
  ImageProcessor images_;
  std::unique_ptr<WorkerPool> pool_;
  AuditFn audit_;
};

}  // namespace gc
