// Replays the fuzz corpus in the ordinary build: every file of
// fuzz/corpus/<target>/ (the committed seeds and what fuzzing added) and of
// fuzz/regressions/<target>/ (inputs that once crashed or broke an invariant)
// goes through the same target function libFuzzer drives (fuzz/README.md).
// A broken invariant aborts, which fails the test that replays it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "fuzz/fuzz_targets.h"

namespace gc::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> FilesIn(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class FuzzCorpus : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzCorpus, ReplaysCorpusAndRegressionsWithoutFailing) {
  const Target& t = GetParam();
  const fs::path root = fs::path(GC_SOURCE_DIR) / "fuzz";
  auto files = FilesIn(root / "corpus" / t.name);
  // The seeds are committed: an empty corpus means a wrong path, not a pass.
  ASSERT_FALSE(files.empty()) << "no seeds in " << (root / "corpus" / t.name);
  auto regressions = FilesIn(root / "regressions" / t.name);
  files.insert(files.end(), regressions.begin(), regressions.end());
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    std::ifstream in(f, std::ios::binary);
    ASSERT_TRUE(in) << "cannot read " << f;
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(t.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
  }
  RecordProperty("inputs", static_cast<int>(files.size()));
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpus, ::testing::ValuesIn(kTargets),
                         [](const ::testing::TestParamInfo<Target>& info) { return std::string(info.param.name); });

}  // namespace

// Test names and failure messages show the target's name.
void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }

}  // namespace gc::fuzz
