#include "tests/harness/temp_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace gc::test {

namespace fs = std::filesystem;

bool KeepTempFiles() {
  const char* keep = std::getenv("GC_KEEP_TEMP");
  return keep != nullptr && std::string_view(keep) == "1";
}

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::string templ = base + "/gc-test-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("TempDir: mkdtemp(" + templ + ") failed: " + std::strerror(errno));
  }
  path_ = buf.data();
  // mkdtemp makes 0700; the postgres user (initdb refuses to run as root)
  // needs to traverse into clusters we create below this directory.
  if (::geteuid() == 0) ::chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() { Remove(); }

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

void TempDir::Remove() noexcept {
  if (path_.empty() || KeepTempFiles()) return;
  std::error_code ec;  // best effort: a destructor must not throw
  fs::remove_all(path_, ec);
  path_.clear();
}

std::string TempDir::Sub(std::string_view name) const {
  fs::path p = fs::path(path_) / fs::path(name);
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) throw std::runtime_error("TempDir: cannot create " + p.string() + ": " + ec.message());
  if (::geteuid() == 0) ::chmod(p.c_str(), 0755);
  return p.string();
}

std::string TempDir::WriteFile(std::string_view name, std::string_view content) const {
  fs::path p = fs::path(path_) / fs::path(name);
  if (p.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
  }
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) throw std::runtime_error("TempDir: cannot write " + p.string());
  return p.string();
}

}  // namespace gc::test
