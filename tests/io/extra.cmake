# A short fuzzing run of the weight-file parsers (tests/fuzz/run_fuzz.sh: builds the libFuzzer
# harnesses with clang-14 once into the build folder, then fuzzes each for 5 s). The script exits 0
# ("skipped") where clang-14 or its fuzzer runtime is missing. Labelled slow: the sanitizer pass of
# .ci/test skips it (the harnesses carry their own ASan/UBSan).
if(NOT TEST io_fuzz)
  add_test(NAME io_fuzz COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzz.sh 5 ${CMAKE_BINARY_DIR}/fuzz)
  set_tests_properties(io_fuzz PROPERTIES TIMEOUT 600 LABELS "fuzz;slow")
endif()
