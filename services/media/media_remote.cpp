// Federated media, both sides (spec/media.md 8, spec/federation.md 8.6c).
//
// The reader (a node asked for another node's media_id that it does not
// hold): the access rule is checked first against the local replicas (the
// reader is a member of a group with a live message carrying the id), then
// one fetch per media_id runs on the fetch pool, however many readers wait
// (`fetching_`). The fetch asks the origin for chunks from offset 0 on,
// writes them to a temp file, and has RemoteDownload check each chunk and
// the final SHA-256 against what the origin announced, within one deadline
// and limits.max_upload_bytes. The type is sniffed again here (the origin's
// word is not taken); images are probed with the same loader blocks and
// pixel limit as uploads and get their thumbnails made here from the
// original. The blobs and a `media` row (origin = the other node, uploader
// the remote user, last_access now) are stored like an upload's, and the
// least recently used remote rows are evicted while the cache is over
// media.remote_cache_bytes (their blobs deleted once unreferenced).
//
// The origin: answers a chunk only for its own uploads, and only to a peer
// that has joined members in a group (held here: homed here or replicated)
// in which a live message carries the media_id, or, asked for an avatar, to
// any peer if the id is the current avatar of one of its active users.
// Every other case is the same kNotFound, so a peer learns nothing about
// media it may not read. A reader asks for an avatar when the id is not
// carried by any group of the reading user's; the row it caches is then
// marked remote_avatar, readable by every signed-in user here.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "node/common/log.h"
#include "node/common/worker_pool.h"
#include "services/media/media_files.h"
#include "services/media/media_service.h"
#include "services/media/media_store.h"
#include "services/media/sniff.h"

namespace gc {

namespace {

constexpr size_t kMaxFetchesWaiting = 64;
constexpr std::chrono::milliseconds kChunkTimeout{5000};  // the federation answer wait (spec 9.5)

Error OriginUnavailable(std::string message) {
  Error e = Error::Unavailable(std::move(message));
  e.detail_code = "origin_unavailable";
  return e;
}

}  // namespace

void MediaService::ReadableAsync(const std::string& user, const std::string& media_id, ItemDone done) {
  auto item = Readable(user, media_id);
  std::string origin = media_id.substr(0, media_id.find('/'));
  if (item.ok() || item.error().code != ErrorCode::kNotFound || !IsValidMediaId(media_id) ||
      origin == options_.server_name) {
    return done(std::move(item));
  }
  auto access = rows_->RemoteAccess(media_id, user);
  if (!access.ok()) return done(access.error());
  // Held here but not readable (quarantined, or not theirs).
  if (access->second) return done(item.error());
  // Not carried by a group of theirs: it may still be an avatar of one of
  // the origin's users, which any signed-in user may see. It is asked for as
  // such, and the origin refuses anything else (404 then, as for any id).
  bool avatar = !access->first;
  std::string key = (avatar ? "avatar " : "") + media_id;
  {
    std::lock_guard<std::mutex> lock(fetch_mu_);
    auto it = fetching_.find(key);
    if (it != fetching_.end()) {
      it->second.push_back(std::move(done));  // one fetch, however many readers
      return;
    }
    if (fetching_.size() < kMaxFetchesWaiting) {
      fetching_[key].push_back(std::move(done));
      done = nullptr;
    }
  }
  if (done) return done(Error::Unavailable("too many media fetches from other nodes are in progress, retry later"));
  fetch_pool_->Post([this, media_id, key, avatar] {
    remote_fetches.fetch_add(1);
    auto r = FetchRemote(media_id, avatar);
    if (!r.ok()) {
      remote_fetch_failures.fetch_add(1);
      if (r.error().detail_code == "remote_media_invalid") remote_invalid.fetch_add(1);
      LogWarn("remote media fetch failed", {{"media_id", media_id}, {"error", r.error().message}});
    }
    std::vector<ItemDone> waiters;
    {
      std::lock_guard<std::mutex> lock(fetch_mu_);
      waiters = std::move(fetching_[key]);
      fetching_.erase(key);
    }
    for (auto& w : waiters) w(r);
  });
}

Result<MediaItem> MediaService::FetchRemote(const std::string& media_id, bool avatar) {
  std::string origin = media_id.substr(0, media_id.find('/'));
  if (!remote_) return OriginUnavailable("this node does not federate: " + origin + "'s media cannot be fetched");
  struct Cleanup {
    std::vector<std::string> paths;
    int fd = -1;
    ~Cleanup() {
      if (fd >= 0) ::close(fd);
      for (auto& p : paths) ::unlink(p.c_str());
    }
  } cleanup;
  std::string path = MediaTempName(options_.temp_dir, "remote");
  cleanup.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (cleanup.fd < 0) return Error::Unavailable("cannot stage media from another node: the disk is not writable");
  cleanup.paths.push_back(path);

  RemoteDownload download(media_id, options_.max_remote_bytes);
  std::string head;  // the first bytes, for sniffing
  auto deadline = std::chrono::steady_clock::now() + options_.remote_fetch_timeout;
  // Bounded by the deadline and the size: every chunk before the end
  // carries bytes (RemoteDownload refuses empty ones).
  while (!download.complete()) {
    if (fetch_pool_stopping_.load()) return Error::Unavailable("the node is shutting down");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return OriginUnavailable(origin + " did not send " + media_id + " in time (" +
                               std::to_string(options_.remote_fetch_timeout.count() / 1000) + " s)");
    }
    auto chunk =
        remote_->FetchMediaChunk(origin, media_id, download.received(), avatar, std::min(left, kChunkTimeout));
    if (!chunk.ok()) {
      if (chunk.error().code == ErrorCode::kNotFound) return Error::NotFound("no such media");
      if (chunk.error().code == ErrorCode::kInvalid) return RemoteMediaInvalid(chunk.error().message);
      return OriginUnavailable("could not fetch " + media_id + " from " + origin + ": " + chunk.error().message);
    }
    GC_TRY(download.Take(*chunk));
    const std::string& data = chunk->data;
    for (size_t done = 0; done < data.size();) {
      ssize_t n = ::write(cleanup.fd, data.data() + done, data.size() - done);
      if (n <= 0) return Error::Unavailable("cannot stage media from another node: the disk is full");
      done += static_cast<size_t>(n);
    }
    if (head.size() < 4096) head += data.substr(0, 4096 - head.size());
  }
  GC_TRY(download.Finish());
  ::close(cleanup.fd);
  cleanup.fd = -1;
  return StoreRemote(download.announced(), path, head, avatar, cleanup.paths);
}

Result<MediaItem> MediaService::StoreRemote(const RemoteMediaChunk& meta, const std::string& path,
                                            const std::string& head, bool avatar,
                                            std::vector<std::string>& temp_paths) {
  // The origin's content type is not believed: this node serves what it
  // sniffs, and decodes images only with the loader that type names.
  SniffedType type = SniffContentType(head);
  std::optional<ImageInfo> info;
  std::vector<ThumbStaged> thumbs;
  if (type.image) {
    auto probed = images_.Probe(path, type.content_type);
    if (!probed.ok()) return RemoteMediaInvalid("the image is not one this node accepts: " + probed.error().message);
    info = *probed;
    auto made = MakeThumbnails(path, *info, temp_paths);
    if (!made.ok()) return RemoteMediaInvalid(made.error().message);
    thumbs = std::move(*made);
  }
  std::vector<std::string> taken;
  auto release_all = [&] {
    for (auto& sha : taken) ReleaseBlob(sha);
  };
  GC_TRY(StoreBlob(meta.sha256, path, static_cast<uint64_t>(meta.size)));
  taken.push_back(meta.sha256);
  for (auto& t : thumbs) {
    if (Status st = StoreBlob(t.staged.sha, t.staged.path, t.staged.size); !st.ok()) {
      release_all();
      return st.error();
    }
    taken.push_back(t.staged.sha);
  }
  MediaItem item;
  item.media_id = meta.media_id;
  item.origin = meta.media_id.substr(0, meta.media_id.find('/'));
  item.uploader = meta.uploader;
  item.content_type = type.content_type;
  item.filename = CleanMediaFilename(meta.filename);
  item.size = meta.size;
  item.sha256 = meta.sha256;
  if (info) {
    item.width = info->width;
    item.height = info->height;
  }
  std::vector<MediaStore::Thumb> thumb_rows;
  for (auto& t : thumbs) {
    thumb_rows.push_back({t.size, t.staged.sha, t.info.content_type, t.info.width, t.info.height});
  }
  // Nothing inserted (nullopt): another process of this node, or a group's
  // fetch, cached it first.
  auto created = rows_->InsertRemote(item, thumb_rows, avatar);
  if (!created.ok() || !*created) release_all();
  if (!created.ok()) return created.error();
  item.created_at_ms = created->value_or(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    std::chrono::system_clock::now().time_since_epoch())
                                                    .count());
  LogInfo("remote media cached", {{"media_id", item.media_id}, {"type", item.content_type}, {"size", item.size},
                                  {"thumbnails", static_cast<int64_t>(thumbs.size())}});
  EvictRemote(item.media_id);
  return item;
}

void MediaService::EvictRemote(const std::string& keep) {
  int64_t evicted = 0;
  for (int round = 0; round < 100; ++round) {
    auto used = rows_->RemoteCacheUsed();
    if (!used.ok()) break;
    int64_t over = *used - options_.remote_cache_bytes;
    if (over <= 0) break;
    auto lru = rows_->LeastRecentRemote(keep);
    if (!lru.ok() || lru->empty()) break;
    std::vector<std::string> ids;
    for (size_t i = 0; i < lru->size() && over > 0; ++i) {
      ids.push_back((*lru)[i].first);
      over -= (*lru)[i].second;
    }
    auto n = RemoveMedia(ids);
    if (!n.ok()) {
      LogWarn("remote media eviction failed", {{"error", n.error().message}});
      break;
    }
    evicted += *n;
  }
  if (evicted == 0) return;
  remote_evicted.fetch_add(static_cast<uint64_t>(evicted));
  LogInfo("remote media evicted", {{"items", evicted}, {"cache_bytes", options_.remote_cache_bytes}});
  if (Status st = DeleteUnreferencedBlobs(); !st.ok()) {
    LogWarn("could not delete evicted media blobs", {{"error", st.error().message}});
  }
}

Result<RemoteMediaChunk> MediaService::ChunkForPeer(const std::string& peer, const std::string& media_id,
                                                   int64_t offset, bool avatar) {
  static const Error kNotFound = Error::NotFound("no such media");
  if (!IsValidMediaId(media_id) || media_id.substr(0, media_id.find('/')) != options_.server_name) return kNotFound;
  auto found = rows_->ForPeer(media_id, peer, avatar);
  if (!found.ok()) return found.error();
  if (!*found) return kNotFound;
  RemoteMediaChunk c = std::move(**found);
  c.offset = offset;
  if (offset < 0 || offset > c.size) return Error::Invalid("offset is past the end of the media");
  auto opened = store_.Open(c.sha256);
  if (!opened.ok()) {
    store_errors.fetch_add(1);
    return Error::Unavailable("the media store is not available, retry later");
  }
  c.data.resize(static_cast<size_t>(std::min(kRemoteChunkBytes, c.size - offset)));
  size_t got = 0;
  while (got < c.data.size()) {
    ssize_t n = ::pread(opened->fd, c.data.data() + got, c.data.size() - got, offset + static_cast<off_t>(got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(opened->fd);
  if (got < c.data.size()) {
    store_errors.fetch_add(1);
    return Error::Unavailable("the media store is not available, retry later");
  }
  if (offset == 0) served_to_peers.fetch_add(1);
  chunks_to_peers.fetch_add(1);
  return c;
}

}  // namespace gc
