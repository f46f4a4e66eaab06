// The `groupchat` subcommands. Each returns the process exit code:
//   0 success, 1 runtime failure, 2 bad configuration, 64 bad usage.
#pragma once

namespace gc {

int RunCommand(int argc, char** argv);

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;
constexpr int kExitUsage = 64;

}  // namespace gc
