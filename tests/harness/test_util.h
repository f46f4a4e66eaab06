// Small helpers shared by the integration tests.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <stdexcept>
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
// The same, short, for the many paths tests write: "/api/v1/groups/" + G(g).
inline std::string G(const std::string& id) { return PathSegment(id); }

// A name unique within this test process and across parallel test
// processes: prefix + pid + counter (valid as a username or group name).
inline std::string UniqueName(const char* prefix) {
  static std::atomic<int> n{0};
  return std::string(prefix) + std::to_string(getpid() % 100000) + "n" + std::to_string(n++);
}

// A loopback TCP port below the ephemeral range that is free right now, for
// nodes that must keep their ports across restarts (or be named in another
// node's config before they start). Test binaries run in parallel and pick
// at random, so a port is also claimed for the life of this process with a
// lock file ($TMPDIR/gc-test-port-N.lock, flock): another test process skips
// it even before the node that will listen on it has started (once two
// shards drew the same port in that window: "Address already in use").
inline int FreeLoopbackPort() {
  static std::mt19937 rng(static_cast<unsigned>(getpid()) ^ static_cast<unsigned>(time(nullptr)));
  const char* tmp = getenv("TMPDIR");
  std::string dir = tmp && *tmp ? tmp : "/tmp";
  for (int i = 0; i < 200; ++i) {
    int port = 20000 + static_cast<int>(rng() % 12000);
    std::string lock_path = dir + "/gc-test-port-" + std::to_string(port) + ".lock";
    int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) continue;
    if (flock(lock, LOCK_EX | LOCK_NB) != 0) {  // another test process holds it
      close(lock);
      continue;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (ok) return port;  // `lock` stays open (and held) until this process exits
    close(lock);
  }
  throw std::runtime_error("no free loopback port");
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
