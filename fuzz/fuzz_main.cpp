// One libFuzzer binary per target: compiled once for each with
// GC_FUZZ_TARGET naming the target function (fuzz/CMakeLists.txt).
#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return gc::fuzz::GC_FUZZ_TARGET(data, size);
}
