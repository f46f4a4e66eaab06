// Small file helpers shared by the unit tests (the unit tests link gc_core
// only, not the integration harness).
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace gc::unit {

// The whole file as bytes ("" if it cannot be read).
inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace gc::unit
