// gc-loadgen: load generator for a GroupChat node.
//
// N WebSocket clients (members of one group) receive; S senders post
// messages over HTTP keep-alive at a target total rate (or flat out) for a
// duration. Each message body carries its send time, so every receiver
// measures send-to-receive latency on the same clock. Prints messages
// accepted/s, deliveries/s, latency p50/p90/p99/max over all receivers, and
// the node's RSS idle and with N connections (KB per connection) when given
// its pid.
//
//   gc-loadgen --port P [--members N] [--senders S] [--rate R] [--duration D]
//              [--payload BYTES] [--node-pid PID] [--conns-per-user K] [--idle] [--in-phase]
//              [--receivers-port P2] [--notify-level all|mentions|none]
//
// --receivers-port: federation. The group lives on the node at --port, where
// S sender accounts post; the N members are users of the node at P2 who join
// it through their own node and receive there, so latency is send on one
// node to receive on the other.
// --notify-level sets every receiver's default notification level first
// (`none`: the node makes no inbox entries for the run; `all`, the default
// for users: an entry and a `notification` frame per member and message).
// --rate R: the senders take turns, so messages leave evenly spaced (1/R
// apart); --in-phase sends S at once every S/R instead (a burst each period:
// what the figures before 2026-12-07 evening measured, queueing included).
// --rate 0 is flat out. --idle only opens the connections and reports memory.
// Users are registered as lg-<run>-<i>; the node must have rate limits off.
//
// --mode selects the scenario (issue 17); the default is the fan-out above.
//   --mode ingest --senders S --inflight K [--txn]: S members, every one a
//       sender with K requests in flight (K connections) and a receiver on
//       its own stream: messages accepted/s, answer latency, CPU per message
//       of the node and its PostgreSQL (user+sys of the process tree).
//       --txn gives every send a client_txn_id, as the web client does.
//   --mode joins --members N: N registered users join one group at once;
//       time until every join is answered, and CPU per join.
//   --mode logins --members N --rate R --logins L [--login-conns C]: the
//       fan-out at R msg/s for --duration seconds, then again while L logins
//       (C at a time) run: login rate and refusals, and the fan-out's
//       latency percentiles without and with the burst.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_swarm.h"

namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

struct Options {
  int port = 8080;
  int members = 100;
  int senders = 8;
  double rate = 0;
  int duration = 10;
  int payload = 64;
  int node_pid = 0;
  int conns_per_user = 1;
  bool idle = false;
  bool in_phase = false;  // --in-phase: all senders at once each period
  int receivers_port = 0;
  std::string notify_level;  // "" leaves the users' default
  std::string mode = "fanout";
  int inflight = 10;
  bool txn = false;
  int logins = 200;
  int login_conns = 32;
};

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    perror("connect");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// A keep-alive HTTP/1.1 client: one request at a time.
class Http {
 public:
  explicit Http(int port) : port_(port), fd_(Connect(port)) {}
  ~Http() { close(fd_); }
  int Request(const std::string& method, const std::string& path, const std::string& body, const std::string& token,
              std::string* out) {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!WriteAll(fd_, req)) return -1;
    std::string buf;
    char tmp[65536];
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return -1;
      buf.append(tmp, static_cast<size_t>(n));
    }
    int status = std::atoi(buf.c_str() + 9);
    size_t cl = buf.find("Content-Length: ");
    size_t len = cl == std::string::npos ? 0 : std::strtoul(buf.c_str() + cl + 16, nullptr, 10);
    while (buf.size() < head_end + 4 + len) {
      ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return -1;
      buf.append(tmp, static_cast<size_t>(n));
    }
    if (out) *out = buf.substr(head_end + 4, len);
    return status;
  }

 private:
  int port_;
  int fd_;
};

std::string JsonField(const std::string& body, const std::string& field) {
  std::string key = "\"" + field + "\":\"";
  size_t p = body.find(key);
  if (p == std::string::npos) return "";
  p += key.size();
  return body.substr(p, body.find('"', p) - p);
}

long RssKb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

struct WsConn {
  int fd;
  std::string buf;
  bool ready = false;
};

// Receivers: all WebSocket connections in one epoll loop.
class Receivers {
 public:
  void Open(int port, const std::vector<std::string>& tokens, int per_user) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    for (const auto& t : tokens) {
      for (int k = 0; k < per_user; ++k) {
        int fd = Connect(port);
        std::string req = "GET /api/v1/stream?access_token=" + t +
                          " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        WriteAll(fd, req);
        std::string head;
        char c;
        while (head.find("\r\n\r\n") == std::string::npos && recv(fd, &c, 1, 0) == 1) head += c;
        if (head.rfind("HTTP/1.1 101", 0) != 0) {
          fprintf(stderr, "stream refused: %s\n", head.c_str());
          exit(1);
        }
        conns_.push_back(new WsConn{fd, {}, false});
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = conns_.back();
        epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      }
    }
  }
  void Run(std::atomic<bool>& stop) {
    epoll_event events[256];
    char tmp[262144];
    while (!stop.load()) {
      int n = epoll_wait(ep_, events, 256, 100);
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<WsConn*>(events[i].data.ptr);
        ssize_t r = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (r <= 0) continue;
        c->buf.append(tmp, static_cast<size_t>(r));
        Parse(*c);
      }
    }
  }
  size_t size() const { return conns_.size(); }
  int ready() const {
    int n = 0;
    for (auto* c : conns_) n += c->ready;
    return n;
  }
  std::vector<int64_t> TakeLatencies() {
    std::lock_guard<std::mutex> l(mu_);
    return std::move(latencies_);
  }
  std::atomic<uint64_t> deliveries{0};
  std::atomic<bool> recording{false};

 private:
  void Parse(WsConn& c) {
    size_t off = 0;
    while (c.buf.size() - off >= 2) {
      auto b = [&](size_t i) { return static_cast<unsigned char>(c.buf[off + i]); };
      int op = b(0) & 0x0f;
      uint64_t len = b(1) & 0x7f;
      size_t hdr = 2;
      if (len == 126) {
        if (c.buf.size() - off < 4) break;
        len = (b(2) << 8) | b(3);
        hdr = 4;
      } else if (len == 127) {
        if (c.buf.size() - off < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
        hdr = 10;
      }
      if (c.buf.size() - off < hdr + len) break;
      const char* p = c.buf.data() + off + hdr;
      if (op == 9) {  // ping -> pong (masked, zero key)
        std::string pong = "\x8a";
        pong += static_cast<char>(0x80 | len);
        pong.append(4, '\0');
        pong.append(p, len);
        WriteAll(c.fd, pong);
      } else if (op == 1) {
        std::string_view f(p, len);
        if (!c.ready && f.find("\"type\":\"ready\"") != std::string_view::npos) c.ready = true;
        size_t t = f.find("\"body\":\"lg ");
        if (t != std::string_view::npos && f.find("\"type\":\"message\"") != std::string_view::npos) {
          int64_t sent = std::strtoll(f.data() + t + 11, nullptr, 10);
          int64_t lat = NowNs() - sent;
          deliveries.fetch_add(1, std::memory_order_relaxed);
          if (recording.load(std::memory_order_relaxed)) {
            std::lock_guard<std::mutex> l(mu_);
            latencies_.push_back(lat);
          }
        }
      }
      off += hdr + len;
    }
    c.buf.erase(0, off);
  }
  int ep_ = -1;
  std::vector<WsConn*> conns_;
  std::mutex mu_;
  std::vector<int64_t> latencies_;
};

// CPU seconds (user + system) used so far by process `pid`.
// `reaped`: also the CPU of its children that already exited and were
// waited for (cutime + cstime), so a PostgreSQL backend that quits during a
// run still counts.
double CpuSeconds(int pid, bool reaped = false) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> f;
  size_t i = close + 2;
  while (i < stat.size()) {
    size_t j = stat.find(' ', i);
    if (j == std::string::npos) j = stat.size();
    f.push_back(stat.substr(i, j - i));
    i = j + 1;
  }
  if (f.size() < 15) return 0;
  double ticks = std::atof(f[11].c_str()) + std::atof(f[12].c_str());
  if (reaped) ticks += std::atof(f[13].c_str()) + std::atof(f[14].c_str());
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds of `pid` and every process below it (the node and its
// embedded PostgreSQL's postmaster and backends).
double TreeCpuSeconds(int pid) {
  std::vector<std::pair<int, int>> procs;  // pid, ppid
  for (const auto& d : std::filesystem::directory_iterator("/proc")) {
    std::string name = d.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(d.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;
    int ppid = std::atoi(stat.c_str() + stat.find(' ', close + 2) + 1);
    procs.emplace_back(std::atoi(name.c_str()), ppid);
  }
  std::vector<int> tree{pid};
  for (size_t i = 0; i < tree.size(); ++i) {
    for (const auto& [p, pp] : procs) {
      if (pp == tree[i]) tree.push_back(p);
    }
  }
  double sum = 0;
  for (int p : tree) sum += CpuSeconds(p, true);
  return sum;
}

double SelfCpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

double Pct(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  return static_cast<double>(v[i]) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);  // bench scripts act on lines as they come
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        fprintf(stderr, "%s needs a value\n", a.c_str());
        exit(64);
      }
      return argv[++i];
    };
    if (a == "--port") o.port = std::atoi(next());
    else if (a == "--members") o.members = std::atoi(next());
    else if (a == "--senders") o.senders = std::atoi(next());
    else if (a == "--rate") o.rate = std::atof(next());
    else if (a == "--duration") o.duration = std::atoi(next());
    else if (a == "--payload") o.payload = std::atoi(next());
    else if (a == "--node-pid") o.node_pid = std::atoi(next());
    else if (a == "--conns-per-user") o.conns_per_user = std::atoi(next());
    else if (a == "--idle") o.idle = true;
    else if (a == "--in-phase") o.in_phase = true;
    else if (a == "--receivers-port") o.receivers_port = std::atoi(next());
    else if (a == "--notify-level") o.notify_level = next();
    else if (a == "--mode") o.mode = next();
    else if (a == "--inflight") o.inflight = std::atoi(next());
    else if (a == "--txn") o.txn = true;
    else if (a == "--logins") o.logins = std::atoi(next());
    else if (a == "--login-conns") o.login_conns = std::atoi(next());
    else {
      fprintf(stderr, "unknown option %s (see the comment at the top of bench/loadgen.cpp)\n", a.c_str());
      return 64;
    }
  }
  if (o.mode == "ingest") o.members = o.senders;  // every member sends and receives
  if (o.mode != "fanout" && o.mode != "ingest" && o.mode != "joins" && o.mode != "logins") {
    fprintf(stderr, "--mode is fanout, ingest, joins or logins\n");
    return 64;
  }
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  std::string run = std::to_string(getpid());
  // Registers `n` users lg-<run>-<prefix><i> on `port`, in parallel (argon2
  // runs two at a time on the node).
  auto register_users = [&](int port, int n, const std::string& prefix) {
    std::vector<std::string> out_tokens(n);
    std::vector<std::thread> ts;
    std::atomic<int> next{0};
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&] {
        Http h(port);
        for (int i = next++; i < n; i = next++) {
          std::string out;
          std::string body = "{\"username\":\"lg-" + run + "-" + prefix + std::to_string(i) +
                             "\",\"password\":\"loadgen-password\"}";
          if (h.Request("POST", "/api/v1/auth/register", body, "", &out) != 201) {
            fprintf(stderr, "register failed: %s\n", out.c_str());
            exit(1);
          }
          out_tokens[i] = JsonField(out, "access_token");
        }
      });
    }
    for (auto& t : ts) t.join();
    return out_tokens;
  };
  bool fed = o.receivers_port != 0;
  int rx_port = fed ? o.receivers_port : o.port;
  std::vector<std::string> tokens = register_users(rx_port, o.members, "");
  if (!o.notify_level.empty()) {
    Http h(rx_port);
    for (const auto& t : tokens) {
      std::string out;
      if (h.Request("PATCH", "/api/v1/me/notification-settings", "{\"default_level\":\"" + o.notify_level + "\"}", t,
                    &out) != 200) {
        fprintf(stderr, "setting the notification level failed: %s\n", out.c_str());
        exit(1);
      }
    }
  }
  std::vector<std::string> sender_tokens = fed ? register_users(o.port, o.senders, "s") : tokens;
  Http admin(o.port);
  std::string out;
  std::string group = "lg-" + run;
  if (admin.Request("POST", "/api/v1/groups", "{\"name\":\"" + group + "\"}", sender_tokens[0], &out) != 201) {
    fprintf(stderr, "create group failed: %s\n", out.c_str());
    return 1;
  }
  std::string gpath = "/api/v1/groups/%23" + group + "%3A" + JsonField(out, "group_id").substr(group.size() + 2);
  auto join_all = [&](int port, const std::vector<std::string>& toks, int from) {
    // The first remote join creates the replica; the rest follow in parallel.
    if (from < static_cast<int>(toks.size())) {
      Http h(port);
      if (h.Request("POST", gpath + "/join", "{}", toks[from], nullptr) != 200) {
        fprintf(stderr, "join failed\n");
        exit(1);
      }
    }
    std::vector<std::thread> ts;
    std::atomic<int> next{from + 1};
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([&] {
        Http h(port);
        for (int i = next++; i < static_cast<int>(toks.size()); i = next++) {
          if (h.Request("POST", gpath + "/join", "{}", toks[i], nullptr) != 200) {
            fprintf(stderr, "join failed\n");
            exit(1);
          }
        }
      });
    }
    for (auto& t : ts) t.join();
  };
  auto connect = [&] { return Connect(o.port); };
  if (o.mode == "joins") {
    // Every member but the creator joins at once, one connection each.
    int n = static_cast<int>(tokens.size()) - 1;
    std::atomic<int> ok{0}, bad{0};
    std::vector<int64_t> lat;
    std::vector<char> sent(static_cast<size_t>(n), 0);
    printf("connections: %d, joining\n", n);
    double cpu0 = o.node_pid ? TreeCpuSeconds(o.node_pid) : 0;
    int64_t t0 = lg::MonoNs();
    lg::HttpSwarm::Run(connect, n, [&](int i, lg::SwarmRequest* r) {
      if (sent[i]) return false;
      sent[i] = 1;
      *r = {"POST", gpath + "/join", "{}", tokens[i + 1]};
      return true;
    }, [&](int, int status, int64_t ns, std::string_view) {
      (status == 200 ? ok : bad)++;
      lat.push_back(ns);
    });
    double secs = static_cast<double>(lg::MonoNs() - t0) / 1e9;
    double cpu = o.node_pid ? TreeCpuSeconds(o.node_pid) - cpu0 : 0;
    std::sort(lat.begin(), lat.end());
    printf("joins: %d at once, %d ok, %d failed, all answered in %.3f s (%.0f joins/s)\n", n, ok.load(), bad.load(),
           secs, n / secs);
    printf("join latency ms: p50 %.2f  p99 %.2f  max %.2f\n", Pct(lat, 50), Pct(lat, 99), Pct(lat, 100));
    if (o.node_pid) printf("cpu: node+postgres %.3f s, %.0f us per join\n", cpu, cpu / std::max(1, n) * 1e6);
    return 0;
  }
  join_all(rx_port, tokens, fed ? 0 : 1);
  if (fed) join_all(o.port, sender_tokens, 1);

  long rss_idle = o.node_pid ? RssKb(o.node_pid) : 0;
  Receivers rx;
  auto t0 = Clock::now();
  rx.Open(rx_port, tokens, o.conns_per_user);
  std::atomic<bool> stop{false};
  std::thread rx_thread([&] { rx.Run(stop); });
  for (int i = 0; i < 300 && rx.ready() < static_cast<int>(rx.size()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  double open_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  long rss_conns = o.node_pid ? RssKb(o.node_pid) : 0;
  printf("connections: %zu open (%d ready) in %.1f s\n", rx.size(), rx.ready(), open_s);
  if (o.node_pid) {
    printf("node RSS: idle %ld KB, with connections %ld KB: %.1f KB per connection\n", rss_idle, rss_conns,
           static_cast<double>(rss_conns - rss_idle) / static_cast<double>(std::max<size_t>(1, rx.size())));
  }
  if (o.idle) {
    stop = true;
    rx_thread.join();
    return 0;
  }

  std::string pad(static_cast<size_t>(std::max(0, o.payload - 24)), 'x');
  auto message = [&](uint64_t n) {
    std::string body = "{\"body\":\"lg " + std::to_string(NowNs()) + " " + pad + "\"";
    if (o.txn) body += ",\"client_txn_id\":\"lg-" + run + "-" + std::to_string(n) + "\"";
    return body + "}";
  };
  rx.recording = true;
  auto drain = [&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));  // let deliveries arrive
    auto lat = rx.TakeLatencies();
    std::sort(lat.begin(), lat.end());
    return lat;
  };
  auto print_latency = [&](const char* what, std::vector<int64_t>& lat, uint64_t accepted, double secs) {
    std::string w = *what ? std::string(what) + " " : "";
    printf("%sdeliveries: %.0f /s (%zu of %llu expected)\n", w.c_str(), static_cast<double>(lat.size()) / secs, lat.size(),
           static_cast<unsigned long long>(accepted * rx.size()));
    printf("%slatency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", w.c_str(), Pct(lat, 50), Pct(lat, 90), Pct(lat, 99),
           lat.empty() ? 0.0 : static_cast<double>(lat.back()) / 1e6);
  };

  if (o.mode == "ingest") {
    // S senders x K connections, each one request at a time, flat out.
    int conns = o.senders * o.inflight;
    std::atomic<uint64_t> seq{0};
    uint64_t accepted = 0, failed = 0;
    std::vector<int64_t> acks;
    double cpu0 = o.node_pid ? TreeCpuSeconds(o.node_pid) : 0, self0 = SelfCpuSeconds();
    double node0 = o.node_pid ? CpuSeconds(o.node_pid) : 0;
    int64_t start = lg::MonoNs(), end = start + static_cast<int64_t>(o.duration) * 1000000000;
    lg::HttpSwarm::Run(connect, conns, [&](int i, lg::SwarmRequest* r) {
      if (lg::MonoNs() >= end) return false;
      *r = {"POST", gpath + "/messages", message(seq++), tokens[static_cast<size_t>(i / o.inflight)]};
      return true;
    }, [&](int, int status, int64_t ns, std::string_view body) {
      if (status == 201) {
        ++accepted;
        acks.push_back(ns);
      } else if (++failed <= 3) {
        fprintf(stderr, "send answered %d: %.*s\n", status, static_cast<int>(body.size()), body.data());
      }
    });
    double secs = static_cast<double>(lg::MonoNs() - start) / 1e9;
    double cpu = o.node_pid ? TreeCpuSeconds(o.node_pid) - cpu0 : 0, self = SelfCpuSeconds() - self0;
    double node = o.node_pid ? CpuSeconds(o.node_pid) - node0 : 0;
    std::sort(acks.begin(), acks.end());
    auto lat = drain();
    printf("ingest: %d senders x %d in flight, every member receiving, payload %d B, %d s%s\n", o.senders, o.inflight,
           o.payload, o.duration, o.txn ? ", with client_txn_id" : "");
    printf("accepted: %.0f msg/s (%llu ok, %llu failed)\n", static_cast<double>(accepted) / secs,
           static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(failed));
    printf("answer latency ms: p50 %.2f  p99 %.2f  max %.2f\n", Pct(acks, 50), Pct(acks, 99), Pct(acks, 100));
    print_latency("stream", lat, accepted, secs);
    if (o.node_pid) {
      double n = static_cast<double>(std::max<uint64_t>(1, accepted));
      printf("cpu: node+postgres %.2f cores, %.1f us per message (node %.1f, postgres %.1f); load generator %.2f cores\n",
             cpu / secs, cpu / n * 1e6, node / n * 1e6, (cpu - node) / n * 1e6, self / secs);
    }
    stop = true;
    rx_thread.join();
    return 0;
  }

  // The fan-out: S sender threads at a total of --rate msg/s (0: flat out)
  // for `duration` seconds.
  struct Phase {
    uint64_t accepted = 0, failed = 0;
    double secs = 0, cpu = 0;
  };
  auto fanout = [&](int duration) {
    std::atomic<uint64_t> accepted{0}, failed{0}, seq{0};
    double cpu0 = o.node_pid ? TreeCpuSeconds(o.node_pid) : 0;
    auto start = Clock::now();
    auto end = start + std::chrono::seconds(duration);
    std::vector<std::thread> senders;
    for (int s = 0; s < o.senders; ++s) {
      senders.emplace_back([&, s] {
        Http h(o.port);
        const std::string& token = sender_tokens[s % sender_tokens.size()];
        double per_sender = o.rate > 0 ? o.rate / o.senders : 0;
        // Senders take turns: at a fixed rate the messages arrive evenly spaced.
        auto next_send = start + (o.rate > 0 && !o.in_phase
                                      ? std::chrono::nanoseconds(static_cast<int64_t>(1e9 * s / o.rate))
                                      : std::chrono::nanoseconds(0));
        while (Clock::now() < end) {
          if (per_sender > 0) {
            std::this_thread::sleep_until(next_send);
            next_send += std::chrono::nanoseconds(static_cast<int64_t>(1e9 / per_sender));
          }
          int st = h.Request("POST", gpath + "/messages", message(seq++), token, nullptr);
          if (st == 201) ++accepted;
          else ++failed;
        }
      });
    }
    for (auto& t : senders) t.join();
    Phase p{accepted.load(), failed.load(), std::chrono::duration<double>(Clock::now() - start).count(), 0};
    p.cpu = o.node_pid ? TreeCpuSeconds(o.node_pid) - cpu0 : 0;
    return p;
  };

  if (o.mode == "logins") {
    Phase quiet = fanout(o.duration);
    auto quiet_lat = drain();
    // The same fan-out while L logins (C at a time) run.
    std::atomic<int> next_login{0};
    int ok = 0, refused = 0, bad = 0;
    double login_secs = 0;
    std::thread burst([&] {
      int64_t t0 = lg::MonoNs();
      lg::HttpSwarm::Run(connect, std::min(o.login_conns, o.logins), [&](int, lg::SwarmRequest* r) {
        int i = next_login++;
        if (i >= o.logins) return false;
        *r = {"POST", "/api/v1/auth/login",
              "{\"username\":\"lg-" + run + "-" + std::to_string(i % o.members) + "\",\"password\":\"loadgen-password\"}",
              ""};
        return true;
      }, [&](int, int status, int64_t, std::string_view) {
        if (status == 200) ++ok;
        else if (status == 503 || status == 429) ++refused;
        else ++bad;
      });
      login_secs = static_cast<double>(lg::MonoNs() - t0) / 1e9;
    });
    Phase busy = fanout(o.duration);
    burst.join();
    auto busy_lat = drain();
    printf("fan-out: members %d, senders %d, target %.0f msg/s, %d s per phase\n", o.members, o.senders, o.rate,
           o.duration);
    printf("without logins: accepted %.0f msg/s (%llu failed)\n", quiet.accepted / quiet.secs,
           static_cast<unsigned long long>(quiet.failed));
    print_latency("without logins", quiet_lat, quiet.accepted, quiet.secs);
    printf("with logins: accepted %.0f msg/s (%llu failed)\n", busy.accepted / busy.secs,
           static_cast<unsigned long long>(busy.failed));
    print_latency("with logins", busy_lat, busy.accepted, busy.secs);
    printf("logins: %d in %.2f s (%.1f ok/s): %d ok, %d refused (503/429), %d other\n", o.logins, login_secs,
           ok / login_secs, ok, refused, bad);
    stop = true;
    rx_thread.join();
    return 0;
  }

  double self_cpu0 = SelfCpuSeconds();
  double tree_cpu0 = o.node_pid ? TreeCpuSeconds(o.node_pid) : 0;
  double node_cpu0 = o.node_pid ? CpuSeconds(o.node_pid) : 0;
  Phase p = fanout(o.duration);
  double node_cores = p.cpu / p.secs;
  double self_cores = (SelfCpuSeconds() - self_cpu0) / p.secs;
  auto lat = drain();
  // CPU per delivery counts the drain too: deliveries still in flight when
  // the senders stop are paid for after it.
  double tree_cpu = o.node_pid ? TreeCpuSeconds(o.node_pid) - tree_cpu0 : 0;
  double node_cpu = o.node_pid ? CpuSeconds(o.node_pid) - node_cpu0 : 0;
  stop = true;
  rx_thread.join();
  printf("members %d, connections %zu, senders %d, target %s msg/s, payload %d B, %d s\n", o.members, rx.size(),
         o.senders, o.rate > 0 ? std::to_string(static_cast<int>(o.rate)).c_str() : "flat-out", o.payload,
         o.duration);
  printf("accepted: %.0f msg/s (%llu ok, %llu failed)\n", static_cast<double>(p.accepted) / p.secs,
         static_cast<unsigned long long>(p.accepted), static_cast<unsigned long long>(p.failed));
  print_latency("", lat, p.accepted, p.secs);
  if (o.node_pid) printf("node RSS after: %ld KB\n", RssKb(o.node_pid));
  printf("cpu while sending: node+postgres %.2f cores, load generator %.2f cores\n", node_cores, self_cores);
  if (o.node_pid && !lat.empty()) {
    double per = 1e6 / static_cast<double>(lat.size());
    printf("cpu per delivery: %.2f us (node %.2f + its postgres %.2f; sending and the drain after it)\n",
           tree_cpu * per, node_cpu * per, (tree_cpu - node_cpu) * per);
  }
  return 0;
}
