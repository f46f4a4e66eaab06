// PgMediaStore: the MediaStore in PostgreSQL (tables media, media_thumbnails,
// media_blobs: migrations/). SQL as named statements, prepared once per
// connection.
#pragma once

#include <string>

#include "services/media/media_store.h"

namespace gc {

class PgPool;

class PgMediaStore : public MediaStore {
 public:
  // `server_name`: this node's, for the avatar rule and its own uploads.
  PgMediaStore(PgPool& db, std::string server_name) : db_(db), server_name_(std::move(server_name)) {}

  Result<int64_t> UsedBytes(const std::string& user) override;
  Status TakeBlob(const std::string& sha, int64_t size) override;
  Status ReleaseBlob(const std::string& sha) override;
  Result<Inserted> InsertUpload(const MediaItem& item, const std::vector<Thumb>& thumbs, int64_t quota) override;
  Result<std::optional<std::pair<MediaItem, bool>>> FindForReader(const std::string& media_id,
                                                                  const std::string& reader) override;
  Status TouchRemote(const std::string& media_id) override;
  Result<std::optional<std::pair<std::string, std::string>>> Thumbnail(const std::string& media_id,
                                                                       int size) override;
  Result<std::vector<MediaItem>> List(const MediaFilter& filter) override;
  Result<std::vector<Uploader>> TopUploaders(int limit) override;
  Result<bool> SetQuarantine(const std::string& media_id, bool quarantined, const std::string& by) override;
  Result<MediaStats> Stats() override;
  Result<std::vector<std::string>> Unreferenced(int64_t older_than_s) override;
  Result<std::vector<std::string>> Expired(int64_t days) override;
  Status Remove(const std::string& media_id) override;
  Result<bool> DeleteOneUnreferencedBlob(const std::function<Status(const std::string& sha)>& erase) override;
  Result<bool> WithSweepLock(const std::function<void()>& fn) override;
  Result<std::pair<bool, bool>> RemoteAccess(const std::string& media_id, const std::string& user) override;
  Result<std::optional<RemoteMediaChunk>> ForPeer(const std::string& media_id, const std::string& peer,
                                                  bool avatar) override;
  Result<std::optional<int64_t>> InsertRemote(const MediaItem& item, const std::vector<Thumb>& thumbs,
                                              bool avatar) override;
  Result<int64_t> RemoteCacheUsed() override;
  Result<std::vector<std::pair<std::string, int64_t>>> LeastRecentRemote(const std::string& keep) override;

 private:
  PgPool& db_;
  std::string server_name_;
};

}  // namespace gc
