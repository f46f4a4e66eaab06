# Unity build (GC_UNITY=ON, the default): a target's files are compiled in
# batches, one translation unit each, so that the headers and templates they
# share (nlohmann/json, Beast, the project's own) are parsed and instantiated
# once per batch instead of once per file: gc_core took 30 % less compile
# CPU (bench/RESULTS.md, "CI time"). A batch holds up to GC_UNITY_BATCH files
# of one module (node/X, services/X, federation, admin, a test folder) and
# never mixes modules, so a module's `using namespace` and file-local helpers
# meet only its own files. Names local to a .cpp (anonymous namespace,
# static, macros) must therefore be distinct within their module (README,
# Development). GC_UNITY=OFF builds file by file.
#
# Shared by the main project and fuzz/CMakeLists.txt (which sets GC_UNITY_ROOT
# to the repository root: modules are named from paths relative to it).
option(GC_UNITY "compile in unity batches, one module per batch" ON)
set(GC_UNITY_BATCH 8 CACHE STRING "at most this many files per unity batch")
function(gc_unity target)
  if(NOT GC_UNITY)
    return()
  endif()
  set(root ${PROJECT_SOURCE_DIR})
  if(GC_UNITY_ROOT)
    set(root ${GC_UNITY_ROOT})
  endif()
  get_target_property(sources ${target} SOURCES)
  foreach(src ${sources})
    get_filename_component(abs ${src} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    string(FIND "${abs}" "${CMAKE_BINARY_DIR}/" generated)
    if(NOT abs MATCHES "\\.cpp$" OR generated EQUAL 0)
      continue()  # generated files (the migrations) stay on their own
    endif()
    file(RELATIVE_PATH rel ${root} ${abs})
    if(rel MATCHES "^(node|services)/([^/]+)/")
      set(module "${CMAKE_MATCH_1}_${CMAKE_MATCH_2}")
    else()
      get_filename_component(module ${rel} DIRECTORY)
      string(REPLACE "/" "_" module "${module}")
    endif()
    if(NOT DEFINED count_${module})
      set(count_${module} 0)
    endif()
    math(EXPR batch "${count_${module}} / ${GC_UNITY_BATCH}")
    math(EXPR count_${module} "${count_${module}} + 1")
    set_source_files_properties(${abs} TARGET_DIRECTORY ${target} PROPERTIES UNITY_GROUP "${module}_${batch}")
  endforeach()
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_MODE GROUP)
endfunction()
