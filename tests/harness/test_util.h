// Small helpers shared by the integration tests.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>

namespace gc::test {

// An address or event id percent-encoded for a URL path segment:
// "#eng:acme.test" -> "%23eng%3Aacme.test".
inline std::string PathSegment(const std::string& id) {
  std::string out;
  for (char c : id) {
    switch (c) {
      case '#': out += "%23"; break;
      case ':': out += "%3A"; break;
      case '@': out += "%40"; break;
      case '$': out += "%24"; break;
      default: out += c;
    }
  }
  return out;
}

// A name unique within this test process and across parallel test
// processes: prefix + pid + counter (valid as a username or group name).
inline std::string UniqueName(const char* prefix) {
  static std::atomic<int> n{0};
  return std::string(prefix) + std::to_string(getpid() % 100000) + "n" + std::to_string(n++);
}

// Resident memory of a process in KiB (VmRSS), or -1 if it is gone.
inline long RssKiB(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

}  // namespace gc::test
