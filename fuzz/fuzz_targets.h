// The libFuzzer targets (fuzz/README.md), as plain functions so that two
// builds share them: fuzz_main.cpp turns each into a libFuzzer binary in the
// clang build (build-fuzz, `make fuzz`), and tests/unit/fuzz_corpus_test.cpp
// replays every file of fuzz/corpus/<name>/ and fuzz/regressions/<name>/
// through the same function in the ordinary build (`make test`).
//
// A target returns 0 for any input; a broken invariant aborts through
// FUZZ_CHECK, which libFuzzer records as a crash and gtest as a failed test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace gc::fuzz {

int CanonicalJsonTarget(const uint8_t* data, size_t size);
int FederationFrameTarget(const uint8_t* data, size_t size);
int EventContentTarget(const uint8_t* data, size_t size);
int ConfigTarget(const uint8_t* data, size_t size);
int HttpHeadTarget(const uint8_t* data, size_t size);
int WsFrameTarget(const uint8_t* data, size_t size);

struct Target {
  const char* name;  // fuzz/corpus/<name>/, build-fuzz/<name>_fuzz
  int (*run)(const uint8_t* data, size_t size);
};

inline constexpr Target kTargets[] = {
    {"canonical_json", CanonicalJsonTarget}, {"federation_frame", FederationFrameTarget},
    {"event_content", EventContentTarget},   {"config", ConfigTarget},
    {"http_head", HttpHeadTarget},           {"ws_frame", WsFrameTarget},
};

}  // namespace gc::fuzz
