#include "services/media/media_service.h"

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "node/common/address.h"
#include "node/common/log.h"
#include "node/common/text.h"
#include "node/common/worker_pool.h"
#include "services/media/media_files.h"
#include "services/media/media_store.h"
#include "services/media/sniff.h"

namespace gc {

namespace {

std::string NewOpaque() {
  unsigned char raw[18];
  randombytes_buf(raw, sizeof raw);
  char out[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(out, sizeof out, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

}  // namespace

std::string MediaTempName(const std::string& dir, const char* what) { return dir + "/" + what + "-" + NewOpaque(); }

std::string CleanMediaFilename(const std::string& in) {
  std::string name = in.substr(in.find_last_of("/\\") == std::string::npos ? 0 : in.find_last_of("/\\") + 1);
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') continue;
    out += static_cast<char>(c);
  }
  while (out.size() > 255) out.pop_back();
  // Drop a cut (or any invalid) UTF-8 tail.
  while (!out.empty() && !Utf8Length(out)) out.pop_back();
  if (out == "." || out == "..") out.clear();
  return out;
}

bool IsValidMediaId(const std::string& id) {
  size_t slash = id.find('/');
  if (slash == std::string::npos || slash == 0) return false;
  std::string server = id.substr(0, slash);
  std::string opaque = id.substr(slash + 1);
  if (!IsValidServerName(server)) return false;
  if (opaque.size() < 16 || opaque.size() > 64) return false;
  for (char c : opaque) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

int SnapThumbnailSize(int64_t requested) {
  for (int s : kThumbnailSizes) {
    if (requested <= s) return s;
  }
  return kThumbnailSizes[std::size(kThumbnailSizes) - 1];
}

MediaService::MediaService(std::unique_ptr<MediaStore> rows, BlobStore& store, MediaOptions options)
    : rows_(std::move(rows)),
      store_(store),
      options_(std::move(options)),
      images_(options_.max_image_pixels),
      pool_(std::make_unique<WorkerPool>(options_.image_workers, "gc-media")),
      fetch_pool_(std::make_unique<WorkerPool>(2, "gc-media-fetch")) {}

MediaService::~MediaService() { Stop(); }

void MediaService::Stop() {
  fetch_pool_stopping_ = true;  // fetches in progress give up at their next chunk
  if (pool_) pool_->Stop();
  if (fetch_pool_) fetch_pool_->Stop();
}

size_t MediaService::queued() const { return pool_ ? pool_->queued() : 0; }

void MediaService::UploadAsync(std::shared_ptr<const UserProfile> me, std::shared_ptr<UploadedFile> file,
                               std::string filename, UploadDone done) {
  if (!file || file->size == 0) {
    uploads_refused.fetch_add(1);
    return done(Error::Invalid("the upload is empty: send the file's bytes as the request body"));
  }
  // Bounded: the workers' own jobs plus image_queue waiting, then 503.
  if (pool_->queued() + static_cast<size_t>(pool_->busy()) >=
      static_cast<size_t>(pool_->size()) + static_cast<size_t>(options_.image_queue)) {
    uploads_refused.fetch_add(1);
    return done(Error::Unavailable("too many uploads are being processed, retry later"));
  }
  pool_->Post([this, me = std::move(me), file = std::move(file), filename = std::move(filename), done] {
    auto r = Upload(*me, *file, filename);
    if (r.ok()) {
      uploads.fetch_add(1);
      upload_bytes.fetch_add(static_cast<uint64_t>(r->size));
    } else {
      uploads_refused.fetch_add(1);
    }
    done(std::move(r));
  });
}

Status MediaService::StoreBlob(const std::string& sha, const std::string& path, uint64_t size) {
  // The reference first: from now on the sweep leaves this blob alone.
  GC_TRY(rows_->TakeBlob(sha, static_cast<int64_t>(size)));
  Status put = store_.Put(sha, path, size);
  if (!put.ok()) {
    store_errors.fetch_add(1);
    LogError("media store failed", {{"store", store_.kind()}, {"sha256", sha}, {"error", put.error().message}});
    ReleaseBlob(sha);
    return Error::Unavailable("the media store is not available, retry later");
  }
  return OkStatus();
}

void MediaService::ReleaseBlob(const std::string& sha) {
  Status st = rows_->ReleaseBlob(sha);
  if (!st.ok()) LogWarn("could not release a media blob", {{"sha256", sha}, {"error", st.error().message}});
}

Result<std::vector<MediaService::ThumbStaged>> MediaService::MakeThumbnails(const std::string& path,
                                                                          const ImageInfo& info,
                                                                          std::vector<std::string>& temp_paths) {
  std::vector<ThumbStaged> thumbs;
  for (int s : kThumbnailSizes) {
    if (info.width <= s && info.height <= s) break;  // the original already fits
    std::string out = MediaTempName(options_.temp_dir, "thumb");
    temp_paths.push_back(out);
    auto t0 = std::chrono::steady_clock::now();
    auto t = images_.Thumbnail(path, s, out);
    thumbnail_micros.fetch_add(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count()));
    if (!t.ok()) return t.error();
    thumbnails_made.fetch_add(1);
    uint64_t n = 0;
    auto sha = Sha256OfFile(out, &n);
    if (!sha.ok()) return sha.error();
    thumbs.push_back({s, {out, *sha, n}, *t});
  }
  return thumbs;
}

Result<MediaItem> MediaService::Upload(const UserProfile& me, UploadedFile& file, const std::string& filename) {
  SniffedType type = SniffContentType(file.head);
  int64_t quota = options_.quota_bytes_per_user;
  int64_t size = static_cast<int64_t>(file.size);
  auto over_quota = [&](int64_t used) -> std::optional<Error> {
    if (quota > 0 && used + size > quota) {
      Error e = Error::TooLarge("this upload of " + std::to_string(size) + " bytes would take you over your quota of " +
                                std::to_string(quota) + " bytes (" + std::to_string(used) + " used)");
      e.detail_code = "quota_exceeded";
      return e;
    }
    return std::nullopt;
  };
  if (quota > 0) {
    auto used = rows_->UsedBytes(me.user_id);
    if (!used.ok()) return used.error();
    if (auto e = over_quota(*used)) return *e;
  }

  // What is stored: the re-encoded image, or the upload as sent.
  struct Cleanup {
    std::vector<std::string> paths;
    ~Cleanup() {
      for (auto& p : paths) ::unlink(p.c_str());
    }
  } cleanup;
  Staged original{file.path, file.sha256_hex, file.size};
  bool reencoded = false;  // `original` is a temp file of ours, not the upload
  std::optional<ImageInfo> info;
  if (type.image) {
    std::string out = MediaTempName(options_.temp_dir, "reencode");
    cleanup.paths.push_back(out);
    auto r = images_.Reencode(file.path, type.content_type, out);
    if (!r.ok()) return r.error();
    info = *r;
    uint64_t n = 0;
    auto sha = Sha256OfFile(out, &n);
    if (!sha.ok()) return sha.error();
    original = {out, *sha, n};
    reencoded = true;
  }
  std::vector<ThumbStaged> thumbs;
  if (info) {
    auto made = MakeThumbnails(original.path, *info, cleanup.paths);
    if (!made.ok()) return made.error();
    thumbs = std::move(*made);
  }

  // Blobs, each with a reference taken; released again if anything fails.
  std::vector<std::string> taken;
  auto release_all = [&] {
    for (auto& sha : taken) ReleaseBlob(sha);
  };
  auto store = [&](const Staged& s) -> Status {
    GC_TRY(StoreBlob(s.sha, s.path, s.size));
    taken.push_back(s.sha);
    return OkStatus();
  };
  if (Status st = store(original); !st.ok()) {
    release_all();
    return st.error();
  }
  if (!reencoded) file.Release();  // the store took the upload's own file
  for (auto& t : thumbs) {
    if (Status st = store(t.staged); !st.ok()) {
      release_all();
      return st.error();
    }
  }

  MediaItem item;
  item.media_id = options_.server_name + "/" + NewOpaque();
  item.origin = options_.server_name;
  item.uploader = me.user_id;
  item.content_type = type.content_type;
  item.filename = CleanMediaFilename(filename);
  item.size = static_cast<int64_t>(original.size);
  item.sha256 = original.sha;
  if (info) {
    item.width = info->width;
    item.height = info->height;
  }
  size = item.size;  // the quota counts what is stored
  // The rows, the quota counted again under a per-user lock (concurrent
  // uploads cannot each fit it and together exceed it).
  std::vector<MediaStore::Thumb> thumb_rows;
  for (auto& t : thumbs) {
    thumb_rows.push_back({t.size, t.staged.sha, t.info.content_type, t.info.width, t.info.height});
  }
  auto created = rows_->InsertUpload(item, thumb_rows, quota);
  if (!created.ok() || created->over_quota) release_all();
  if (!created.ok()) return created.error();
  if (created->over_quota) return *over_quota(*created->over_quota);
  item.created_at_ms = created->created_at_ms;
  LogInfo("media stored", {{"media_id", item.media_id}, {"type", item.content_type}, {"size", item.size},
                           {"uploader", item.uploader}, {"thumbnails", static_cast<int64_t>(thumbs.size())}});
  return item;
}

Result<MediaItem> MediaService::Readable(const std::string& user, const std::string& media_id) {
  static const Error kNotFound = Error::NotFound("no such media");
  if (!IsValidMediaId(media_id)) return kNotFound;
  auto found = rows_->FindForReader(media_id, user);
  if (!found.ok()) return found.error();
  if (!*found) return kNotFound;
  auto& [item, may_read] = **found;
  if (item.quarantined || !may_read) return kNotFound;
  if (item.origin != options_.server_name) {
    // A cached remote item in use: the LRU eviction keeps it longer.
    Status touched = rows_->TouchRemote(media_id);
    if (!touched.ok()) LogWarn("could not mark remote media used", {{"error", touched.error().message}});
  }
  return item;
}

Result<BlobStore::Opened> MediaService::OpenOriginal(const MediaItem& item) {
  auto o = store_.Open(item.sha256);
  if (!o.ok()) {
    store_errors.fetch_add(1);
    LogError("media blob unreadable", {{"media_id", item.media_id}, {"sha256", item.sha256},
                                        {"error", o.error().message}});
    return Error::Unavailable("the media store is not available, retry later");
  }
  return o;
}

Result<MediaService::Thumb> MediaService::OpenThumbnail(const MediaItem& item, int size) {
  if (!IsInlineImageType(item.content_type)) return Error::NotFound("this media is not an image: no thumbnail");
  int snapped = SnapThumbnailSize(size);
  auto r = rows_->Thumbnail(item.media_id, snapped);
  if (!r.ok()) return r.error();
  Thumb t;
  if (!*r) {
    // No thumbnail at this size: the image itself fits.
    t.content_type = item.content_type;
    t.sha256 = item.sha256;
  } else {
    t.sha256 = (*r)->first;
    t.content_type = (*r)->second;
  }
  auto o = store_.Open(t.sha256);
  if (!o.ok()) {
    store_errors.fetch_add(1);
    return Error::Unavailable("the media store is not available, retry later");
  }
  t.opened = *o;
  return t;
}

Status MediaService::MayPost(const std::string& user, const std::string& media_id) {
  auto r = Readable(user, media_id);
  if (r.ok()) return OkStatus();
  if (r.error().code != ErrorCode::kNotFound) return r.error();
  std::string server = media_id.substr(0, media_id.find('/'));
  if (IsValidMediaId(media_id) && server != options_.server_name) {
    // Another node's media, not cached here. Its own users' messages (a
    // submit from that node, signed by it) carry what it vouches for: it
    // serves the bytes only to whom it chooses. Anyone else may forward it
    // if they can read it here (spec/media.md 8).
    auto sender = ParseUserId(user);
    if (sender && sender->server == server) return OkStatus();
    auto access = rows_->RemoteAccess(media_id, user);
    if (!access.ok()) return access.error();
    if (access->first) return OkStatus();
  }
  return Error::Invalid("media_id does not name media you uploaded or can see: upload it with POST /api/v1/media");
}

Status MediaService::MayUseAsAvatar(const std::string& user, const std::string& media_id) {
  auto r = Readable(user, media_id);
  if (!r.ok() && r.error().code != ErrorCode::kNotFound) return r.error();
  if (!r.ok() || r->uploader != user || !IsInlineImageType(r->content_type)) {
    return Error::Invalid("avatar_media_id must be an image you uploaded (POST /api/v1/media)");
  }
  return OkStatus();
}

Result<std::vector<MediaItem>> MediaService::List(const MediaFilter& f) { return rows_->List(f); }

Result<std::vector<Uploader>> MediaService::TopUploaders(int limit) { return rows_->TopUploaders(limit); }

Status MediaService::SetQuarantine(const std::string& media_id, bool quarantined, const std::string& by) {
  if (!IsValidMediaId(media_id)) return Error::NotFound("no such media");
  auto r = rows_->SetQuarantine(media_id, quarantined, by);
  if (!r.ok()) return r.error();
  if (!*r) return Error::NotFound("no such media");
  return OkStatus();
}

Result<MediaStats> MediaService::Stats() { return rows_->Stats(); }

Result<int64_t> MediaService::RemoveMedia(const std::vector<std::string>& ids) {
  int64_t n = 0;
  for (const auto& id : ids) {
    GC_TRY(rows_->Remove(id));
    ++n;
  }
  removed.fetch_add(static_cast<uint64_t>(n));
  return n;
}

Status MediaService::DeleteUnreferencedBlobs() {
  for (int i = 0; i < 10000; ++i) {
    // The row stays locked while the bytes go: an upload of the same
    // content waits, then stores the blob anew.
    auto deleted = rows_->DeleteOneUnreferencedBlob([&](const std::string& sha) -> Status {
      Status del = store_.Delete(sha);
      if (!del.ok()) store_errors.fetch_add(1);
      return del;
    });
    if (!deleted.ok()) return deleted.error();
    if (!*deleted) return OkStatus();
  }
  return OkStatus();
}

Result<int64_t> MediaService::Sweep() {
  Result<int64_t> total = int64_t{0};
  auto locked = rows_->WithSweepLock([&] { total = SweepLocked(); });
  if (!locked.ok()) return locked.error();
  return total;  // 0 when another process sweeps
}

Result<int64_t> MediaService::SweepLocked() {
  int64_t total = 0;
  auto unref = rows_->Unreferenced(options_.unreferenced_after_s);
  if (!unref.ok()) return unref.error();
  auto n = RemoveMedia(*unref);
  if (!n.ok()) return n.error();
  total += *n;
  if (options_.retention_days > 0) {
    auto old = rows_->Expired(options_.retention_days);
    if (!old.ok()) return old.error();
    auto m = RemoveMedia(*old);
    if (!m.ok()) return m.error();
    total += *m;
    if (audit_) {
      for (auto& id : *old) {
        audit_("media.retention_remove", id,
               "older than media.retention_days (" + std::to_string(options_.retention_days) + ")");
      }
    }
  }
  GC_TRY(DeleteUnreferencedBlobs());
  if (total > 0) LogInfo("media sweep", {{"removed", total}});
  return total;
}

}  // namespace gc
