// EntrySigner: signs the home entries of one group-log batch on several
// threads at once.
//
// Why: the group log's writer is one thread (group_log_writer.cpp), and an
// Ed25519 signature per event was two fifths of its CPU (perf, ingest5). The
// chain itself must be built in order (each entry names the hash of the one
// before it), but once every entry's bytes are fixed their signatures are
// independent. So the writer hashes the chain serially, then hands the list
// of entry bytes here: helper threads and the writer itself take entries
// from a shared counter until none is left, and the writer goes on when all
// are signed. Small lists (a quiet node's batch of one or two) are signed on
// the calling thread: waking a helper would cost more than it saves.
//
// Thread-safety: SignAll is called by one thread at a time (the writer);
// the helpers only touch the job under mu_ and their own slots of `out`.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gc {

class EntrySigner {
 public:
  // `secret_key`: the node's Ed25519 identity key (libsodium's 64-byte
  // form); `helpers`: threads besides the caller (0: sign on the caller).
  EntrySigner(std::string secret_key, int helpers);
  ~EntrySigner();
  EntrySigner(const EntrySigner&) = delete;
  EntrySigner& operator=(const EntrySigner&) = delete;

  // out[i] = SignBytes(*in[i], key) (base64url) for every i; returns when all
  // are done. `out` is resized to in.size().
  void SignAll(const std::vector<const std::string*>& in, std::vector<std::string>& out);

  // Below this many entries SignAll signs on the calling thread alone.
  static constexpr size_t kMinParallel = 4;

 private:
  void HelperLoop();
  // Signs entries of the current job until none is left; returns how many.
  size_t Work();

  std::string key_;
  std::vector<std::thread> helpers_;

  std::mutex mu_;
  std::condition_variable start_cv_;  // a job was posted, or stopping
  std::condition_variable done_cv_;   // the last entry of a job was signed
  uint64_t generation_ = 0;           // GUARDED_BY(mu_): one per job
  bool stopping_ = false;             // GUARDED_BY(mu_)
  // The job: set before generation_ moves, read by helpers after they see
  // the new generation (under mu_), so no helper reads a stale list.
  const std::vector<const std::string*>* in_ = nullptr;
  std::vector<std::string>* out_ = nullptr;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> signed_{0};
  int busy_ = 0;                      // GUARDED_BY(mu_): helpers inside Work()
};

}  // namespace gc
