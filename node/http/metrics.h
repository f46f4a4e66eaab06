// Prometheus metrics in the text exposition format, written by hand (there is
// no Prometheus client library in Debian).
//
// Request counters and latency histograms are per route and are updated with
// relaxed atomics on the request path; gauges are callbacks read at scrape time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gc {

class Metrics {
 public:
  // Registers a route label; returns its index for RecordRequest. Not
  // thread-safe: call before serving.
  int AddRoute(const std::string& label);

  // Thread-safe.
  void RecordRequest(int route, int status, double seconds);

  // A gauge read at scrape time. Not thread-safe: register before serving.
  void AddGauge(const std::string& name, const std::string& help, std::function<double()> read);
  // A counter owned by the caller (e.g. WebSocket frames); Thread-safe to bump.
  std::atomic<uint64_t>* AddCounter(const std::string& name, const std::string& help);
  // A counter whose value another component keeps (read at scrape time).
  void AddCounterFn(const std::string& name, const std::string& help, std::function<double()> read);

  std::string Render() const;

  // Latency histogram bucket bounds, seconds.
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

 private:
  struct Route {
    std::string label;
    std::array<std::atomic<uint64_t>, 600> by_status{};  // index = HTTP status
    std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets{};
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_us{0};
  };
  struct Gauge {
    std::string name, help;
    std::function<double()> read;
  };
  struct Counter {
    std::string name, help;
    std::atomic<uint64_t> value{0};
  };
  std::vector<std::unique_ptr<Route>> routes_;
  std::vector<Gauge> gauges_;
  std::vector<Gauge> counter_fns_;
  std::vector<std::unique_ptr<Counter>> counters_;
};

// Resident set size of this process in bytes (from /proc/self/statm).
double ProcessRssBytes();

}  // namespace gc
