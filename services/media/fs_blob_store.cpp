// The filesystem blob store: media.store: filesystem (the default).
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "node/common/log.h"
#include "services/media/blob_store.h"

namespace gc {

namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

Status MakeDirs(const std::string& path) {
  std::string cur;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    cur = path.substr(0, j);
    if (!cur.empty() && ::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error::Unavailable(Errno("cannot create " + cur));
    }
    i = j + 1;
  }
  return OkStatus();
}

class FilesystemBlobStore : public BlobStore {
 public:
  explicit FilesystemBlobStore(std::string root) : root_(std::move(root)) {}
  const char* kind() const override { return "filesystem"; }

  Status Put(const std::string& sha, const std::string& local_path, uint64_t size) override {
    if (!IsSha256Hex(sha)) return Error::Internal("bad blob name");
    std::string dir = Dir(sha);
    GC_TRY(MakeDirs(dir));
    // The bytes reach the disk before the name does: a crash leaves either
    // no blob or the whole blob, never a short one under its final name.
    int fd = ::open(local_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error::Unavailable(Errno("cannot open the staged upload"));
    struct stat st {};
    bool ok = ::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) == size && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return Error::Unavailable("the staged upload is not the expected " + std::to_string(size) + " bytes");
    if (::rename(local_path.c_str(), (dir + "/" + sha).c_str()) != 0) {
      return Error::Unavailable(Errno("cannot store the media file"));
    }
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return OkStatus();
  }

  Result<Opened> Open(const std::string& sha) override {
    if (!IsSha256Hex(sha)) return Error::NotFound("no such blob");
    int fd = ::open((Dir(sha) + "/" + sha).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return Error::NotFound("no such blob");
      return Error::Unavailable(Errno("cannot read the media file"));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return Error::Unavailable(Errno("cannot read the media file"));
    }
    return Opened{fd, static_cast<uint64_t>(st.st_size)};
  }

  Status Delete(const std::string& sha) override {
    if (!IsSha256Hex(sha)) return OkStatus();
    if (::unlink((Dir(sha) + "/" + sha).c_str()) != 0 && errno != ENOENT) {
      return Error::Unavailable(Errno("cannot remove the media file"));
    }
    return OkStatus();
  }

 private:
  std::string Dir(const std::string& sha) const { return root_ + "/" + sha.substr(0, 2) + "/" + sha.substr(2, 2); }
  std::string root_;
};

}  // namespace

std::unique_ptr<BlobStore> MakeFilesystemBlobStore(const std::string& root) {
  return std::make_unique<FilesystemBlobStore>(root);
}

bool IsSha256Hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> Sha256OfFile(const std::string& path, uint64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::Internal(Errno("cannot read " + path));
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  unsigned char buf[65536];
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Error::Internal(Errno("cannot read " + path));
    }
    if (n == 0) break;
    crypto_hash_sha256_update(&st, buf, static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  ::close(fd);
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, out);
  char hex[2 * sizeof out + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  if (size) *size = total;
  return std::string(hex);
}

}  // namespace gc
