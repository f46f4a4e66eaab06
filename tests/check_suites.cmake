# ctest integration.<exe>.suites: every test suite the integration executable
# EXE holds is one that the per-file ctest entries' --gtest_filter names
# (SUITES, comma-separated, read by tests/CMakeLists.txt from the TEST lines of
# each file). A suite those lines miss (a TEST macro not at the start of a
# line) would otherwise be compiled and never run.
cmake_minimum_required(VERSION 3.25)  # policies (IN_LIST)
execute_process(COMMAND ${EXE} --gtest_list_tests RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} --gtest_list_tests failed (${rc}): ${err}")
endif()
string(REPLACE "," ";" known "${SUITES}")
string(REPLACE "\n" ";" lines "${out}")
set(count 0)
foreach(line ${lines})
  if(NOT line MATCHES "^[A-Za-z_][A-Za-z0-9_/]*\\.(  #.*)?$")
    continue()  # a test of the suite above, or gtest_main's "Running main() ..."
  endif()
  string(REGEX REPLACE "\\.( .*)?$" "" suite "${line}")  # "Suite.  # TypeParam ..."
  string(REGEX REPLACE "^.*/" "" suite "${suite}")       # "Instantiation/Suite"
  if(NOT suite IN_LIST known)
    message(FATAL_ERROR "${EXE} holds suite ${suite} (${line}), which no ctest entry runs: "
                        "start its TEST line at the start of a line (tests/CMakeLists.txt)")
  endif()
  math(EXPR count "${count} + 1")
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "${EXE} lists no test suite")
endif()
message(STATUS "${count} suites of ${EXE}, each run by a ctest entry")
