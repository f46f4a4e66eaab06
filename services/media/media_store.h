// MediaStore: what the media service keeps about media: upload rows
// (`media`), their thumbnails (`media_thumbnails`) and the reference counts
// of the blobs they point at (`media_blobs`). The bytes themselves are the
// BlobStore's (blob_store.h). PgMediaStore (pg_media_store.h) keeps the rows
// in PostgreSQL; the rules (media_service.cpp, media_remote.cpp) hold no
// SQL: they sniff, re-encode, check and decide, and call one store method
// per step. Where a step must be atomic (an upload's rows with the quota
// re-check, a removal with the release of its blobs, a blob's deletion
// while its row is locked) it is one method.
//
// Every call may block on the database and is thread-safe. Errors are
// kUnavailable/kInternal from the database unless a call says otherwise.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/common/result.h"
#include "services/media/remote_media.h"

namespace gc {

struct MediaItem;
struct MediaFilter;
struct MediaStats;
struct Uploader;

class MediaStore {
 public:
  virtual ~MediaStore() = default;

  // The bytes `user`'s uploads take (what the quota counts).
  virtual Result<int64_t> UsedBytes(const std::string& user) = 0;

  // One more reference to blob `sha` (its row made if new): from then on
  // the sweep leaves the blob alone. ReleaseBlob takes one back (never below
  // 0); a blob at 0 is the sweep's to delete.
  virtual Status TakeBlob(const std::string& sha, int64_t size) = 0;
  virtual Status ReleaseBlob(const std::string& sha) = 0;

  struct Thumb {
    int size = 0;  // the fixed size it was made for
    std::string sha256, content_type;
    int width = 0, height = 0;
  };
  // Writes an upload's row and its thumbnails' rows in one transaction.
  // With quota > 0 the uploader's used bytes are counted again first, under
  // a per-user lock (so concurrent uploads cannot together pass the quota);
  // if item.size would take them over it, nothing is written and `used` is
  // returned in `over_quota`. Otherwise the row's created_at (ms).
  struct Inserted {
    int64_t created_at_ms = 0;
    std::optional<int64_t> over_quota;  // the used bytes that refused it
  };
  virtual Result<Inserted> InsertUpload(const MediaItem& item, const std::vector<Thumb>& thumbs, int64_t quota) = 0;

  // The row of `media_id` and whether `reader` may read it (the uploader; a
  // member of a group with a live message carrying it; anyone for a local
  // user's current avatar or a remote row cached as an avatar), or nullopt.
  // Quarantine is the caller's to check.
  virtual Result<std::optional<std::pair<MediaItem, bool>>> FindForReader(const std::string& media_id,
                                                                          const std::string& reader) = 0;
  // Marks a cached remote row as read now (its LRU position).
  virtual Status TouchRemote(const std::string& media_id) = 0;
  // The thumbnail of `media_id` made for `size`: (sha256, content type).
  virtual Result<std::optional<std::pair<std::string, std::string>>> Thumbnail(const std::string& media_id,
                                                                               int size) = 0;

  // Admin. SetQuarantine: false if no such row.
  virtual Result<std::vector<MediaItem>> List(const MediaFilter& filter) = 0;
  virtual Result<std::vector<Uploader>> TopUploaders(int limit) = 0;
  virtual Result<bool> SetQuarantine(const std::string& media_id, bool quarantined, const std::string& by) = 0;
  virtual Result<MediaStats> Stats() = 0;

  // Retention. Ids (at most 1000 a call) of uploads older than
  // `older_than_s` that no live message and no avatar refers to; of
  // uploads older than `days`.
  virtual Result<std::vector<std::string>> Unreferenced(int64_t older_than_s) = 0;
  virtual Result<std::vector<std::string>> Expired(int64_t days) = 0;
  // Deletes an upload's row and its thumbnails' rows, releasing their
  // blobs, in one transaction.
  virtual Status Remove(const std::string& media_id) = 0;
  // Locks one blob row at refs 0 (skipping rows others hold), runs
  // `erase(sha)` to delete its bytes, and deletes the row if that
  // succeeded, all in one transaction: an upload of the same content waits
  // for it, then stores the blob anew. False if no such blob is left.
  virtual Result<bool> DeleteOneUnreferencedBlob(const std::function<Status(const std::string& sha)>& erase) = 0;
  // Runs `fn` holding the node-wide sweep lock (one process of a node
  // sweeps at a time); false, without running it, if another holds it.
  virtual Result<bool> WithSweepLock(const std::function<void()>& fn) = 0;

  // Federated media (media_remote.cpp).
  // Is `media_id` carried by a live message in a group `user` has joined,
  // and is a row for it held here?
  virtual Result<std::pair<bool, bool>> RemoteAccess(const std::string& media_id, const std::string& user) = 0;
  // The origin's side: this node's own upload `media_id`, not quarantined,
  // if node `peer` has a joined member in a group with a live message
  // carrying it (with `avatar`: if it is the current avatar of an active
  // local user who uploaded it, whatever the peer). Its metadata as the
  // first chunk's (no data, offset 0), or nullopt.
  virtual Result<std::optional<RemoteMediaChunk>> ForPeer(const std::string& media_id, const std::string& peer,
                                                          bool avatar) = 0;
  // Writes a cached remote item's row (last_access now, remote_avatar as
  // given) and its thumbnails in one transaction; nullopt if a row for the
  // id existed already (then, with `avatar`, that row is marked an avatar).
  virtual Result<std::optional<int64_t>> InsertRemote(const MediaItem& item, const std::vector<Thumb>& thumbs,
                                                      bool avatar) = 0;
  // The sizes of all cached remote originals, summed.
  virtual Result<int64_t> RemoteCacheUsed() = 0;
  // Up to 100 cached remote items (id, size), least recently read first,
  // quarantined ones and `keep` left out.
  virtual Result<std::vector<std::pair<std::string, int64_t>>> LeastRecentRemote(const std::string& keep) = 0;
};

}  // namespace gc
