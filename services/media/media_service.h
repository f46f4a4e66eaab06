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
// (media_remote.cpp, spec/media.md 8): a node asked for another node's id
// fetches the bytes once from the origin (concurrent readers share the
// fetch), checks them against the origin's sha256, and keeps them as a blob
// like any other, with a `media` row whose origin is the other node and a
// `last_access` that the cache bound (media.remote_cache_bytes) evicts by.
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
// Storage: the rows through a MediaStore (media_store.h: PgMediaStore), the
// bytes through a BlobStore (blob_store.h); this class and media_remote.cpp
// hold the rules and no SQL.
//
// Thread-safety: thread-safe; every method but UploadAsync blocks on the
// database or the store: call from worker threads.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
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
#include "services/media/remote_media.h"

namespace gc {

class MediaStore;
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
  // Federated media: bytes of other nodes' media kept here (LRU beyond),
  // the largest remote original taken (limits.max_upload_bytes), and the
  // deadline of one whole fetch.
  int64_t remote_cache_bytes = 1073741824;
  int64_t max_remote_bytes = 26214400;
  std::chrono::milliseconds remote_fetch_timeout{60000};
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

  // `rows`: where the rows live (media_store.h; PgMediaStore in the node);
  // `store`: where the bytes live.
  MediaService(std::unique_ptr<MediaStore> rows, BlobStore& store, MediaOptions options);
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

  // The item if `user` may read it (rules above); kNotFound otherwise. A
  // cached remote item read here counts as used (last_access).
  Result<MediaItem> Readable(const std::string& user, const std::string& media_id);

  // Where other nodes' media comes from (the federation service); without
  // one, remote media that is not cached is kUnavailable.
  void set_remote_source(RemoteMediaSource* source) { remote_ = source; }
  // Readable, and for another node's media that is not cached here but
  // that `user` may read (a member of a group with a live message carrying
  // it; for anyone else, if the origin serves it as one of its users'
  // avatars), fetched from its origin first: once, however many readers wait
  // (single-flight). `done` is called once, on this thread or a fetch
  // worker. Errors besides Readable's: kNotFound when the origin refuses;
  // kUnavailable with detail origin_unavailable when the origin cannot be
  // reached in time, plain kUnavailable when too many fetches wait; kInvalid
  // with detail remote_media_invalid when the origin's bytes fail the checks
  // (RemoteDownload).
  using ItemDone = std::function<void(Result<MediaItem>)>;
  void ReadableAsync(const std::string& user, const std::string& media_id, ItemDone done);

  // The origin's side of `media.fetch`: up to kRemoteChunkBytes of this
  // node's own upload `media_id` from `offset`, if node `peer` participates
  // (has joined members) in a group, held here, with a live message carrying
  // it; with `avatar`, instead if it is the current avatar of an active user
  // of this node (any peer: any signed-in user may see an avatar). kNotFound for everything else (unknown, removed, quarantined, another
  // node's, or not the peer's to read): one answer, no oracle. kInvalid for
  // an offset past the end.
  static constexpr int64_t kRemoteChunkBytes = 512 * 1024;
  Result<RemoteMediaChunk> ChunkForPeer(const std::string& peer, const std::string& media_id, int64_t offset,
                                        bool avatar = false);

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
  std::atomic<uint64_t> remote_fetches{0};          // fetches from an origin started
  std::atomic<uint64_t> remote_fetch_failures{0};   // of those, failed (refused, unreachable, invalid)
  std::atomic<uint64_t> remote_invalid{0};          // of those, refused by the checks (RemoteDownload)
  std::atomic<uint64_t> remote_evicted{0};          // cached remote items evicted (LRU)
  std::atomic<uint64_t> served_to_peers{0};         // media.fetch answered from offset 0 (one per fetch)
  std::atomic<uint64_t> chunks_to_peers{0};         // media.fetch chunks answered
  size_t queued() const;

 private:
  Result<MediaItem> Upload(const UserProfile& me, UploadedFile& file, const std::string& filename);
  // A staged file stored as a blob with one (pending) reference taken.
  Status StoreBlob(const std::string& sha, const std::string& path, uint64_t size);
  void ReleaseBlob(const std::string& sha);
  Status DeleteUnreferencedBlobs();
  Result<int64_t> SweepLocked();
  Result<int64_t> RemoveMedia(const std::vector<std::string>& ids);

  // Thumbnails of the image at `path` (info: its size), each in a temp file
  // named in `temp_paths` (the caller removes them).
  struct Staged {
    std::string path, sha;
    uint64_t size = 0;
  };
  struct ThumbStaged {
    int size;
    Staged staged;
    ImageInfo info;
  };
  Result<std::vector<ThumbStaged>> MakeThumbnails(const std::string& path, const ImageInfo& info,
                                                  std::vector<std::string>& temp_paths);

  // Federated media (media_remote.cpp).
  // Fetches, checks and stores another node's media (`avatar`: asked as an
  // avatar, stored readable by every signed-in user); the stored item.
  Result<MediaItem> FetchRemote(const std::string& media_id, bool avatar);
  // Stores the checked bytes at `path` (`head`: their first bytes) with
  // thumbnails, and the row; then evicts.
  Result<MediaItem> StoreRemote(const RemoteMediaChunk& meta, const std::string& path, const std::string& head,
                                bool avatar, std::vector<std::string>& temp_paths);
  // Evicts the least recently used remote items (but `keep`) while the
  // cache is over remote_cache_bytes.
  void EvictRemote(const std::string& keep);

  std::unique_ptr<MediaStore> rows_;
  BlobStore& store_;
  MediaOptions options_;
  ImageProcessor images_;
  std::unique_ptr<WorkerPool> pool_;
  AuditFn audit_;
  RemoteMediaSource* remote_ = nullptr;
  std::unique_ptr<WorkerPool> fetch_pool_;  // remote fetches (they wait on origins)
  std::atomic<bool> fetch_pool_stopping_{false};
  std::mutex fetch_mu_;
  // ("avatar " +) media_id -> its waiters; GUARDED_BY(fetch_mu_)
  std::map<std::string, std::vector<ItemDone>> fetching_;
};

}  // namespace gc
