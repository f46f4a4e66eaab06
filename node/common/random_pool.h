// PooledRandomBytes: random bytes for ids made on hot paths.
//
// libsodium's randombytes_buf is a getrandom() system call per call; an id
// per request (HTTP request ids) or per event (nonces) made that a visible
// share of the node's CPU. Each thread keeps a buffer of bytes from one
// randombytes_buf call and hands them out until it is used up, so the bytes
// are as random as before and never handed out twice.
//
// Header-only, so that every build that compiles its users (the fuzz
// targets list their sources) has it.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstring>

namespace gc {

// The largest `n` PooledRandomBytes takes.
inline constexpr size_t kRandomPoolBytes = 1024;

// Fills out[0..n) with random bytes (n <= kRandomPoolBytes). Thread-safe:
// every thread has its own pool.
inline void PooledRandomBytes(unsigned char* out, size_t n) {
  thread_local unsigned char pool[kRandomPoolBytes];
  thread_local size_t used = kRandomPoolBytes;
  if (n > kRandomPoolBytes - used) {
    randombytes_buf(pool, kRandomPoolBytes);  // what was left is dropped, never reused
    used = 0;
  }
  std::memcpy(out, pool + used, n);
  used += n;
}

}  // namespace gc
