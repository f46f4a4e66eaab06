// FaultProxy: a TCP relay on loopback that injects network faults, for
// federation tests of crashes and partitions.
//
// A node publishes the proxy's address as its federation endpoint
// (federation.endpoint), so every peer's ZeroMQ connection to that node runs
// through it: the proxy is the node's inbound link. Faults apply per
// direction (to the node, from the node) and take effect at once, also on
// open connections:
//
//   kPass       bytes flow
//   kDelay      each chunk is held `delay_ms` before it is written
//   kBandwidth  at most `bytes_per_s` flow (token bucket, 50 ms granularity)
//   kBlackHole  nothing is read or written: the sender's buffers fill and its
//               connection stays open, as when packets vanish (no reset)
//   kDrop       open connections are closed (FIN) and new ones closed at once
//   kReset      open connections are reset (RST) and new ones reset at once
//
// kDrop and kReset concern whole connections, so they act on both
// directions whichever was named. One thread, poll(2); every socket is
// closed by Stop() or the destructor. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace gc::test {

class FaultProxy {
 public:
  enum class Fault { kPass, kDelay, kBandwidth, kBlackHole, kDrop, kReset };
  enum class Direction { kToNode, kFromNode, kBoth };
  struct Setting {
    Fault fault = Fault::kPass;
    int delay_ms = 0;
    int64_t bytes_per_s = 0;
  };

  // Listens on 127.0.0.1:0 and relays to 127.0.0.1:target_port.
  explicit FaultProxy(int target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  void Set(Direction d, Setting s);
  void Heal() { Set(Direction::kBoth, Setting{}); }
  void Stop();

  // For test diagnostics.
  int64_t bytes_relayed() const { return relayed_.load(); }
  static std::string Describe(Fault f);

 private:
  void Loop();

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> relayed_{0};
  std::mutex mu_;
  Setting to_node_, from_node_;  // GUARDED_BY(mu_)
  uint64_t generation_ = 0;      // GUARDED_BY(mu_): bumped by every Set
  std::thread thread_;
};

}  // namespace gc::test
