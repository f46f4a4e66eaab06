#include "services/media/pg_media_store.h"

#include "node/db/pg.h"
#include "services/media/media_service.h"

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

// Federated media.
#define GC_MEDIA_CARRIED_BY_LIVE_MESSAGE                                                  \
  "SELECT 1 FROM events e JOIN group_members gm ON gm.group_id = e.group_id "            \
  "JOIN groups g ON g.id = e.group_id AND g.deleted_at IS NULL "                          \
  "WHERE (e.content ->> 'media_id') = $1 AND e.type = 'message' AND e.deleted_at IS NULL " \
  "AND gm.membership = 'join' "
// $1 media_id, $2 the reader: may they read it, and is a row held here?
GC_SQL(kRemoteAccess, "SELECT EXISTS (" GC_MEDIA_CARRIED_BY_LIVE_MESSAGE "AND gm.user_id = $2), "
                      "EXISTS (SELECT 1 FROM media WHERE media_id = $1)");
// $1 media_id, $2 the asking peer, $3 this node: its own upload, readable by
// a joined member of the peer (the server part of '@local:server').
GC_SQL(kRemotePeerMayFetch,
       "SELECT m.sha256, m.size, m.content_type, m.filename, m.uploader FROM media m "
       "WHERE m.media_id = $1 AND m.origin = $3 AND m.quarantined_at IS NULL AND EXISTS ("
       GC_MEDIA_CARRIED_BY_LIVE_MESSAGE "AND substr(gm.user_id, strpos(gm.user_id, ':') + 1) = $2)");
// $1 media_id, $2 this node: its own upload, the current avatar of an
// active user who uploaded it.
GC_SQL(kRemoteAvatarMayFetch,
       "SELECT m.sha256, m.size, m.content_type, m.filename, m.uploader FROM media m "
       "WHERE m.media_id = $1 AND m.origin = $2 AND m.quarantined_at IS NULL AND EXISTS ("
       "  SELECT 1 FROM users u WHERE u.avatar_media_id = m.media_id AND u.deactivated_at IS NULL "
       "  AND m.uploader = '@' || u.local_part || ':' || $2)");
GC_SQL(kRemoteInsert,
       "INSERT INTO media (media_id, origin, uploader, sha256, size, content_type, filename, width, height, "
       "last_access, remote_avatar) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), $10) "
       "ON CONFLICT (media_id) DO NOTHING RETURNING (extract(epoch FROM created_at) * 1000)::bigint");
// An item another process or a group's fetch cached first, now known to be an avatar.
GC_SQL(kRemoteMarkAvatar, "UPDATE media SET remote_avatar = true WHERE media_id = $1 AND origin <> $2");
GC_SQL(kRemoteCacheUsed, "SELECT coalesce(sum(size), 0) FROM media WHERE last_access IS NOT NULL");
GC_SQL(kRemoteLeastRecent,
       "SELECT media_id, size FROM media WHERE last_access IS NOT NULL AND quarantined_at IS NULL "
       "AND media_id <> $1 ORDER BY last_access, media_id LIMIT 100");

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

std::optional<int64_t> OptInt(const std::optional<int>& v) {
  return v ? std::optional<int64_t>(*v) : std::nullopt;
}

Status InsertThumbs(PgConn& c, const std::string& media_id, const std::vector<MediaStore::Thumb>& thumbs) {
  for (auto& t : thumbs) {
    GC_TRY(c.Exec(kInsertThumb, {media_id, t.size, t.sha256, t.content_type, static_cast<int64_t>(t.width),
                                 static_cast<int64_t>(t.height)}));
  }
  return OkStatus();
}

Result<std::vector<std::string>> Ids(PgPool& db, const SqlQuery& q, int64_t arg) {
  auto r = db.With([&](PgConn& c) { return c.Exec(q, {arg}); });
  if (!r.ok()) return r.error();
  std::vector<std::string> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(r->text(i, 0));
  return out;
}

}  // namespace

Result<int64_t> PgMediaStore::UsedBytes(const std::string& user) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kUsedBytes, {user}); });
  if (!r.ok()) return r.error();
  return r->int64(0, 0);
}

Status PgMediaStore::TakeBlob(const std::string& sha, int64_t size) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kTakeBlob, {sha, size}); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Status PgMediaStore::ReleaseBlob(const std::string& sha) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kReleaseBlob, {sha}); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<MediaStore::Inserted> PgMediaStore::InsertUpload(const MediaItem& item, const std::vector<Thumb>& thumbs,
                                                        int64_t quota) {
  return db_.Transaction([&](PgConn& c) -> Result<Inserted> {
    Inserted out;
    if (quota > 0) {
      // One upload of a user at a time past this point: concurrent uploads
      // cannot each fit the quota and together exceed it.
      GC_TRY(c.Exec(kLockUploader, {item.uploader}));
      auto used = c.Exec(kUsedBytes, {item.uploader});
      if (!used.ok()) return used.error();
      if (used->int64(0, 0) + item.size > quota) {
        out.over_quota = used->int64(0, 0);
        return out;
      }
    }
    auto r = c.Exec(kInsertMedia, {item.media_id, item.origin, item.uploader, item.sha256, item.size,
                                   item.content_type, item.filename, OptInt(item.width), OptInt(item.height)});
    if (!r.ok()) return r.error();
    GC_TRY(InsertThumbs(c, item.media_id, thumbs));
    out.created_at_ms = r->int64(0, 0);
    return out;
  });
}

Result<std::optional<std::pair<MediaItem, bool>>> PgMediaStore::FindForReader(const std::string& media_id,
                                                                              const std::string& reader) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kReadable, {media_id, reader, server_name_}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<std::pair<MediaItem, bool>>();
  return std::make_optional(std::make_pair(ItemFromRow(*r, 0), r->boolean(0, 11)));
}

Status PgMediaStore::TouchRemote(const std::string& media_id) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kTouchRemote, {media_id}); });
  if (!r.ok()) return r.error();
  return OkStatus();
}

Result<std::optional<std::pair<std::string, std::string>>> PgMediaStore::Thumbnail(const std::string& media_id,
                                                                                   int size) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kThumb, {media_id, size}); });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<std::pair<std::string, std::string>>();
  return std::make_optional(std::make_pair(r->text(0, 0), r->text(0, 1)));
}

Result<std::vector<MediaItem>> PgMediaStore::List(const MediaFilter& f) {
  auto r = db_.With([&](PgConn& c) {
    return c.Exec(kList, {f.uploader, f.group_id, f.type_prefix, f.min_size, f.max_size, f.before,
                          static_cast<int64_t>(f.limit)});
  });
  if (!r.ok()) return r.error();
  std::vector<MediaItem> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back(ItemFromRow(*r, i));
  return out;
}

Result<std::vector<Uploader>> PgMediaStore::TopUploaders(int limit) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kTopUploaders, {static_cast<int64_t>(limit)}); });
  if (!r.ok()) return r.error();
  std::vector<Uploader> out;
  for (int i = 0; i < r->rows(); ++i) out.push_back({r->text(i, 0), r->int64(i, 1), r->int64(i, 2)});
  return out;
}

Result<bool> PgMediaStore::SetQuarantine(const std::string& media_id, bool quarantined, const std::string& by) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kSetQuarantine, {media_id, quarantined, by}); });
  if (!r.ok()) return r.error();
  return r->affected() > 0;
}

Result<MediaStats> PgMediaStore::Stats() {
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

Result<std::vector<std::string>> PgMediaStore::Unreferenced(int64_t older_than_s) {
  return Ids(db_, kUnreferenced, older_than_s);
}

Result<std::vector<std::string>> PgMediaStore::Expired(int64_t days) { return Ids(db_, kExpired, days); }

Status PgMediaStore::Remove(const std::string& media_id) {
  return db_.Transaction([&](PgConn& c) -> Status {
    auto t = c.Exec(kDeleteThumbs, {media_id});
    if (!t.ok()) return t.error();
    auto m = c.Exec(kDeleteMedia, {media_id});
    if (!m.ok()) return m.error();
    for (auto* r : {&*t, &*m}) {
      for (int i = 0; i < r->rows(); ++i) GC_TRY(c.Exec(kReleaseBlob, {r->text(i, 0)}));
    }
    return OkStatus();
  });
}

Result<bool> PgMediaStore::DeleteOneUnreferencedBlob(const std::function<Status(const std::string& sha)>& erase) {
  bool deleted = false;
  auto st = db_.Transaction([&](PgConn& c) -> Status {
    // The row stays locked while the bytes go.
    auto r = c.Exec(kLockedUnreferencedBlob);
    if (!r.ok()) return r.error();
    if (r->rows() == 0) return OkStatus();
    std::string sha = r->text(0, 0);
    GC_TRY(erase(sha));
    GC_TRY(c.Exec(kDeleteBlobRow, {sha}));
    deleted = true;
    return OkStatus();
  });
  if (!st.ok()) return st.error();
  return deleted;
}

Result<bool> PgMediaStore::WithSweepLock(const std::function<void()>& fn) {
  // A session-level advisory lock: held on this leased connection while
  // `fn` runs (on other connections), released on the same one.
  auto lease = db_.Acquire();
  if (!lease.ok()) return lease.error();
  auto locked = (*lease)->Exec(kTrySweepLock);
  if (!locked.ok()) return locked.error();
  if (!locked->boolean(0, 0)) return false;
  struct Unlock {
    PgPool::Lease& l;
    ~Unlock() { (void)l->Exec(kSweepUnlock); }
  } unlock{*lease};
  fn();
  return true;
}

Result<std::pair<bool, bool>> PgMediaStore::RemoteAccess(const std::string& media_id, const std::string& user) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kRemoteAccess, {media_id, user}); });
  if (!r.ok()) return r.error();
  return std::pair<bool, bool>{r->boolean(0, 0), r->boolean(0, 1)};
}

Result<std::optional<RemoteMediaChunk>> PgMediaStore::ForPeer(const std::string& media_id, const std::string& peer,
                                                              bool avatar) {
  auto r = db_.With([&](PgConn& c) {
    return avatar ? c.Exec(kRemoteAvatarMayFetch, {media_id, server_name_})
                  : c.Exec(kRemotePeerMayFetch, {media_id, peer, server_name_});
  });
  if (!r.ok()) return r.error();
  if (r->rows() == 0) return std::optional<RemoteMediaChunk>();
  RemoteMediaChunk c;
  c.media_id = media_id;
  c.sha256 = r->text(0, 0);
  c.size = r->int64(0, 1);
  c.content_type = r->text(0, 2);
  c.filename = r->text(0, 3);
  c.uploader = r->text(0, 4);
  return std::optional<RemoteMediaChunk>(std::move(c));
}

Result<std::optional<int64_t>> PgMediaStore::InsertRemote(const MediaItem& item, const std::vector<Thumb>& thumbs,
                                                          bool avatar) {
  return db_.Transaction([&](PgConn& c) -> Result<std::optional<int64_t>> {
    auto r = c.Exec(kRemoteInsert, {item.media_id, item.origin, item.uploader, item.sha256, item.size,
                                    item.content_type, item.filename, OptInt(item.width), OptInt(item.height),
                                    avatar});
    if (!r.ok()) return r.error();
    if (r->rows() == 0) {  // another process of this node, or a group's fetch, cached it first
      if (avatar) GC_TRY(c.Exec(kRemoteMarkAvatar, {item.media_id, server_name_}));
      return std::optional<int64_t>();
    }
    GC_TRY(InsertThumbs(c, item.media_id, thumbs));
    return std::optional<int64_t>(r->int64(0, 0));
  });
}

Result<int64_t> PgMediaStore::RemoteCacheUsed() {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kRemoteCacheUsed); });
  if (!r.ok()) return r.error();
  return r->int64(0, 0);
}

Result<std::vector<std::pair<std::string, int64_t>>> PgMediaStore::LeastRecentRemote(const std::string& keep) {
  auto r = db_.With([&](PgConn& c) { return c.Exec(kRemoteLeastRecent, {keep}); });
  if (!r.ok()) return r.error();
  std::vector<std::pair<std::string, int64_t>> out;
  for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->text(i, 0), r->int64(i, 1));
  return out;
}

}  // namespace gc
