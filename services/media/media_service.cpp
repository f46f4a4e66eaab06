#include "services/media/media_service.h"

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "node/common/address.h"
#include "node/common/log.h"
#include "node/common/text.h"
#include "node/common/worker_pool.h"
#include "node/db/pg.h"
#include "services/media/media_files.h"
#include "services/media/sniff.h"

namespace gc {

namespace {

GC_SQL(kUsedBytes, "SELECT coalesce(sum(size), 0) FROM media WHERE uploader = $1");
GC_SQL(kLockUploader, "SELECT pg_advisory_xact_lock(hashtext('media-quota:' || $1))");
GC_SQL(kTakeBlob,
       "INSERT INTO media_blobs (sha256, size, refs) VALUES ($1, $2, 1) "
       "ON CONFLICT (sha256) DO UPDATE SET refs = media_blobs.refs + 1");
GC_SQL(kReleaseBlob, "UPDATE media_blobs SET refs = refs - 1 WHERE sha256 = $1 AND refs > 0");
GC_SQL(kInsertMedia,
       "INSERT INTO media (media_id, origin, uploader, sha256, size, content_type, filename, width, height) "
       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
       "RETURNING (extract(epoch FROM created_at) * 1000)::bigint");
GC_SQL(kInsertThumb,
       "INSERT INTO media_thumbnails (media_id, size, sha256, content_type, width, height) "
       "VALUES ($1, $2, $3, $4, $5, $6)");
#define GC_MEDIA_COLS                                                                                  \
  "m.media_id, m.origin, m.uploader, m.content_type, m.filename, m.size, m.sha256, m.width, m.height, " \
  "(extract(epoch FROM m.created_at) * 1000)::bigint, m.quarantined_at IS NOT NULL"
// $1 media_id, $2 the reader, $3 this node's name (for avatar owners; a
// cached remote row its origin served as an avatar is anyone's to read).
GC_SQL(kReadable,
       "SELECT " GC_MEDIA_COLS ", (m.uploader = $2 "
       "  OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_media_id = m.media_id "
       "             AND m.uploader = '@' || u.local_part || ':' || $3 AND u.deactivated_at IS NULL) "
       "  OR (m.remote_avatar AND m.origin <> $3) "
       "  OR EXISTS (SELECT 1 FROM events e JOIN group_members gm ON gm.group_id = e.group_id "
       "             JOIN groups g ON g.id = e.group_id AND g.deleted_at IS NULL "
       "             WHERE (e.content ->> 'media_id') = m.media_id AND e.type = 'message' "
       "               AND e.deleted_at IS NULL AND gm.user_id = $2 AND gm.membership = 'join')) "
       "FROM media m WHERE m.media_id = $1");
// One small write per read of a cached remote item: reads of the same item
// are rare (clients cache it as immutable), and the order must be exact.
GC_SQL(kTouchRemote, "UPDATE media SET last_access = clock_timestamp() WHERE media_id = $1");
GC_SQL(kThumb, "SELECT sha256, content_type FROM media_thumbnails WHERE media_id = $1 AND size = $2");
GC_SQL(kSetQuarantine,
       "UPDATE media SET quarantined_at = CASE WHEN $2 THEN coalesce(quarantined_at, now()) END, "
       "quarantined_by = CASE WHEN $2 THEN coalesce(quarantined_by, $3) END WHERE media_id = $1");
GC_SQL(kMediaStats,
       "SELECT count(*), coalesce(sum(size), 0), count(*) FILTER (WHERE quarantined_at IS NOT NULL) FROM media");
// Referenced blobs only: a blob at refs 0 waits for the sweep to delete it.
GC_SQL(kBlobStats, "SELECT count(*), coalesce(sum(size), 0) FROM media_blobs WHERE refs > 0");
GC_SQL(kList,
       "SELECT " GC_MEDIA_COLS " FROM media m "
       "WHERE ($1 = '' OR m.uploader = $1) "
       "  AND ($2 = '' OR EXISTS (SELECT 1 FROM events e JOIN groups g ON g.id = e.group_id "
       "       WHERE g.address = $2 AND (e.content ->> 'media_id') = m.media_id AND e.type = 'message')) "
       "  AND ($3 = '' OR m.content_type LIKE $3 || '%') "
       "  AND ($4::bigint IS NULL OR m.size >= $4::bigint) AND ($5::bigint IS NULL OR m.size <= $5::bigint) "
       "  AND ($6::text IS NULL OR (m.created_at, m.media_id) < "
       "       (SELECT created_at, media_id FROM media WHERE media_id = $6::text)) "
       "ORDER BY m.created_at DESC, m.media_id DESC LIMIT $7");
GC_SQL(kTopUploaders,
       "SELECT uploader, count(*), sum(size) FROM media GROUP BY uploader ORDER BY sum(size) DESC, uploader LIMIT $1");
GC_SQL(kUnreferenced,
       "SELECT m.media_id FROM media m "
       "WHERE m.created_at < now() - make_interval(secs => $1) "
       "  AND NOT EXISTS (SELECT 1 FROM events e WHERE (e.content ->> 'media_id') = m.media_id "
       "                  AND e.type = 'message' AND e.deleted_at IS NULL) "
       "  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_media_id = m.media_id) "
       "LIMIT 1000");
GC_SQL(kExpired, "SELECT media_id FROM media WHERE created_at < now() - make_interval(days => $1) LIMIT 1000");
GC_SQL(kDeleteThumbs, "DELETE FROM media_thumbnails WHERE media_id = $1 RETURNING sha256");
GC_SQL(kDeleteMedia, "DELETE FROM media WHERE media_id = $1 RETURNING sha256");
GC_SQL(kLockedUnreferencedBlob,
       "SELECT sha256 FROM media_blobs WHERE refs = 0 LIMIT 1 FOR UPDATE SKIP LOCKED");
GC_SQL(kDeleteBlobRow, "DELETE FROM media_blobs WHERE sha256 = $1");
GC_SQL(kTrySweepLock, "SELECT pg_try_advisory_lock(7460211862315542)");
GC_SQL(kSweepUnlock, "SELECT pg_advisory_unlock(7460211862315542)");

MediaItem ItemFromRow(const PgResult& r, int i) {
  MediaItem m;
  m.media_id = r.text(i, 0);
  m.origin = r.text(i, 1);
  m.uploader = r.text(i, 2);
  m.content_type = r.text(i, 3);
  m.filename = r.text(i, 4);
  m.size = r.int64(i, 5);
  m.sha256 = r.text(i, 6);
  if (!r.is_null(i, 7)) m.width = static_cast<int>(r.int64(i, 7));
  if (!r.is_null(i, 8)) m.height = static_cast<int>(r.int64(i, 8));
  m.created_at_ms = r.int64(i, 9);
  m.quarantined = r.boolean(i, 10);
  return m;
}

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

MediaService::MediaService(PgPool& db, BlobStore& store, MediaOptions options)
    : db_(db),
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
  auto taken = db_.With([&](PgConn& c) { return c.Exec(kTakeBlob, {sha, static_cast<int64_t>(size)}); });
  if (!taken.ok()) return taken.error();
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
  auto r = db_.With([&](PgConn& c) { return c.Exec(kReleaseBlob, {sha}); });
  if (!r.ok()) LogWarn("could not release a media blob", {{"sha256", sha}, {"error", r.error().message}});
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
    auto used = db_.With([&](PgConn& c) { return c.Exec(kUsedBytes, {me.user_id}); });
    if (!used.ok()) return used.error();
    if (auto e = over_quota(used->int64(0, 0))) return *e;
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
  auto created = db_.Transaction([&](PgConn& c) -> Result<int64_t> {
    if (quota > 0) {
      // One upload of a user at a time past this point: concurrent uploads
      // cannot each fit the quota and together exceed it.
      GC_TRY(c.Exec(kLockUploader, {me.user_id}));
      auto used = c.Exec(kUsedBytes, {me.user_id});
      if (!used.ok()) return used.error();
      if (auto e = over_quota(used->int64(0, 0))) return *e;
    }
    auto r = c.Exec(kInsertMedia, {item.media_id, item.origin, item.uploader, item.sha256, item.size,
                                   item.content_type, item.filename,
                                   item.width ? std::optional<int64_t>(*item.width) : std::nullopt,
                                   item.height ? std::optional<int64_t>(*item.height) : std::nullopt});
    if (!r.ok()) return r.error();
    for (auto& t : thumbs) {
      GC_TRY(c.Exec(kInsertThumb, {item.media_id, t.size, t.staged.sha, t.info.content_type,
                                   static_cast<int64_t>(t.info.width), static_cast<int64_t>(t.info.height)}));
    }
    return r->int64(0, 0);
  });
  if (!created.ok()) {
    release_all();
    return created.error();
  }
  item.created_at_ms = *created;
  LogInfo("media stored", {{"media_id", item.media_id}, {"type", item.content_type}, {"size", item.size},
                           {"uploader", item.uploader}, {"thumbnails", static_cast<int64_t>(thumbs.size())}});
  return item;
}

Result<MediaItem> MediaService::Readable(const std::string& user, const std::string& media_id) {
  static const Error kNotFound = Error::NotFound("no such media");
  if (!IsValidMediaId(media_id)) return kNotFound;
  auto r = db_.With([&](PgConn& c) { return c.Exec(kReadable, {media_id, user, options_.server_name}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return kNotFound;
  MediaItem item = ItemFromRow(*r, 0);
  if (item.quarantined || !r->boolean(0, 11)) return kNotFound;
  if (item.origin != options_.server_name) {
    // A cached remote item in use: the LRU eviction keeps it longer.
    auto touched = db_.With([&](PgConn& c) { return c.Exec(kTouchRemote, {media_id}); });
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
  auto r = db_.With([&](PgConn& c) { return c.Exec(kThumb, {item.media_id, snapped}); });
  if (!r.ok()) return r.error();
  Thumb t;
  if (r->rows() == 0) {
    // No thumbnail at this size: the image itself fits.
    t.content_type = item.content_type;
    t.sha256 = item.sha256;
  } else {
    t.sha256 = r->text(0, 0);
    t.content_type = r->text(0, 1);
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
    auto access = RemoteAccess(user, media_id);
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

Result<std::vector<MediaItem>> MediaService::List(const MediaFilter& f) {
  auto r = db_.With([&](PgConn& c) {
    return c.Exec(kList, {f.uploader, f.group_id, f.type_prefix, f.min_size, f.max_size, f.before,
                          static_cast<int64_t>(f.limit)});
  });
  if (!r.ok()) return r.error();
  std::vector<MediaItem> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(ItemFromRow(*r, i));
  return out;
}

Result<std::vector<Uploader>> MediaService::TopUploaders(int limit) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kTopUploaders, {static_cast<int64_t>(limit)}); });
  if (!r.ok()) return r.error();
  std::vector<Uploader> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back({r->text(i, 0), r->int64(i, 1), r->int64(i, 2)});
  return out;
}

Status MediaService::SetQuarantine(const std::string& media_id, bool quarantined, const std::string& by) {
  if (!IsValidMediaId(media_id)) return Error::NotFound("no such media");
  auto r = db_.With([&](PgConn& c) { return c.Exec(kSetQuarantine, {media_id, quarantined, by}); });
  if (!r.ok()) return r.error();
  if (r->affected() == 0) return Error::NotFound("no such media");
  return OkStatus();
}

Result<MediaStats> MediaService::Stats() {
  MediaStats s;
  auto st = db_.With([&](PgConn& c) -> Status {
    auto m = c.Exec(kMediaStats);
    if (!m.ok()) return m.error();
    auto b = c.Exec(kBlobStats);
    if (!b.ok()) return b.error();
    s.count = m->int64(0, 0);
    s.uploaded_bytes = m->int64(0, 1);
    s.quarantined = m->int64(0, 2);
    s.blobs = b->int64(0, 0);
    s.stored_bytes = b->int64(0, 1);
    return OkStatus();
  });
  if (!st.ok()) return st.error();
  return s;
}

Result<int64_t> MediaService::RemoveMedia(const std::vector<std::string>& ids) {
  int64_t n = 0;
  for (const auto& id : ids) {
    auto st = db_.Transaction([&](PgConn& c) -> Status {
      auto t = c.Exec(kDeleteThumbs, {id});
      if (!t.ok()) return t.error();
      auto m = c.Exec(kDeleteMedia, {id});
      if (!m.ok()) return m.error();
      for (auto* r : {&*t, &*m}) {
        for (int i = 0; i < r->rows(); ++i) GC_TRY(c.Exec(kReleaseBlob, {r->text(i, 0)}));
      }
      return OkStatus();
    });
    if (!st.ok()) return st.error();
    ++n;
  }
  removed.fetch_add(static_cast<uint64_t>(n));
  return n;
}

Status MediaService::DeleteUnreferencedBlobs() {
  for (int i = 0; i < 10000; ++i) {
    bool more = false;
    auto st = db_.Transaction([&](PgConn& c) -> Status {
      // The row stays locked while the bytes go: an upload of the same
      // content waits for this transaction, then stores the blob anew.
      auto r = c.Exec(kLockedUnreferencedBlob);
      if (!r.ok()) return r.error();
      if (r->rows() == 0) return OkStatus();
      std::string sha = r->text(0, 0);
      Status del = store_.Delete(sha);
      if (!del.ok()) {
        store_errors.fetch_add(1);
        return del.error();
      }
      GC_TRY(c.Exec(kDeleteBlobRow, {sha}));
      more = true;
      return OkStatus();
    });
    if (!st.ok()) return st.error();
    if (!more) return OkStatus();
  }
  return OkStatus();
}

Result<int64_t> MediaService::Sweep() {
  auto lease = db_.Acquire();
  if (!lease.ok()) return lease.error();
  auto locked = (*lease)->Exec(kTrySweepLock);
  if (!locked.ok()) return locked.error();
  if (!locked->boolean(0, 0)) return int64_t{0};  // another process sweeps
  struct Unlock {
    PgPool::Lease& l;
    ~Unlock() { (void)l->Exec(kSweepUnlock); }
  } unlock{*lease};
  int64_t total = 0;
  auto ids = [&](const SqlQuery& q, int64_t arg) -> Result<std::vector<std::string>> {
    auto r = db_.With([&](PgConn& c) { return c.Exec(q, {arg}); });
    if (!r.ok()) return r.error();
    std::vector<std::string> out;
    for (int i = 0; i < r->rows(); ++i) out.push_back(r->text(i, 0));
    return out;
  };
  auto unref = ids(kUnreferenced, options_.unreferenced_after_s);
  if (!unref.ok()) return unref.error();
  auto n = RemoveMedia(*unref);
  if (!n.ok()) return n.error();
  total += *n;
  if (options_.retention_days > 0) {
    auto old = ids(kExpired, options_.retention_days);
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
