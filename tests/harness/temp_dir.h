// TempDir: a private scratch directory for one test object, removed with it.
//
// Integration tests write node configs, data directories and PostgreSQL
// clusters here. Set GC_KEEP_TEMP=1 to keep the directories for a post-mortem
// (the path is in node logs and failure messages).
#pragma once

#include <string>
#include <string_view>

namespace gc::test {

class TempDir {
 public:
  // Creates $TMPDIR/gc-test-XXXXXX (or /tmp/... when TMPDIR is unset or
  // empty). When running as root the directory is made 0755: an embedded
  // PostgreSQL inside it runs as the `postgres` user, which must be able to
  // traverse it. Throws std::runtime_error if the directory cannot be made.
  TempDir();
  // Removes the tree recursively unless GC_KEEP_TEMP=1. Never throws.
  ~TempDir();

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Absolute path, without a trailing slash.
  const std::string& path() const { return path_; }

  // Creates path()/name (and any missing parents; `name` may contain '/')
  // and returns its absolute path. Existing directories are fine.
  std::string Sub(std::string_view name) const;

  // Writes `content` to path()/name, replacing the file, and returns its path.
  // For password files, extra configs and other CLI inputs.
  std::string WriteFile(std::string_view name, std::string_view content) const;

 private:
  void Remove() noexcept;
  std::string path_;  // empty once moved from
};

// True when GC_KEEP_TEMP=1: nothing is cleaned up, for debugging.
bool KeepTempFiles();

}  // namespace gc::test
