// The config loader (node/config/config.cpp) on arbitrary YAML text, as
// `groupchat serve --config FILE` reads it. Checks that every refusal is a
// kInvalid whose message starts with the file name (the documented
// "FILE:LINE:COL: message" / "FILE: message" forms: no environment is given,
// so no "env ..." error can occur), that an accepted config has its required
// keys, and that describing it (the redacting DescribeConfig) works.
#include <map>
#include <string>

#include "fuzz/fuzz_targets.h"
#include "node/config/config.h"

namespace gc::fuzz {

int ConfigTarget(const uint8_t* data, size_t size) {
  static const std::map<std::string, std::string> kNoEnv;
  const std::string name = "fuzz.yaml";
  auto config = ParseConfig(std::string(reinterpret_cast<const char*>(data), size), name, kNoEnv);
  if (!config.ok()) {
    FUZZ_CHECK(config.error().code == ErrorCode::kInvalid);
    FUZZ_CHECK(config.error().message.rfind(name, 0) == 0);
    return 0;
  }
  FUZZ_CHECK(!config->node.name.empty() && !config->node.data_dir.empty());
  FUZZ_CHECK(!DescribeConfig(*config).empty());
  return 0;
}

}  // namespace gc::fuzz
