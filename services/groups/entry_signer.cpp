#include "services/groups/entry_signer.h"

#include "node/common/barrier.h"
#include "services/groups/signed_log/chain.h"

namespace gc {

EntrySigner::EntrySigner(std::string secret_key, int helpers) : key_(std::move(secret_key)) {
  for (int i = 0; i < helpers; ++i) {
    helpers_.push_back(SpawnGuarded("gc-grouplog-sig", [this] { HelperLoop(); }));
  }
}

EntrySigner::~EntrySigner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : helpers_) t.join();
}

size_t EntrySigner::Work() {
  const auto& in = *in_;
  auto& out = *out_;
  size_t n = in.size(), done = 0;
  for (size_t i = next_.fetch_add(1); i < n; i = next_.fetch_add(1)) {
    out[i] = SignBytes(*in[i], key_);
    ++done;
  }
  if (done) signed_.fetch_add(done);
  return done;
}

void EntrySigner::HelperLoop() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    start_cv_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    if (!in_) continue;  // that job is over already
    ++busy_;
    lock.unlock();
    Work();
    lock.lock();
    if (--busy_ == 0) done_cv_.notify_one();
  }
}

void EntrySigner::SignAll(const std::vector<const std::string*>& in, std::vector<std::string>& out) {
  out.assign(in.size(), std::string());
  if (helpers_.empty() || in.size() < kMinParallel) {
    for (size_t i = 0; i < in.size(); ++i) out[i] = SignBytes(*in[i], key_);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_ = &in;
    out_ = &out;
    next_ = 0;
    signed_ = 0;
    ++generation_;
  }
  start_cv_.notify_all();
  Work();
  std::unique_lock<std::mutex> lock(mu_);
  // Every entry signed and no helper still holding the job: then it ends.
  done_cv_.wait(lock, [&] { return signed_.load() == in.size() && busy_ == 0; });
  in_ = nullptr;
  out_ = nullptr;
}

}  // namespace gc
