# The fuzz targets as ctest entries: one build of the clang tree (build-fuzz/, fixture
# fuzz_build), then every target for PCHAT_FUZZ_SECONDS each (scripts/fuzz.sh; seeds replayed
# first, so every input in tests/fuzz/corpus, crash inputs included, runs on every CI run).
# Longer runs: scripts/fuzz.sh TARGET SECONDS.
set(PCHAT_FUZZ_SECONDS 20 CACHE STRING "seconds each fuzz target runs under ctest")
find_program(PCHAT_CLANG14 clang++-14)
if(PCHAT_CLANG14)
  set(fuzz_sh ${PROJECT_SOURCE_DIR}/scripts/fuzz.sh)
  execute_process(COMMAND ${fuzz_sh} list OUTPUT_VARIABLE fuzz_targets OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REPLACE "\n" ";" fuzz_targets "${fuzz_targets}")
  add_test(NAME fuzz_build COMMAND ${fuzz_sh} build)
  set_tests_properties(fuzz_build PROPERTIES FIXTURES_SETUP fuzz TIMEOUT 900 RUN_SERIAL ON LABELS fuzz)
  foreach(t ${fuzz_targets})
    add_test(NAME fuzz_${t} COMMAND ${fuzz_sh} ${t} ${PCHAT_FUZZ_SECONDS})
    math(EXPR fuzz_timeout "${PCHAT_FUZZ_SECONDS} + 90")
    # RUN_SERIAL: a fuzzer keeps a core busy, which must not starve the timing bounds of
    # the end-to-end tests that ctest -j would run beside it.
    set_tests_properties(fuzz_${t} PROPERTIES FIXTURES_REQUIRED fuzz ENVIRONMENT FUZZ_NO_BUILD=1
                                              TIMEOUT ${fuzz_timeout} RUN_SERIAL ON LABELS fuzz)
  endforeach()
else()
  message(STATUS "clang++-14 not found: fuzz targets are not run (scripts/install-deps.sh installs it)")
endif()
