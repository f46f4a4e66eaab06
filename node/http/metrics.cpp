#include "node/http/metrics.h"

#include <unistd.h>

#include <cstdio>

namespace gc {

int Metrics::AddRoute(const std::string& label) {
  routes_.push_back(std::make_unique<Route>());
  routes_.back()->label = label;
  return static_cast<int>(routes_.size() - 1);
}

void Metrics::RecordRequest(int route, int status, double seconds) {
  if (route < 0 || route >= static_cast<int>(routes_.size())) return;
  Route& r = *routes_[route];
  if (status > 0 && status < 600) r.by_status[status].fetch_add(1, std::memory_order_relaxed);
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  r.buckets[b].fetch_add(1, std::memory_order_relaxed);
  r.count.fetch_add(1, std::memory_order_relaxed);
  r.sum_us.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Metrics::AddGauge(const std::string& name, const std::string& help, std::function<double()> read) {
  gauges_.push_back({name, help, std::move(read)});
}

void Metrics::AddCounterFn(const std::string& name, const std::string& help, std::function<double()> read) {
  counter_fns_.push_back({name, help, std::move(read)});
}

std::atomic<uint64_t>* Metrics::AddCounter(const std::string& name, const std::string& help) {
  counters_.push_back(std::make_unique<Counter>());
  counters_.back()->name = name;
  counters_.back()->help = help;
  return &counters_.back()->value;
}

static void AppendLabelValue(std::string& out, const std::string& v) {
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
}

std::string Metrics::Render() const {
  std::string out;
  char buf[64];
  out += "# HELP groupchat_http_requests_total HTTP requests by route and status.\n";
  out += "# TYPE groupchat_http_requests_total counter\n";
  for (const auto& r : routes_) {
    for (int s = 0; s < 600; ++s) {
      uint64_t n = r->by_status[s].load(std::memory_order_relaxed);
      if (!n) continue;
      out += "groupchat_http_requests_total{route=\"";
      AppendLabelValue(out, r->label);
      out += "\",status=\"" + std::to_string(s) + "\"} " + std::to_string(n) + "\n";
    }
  }
  out += "# HELP groupchat_http_request_duration_seconds HTTP request latency by route.\n";
  out += "# TYPE groupchat_http_request_duration_seconds histogram\n";
  for (const auto& r : routes_) {
    uint64_t count = r->count.load(std::memory_order_relaxed);
    if (!count) continue;
    std::string label = "route=\"";
    AppendLabelValue(label, r->label);
    label += "\"";
    uint64_t cum = 0;
    for (size_t b = 0; b <= kBuckets.size(); ++b) {
      cum += r->buckets[b].load(std::memory_order_relaxed);
      std::string le = b < kBuckets.size() ? (snprintf(buf, sizeof buf, "%g", kBuckets[b]), std::string(buf)) : "+Inf";
      out += "groupchat_http_request_duration_seconds_bucket{" + label + ",le=\"" + le + "\"} " +
             std::to_string(cum) + "\n";
    }
    snprintf(buf, sizeof buf, "%.6f", r->sum_us.load(std::memory_order_relaxed) / 1e6);
    out += "groupchat_http_request_duration_seconds_sum{" + label + "} " + buf + "\n";
    out += "groupchat_http_request_duration_seconds_count{" + label + "} " + std::to_string(count) + "\n";
  }
  for (const auto& c : counters_) {
    out += "# HELP " + c->name + " " + c->help + "\n# TYPE " + c->name + " counter\n";
    out += c->name + " " + std::to_string(c->value.load(std::memory_order_relaxed)) + "\n";
  }
  for (const auto& g : counter_fns_) {
    snprintf(buf, sizeof buf, "%.17g", g.read());
    out += "# HELP " + g.name + " " + g.help + "\n# TYPE " + g.name + " counter\n" + g.name + " " + buf + "\n";
  }
  for (const auto& g : gauges_) {
    snprintf(buf, sizeof buf, "%.17g", g.read());
    out += "# HELP " + g.name + " " + g.help + "\n# TYPE " + g.name + " gauge\n" + g.name + " " + buf + "\n";
  }
  return out;
}

double ProcessRssBytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long pages_total = 0, pages_rss = 0;
  int n = fscanf(f, "%ld %ld", &pages_total, &pages_rss);
  fclose(f);
  if (n != 2) return 0;
  return static_cast<double>(pages_rss) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace gc
