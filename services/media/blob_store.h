// BlobStore: where media bytes live, named by the SHA-256 of their content.
//
// Content addressing makes identical uploads one blob (the media service
// counts references in PostgreSQL) and makes every write idempotent: putting
// a blob that exists stores the same bytes again. A blob is either wholly
// there or absent: the filesystem store writes a temp file and renames it,
// an S3 PUT is atomic. What is half-written is never under the final name.
//
// Thread-safety: implementations are thread-safe; every call may block
// (disk, network): never call them on I/O threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "node/common/result.h"

namespace gc {

struct Config;

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  virtual const char* kind() const = 0;  // "filesystem", "s3"

  // Stores the file at `local_path` (under the media temp dir, so a rename
  // can take it) as blob `sha256_hex` of `size` bytes. The store may move
  // the file away; the caller removes it if it is still there. kUnavailable
  // with a clear message when the store cannot be written (then no blob of
  // that name was created by this call).
  virtual Status Put(const std::string& sha256_hex, const std::string& local_path, uint64_t size) = 0;

  // A descriptor reading the whole blob from offset 0, and its size; the
  // caller closes it. kNotFound when the blob is absent, kUnavailable when
  // the store cannot be read.
  struct Opened {
    int fd = -1;
    uint64_t size = 0;
  };
  virtual Result<Opened> Open(const std::string& sha256_hex) = 0;

  // Removes the blob; an absent blob is success. kUnavailable on failure.
  virtual Status Delete(const std::string& sha256_hex) = 0;
};

// Blobs under `root`/ab/cd/<sha256> (created if missing). `temp_dir` must be
// on the same filesystem (Put renames).
std::unique_ptr<BlobStore> MakeFilesystemBlobStore(const std::string& root);

// The store named by media.store; temp_dir is where S3 downloads are staged.
Result<std::unique_ptr<BlobStore>> MakeBlobStore(const Config& config, const std::string& media_dir);

// Hex SHA-256 of a file's contents; kInternal if it cannot be read.
Result<std::string> Sha256OfFile(const std::string& path, uint64_t* size);

// Whether `s` is 64 lowercase hex digits (a blob name).
bool IsSha256Hex(const std::string& s);

}  // namespace gc
