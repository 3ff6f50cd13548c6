# The smoke test runs the transfer_demo program (examples/transfer_demo.cpp). Its path is compiled
# into one generated, tiny object so the test file holds no absolute path (ccache hits in a clone).
add_dependencies(test_${dir} transfer_demo)
file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/demo_paths.cpp CONTENT
"namespace tl::test::paths {
extern const char* const transfer_demo_exe;
const char* const transfer_demo_exe = \"$<TARGET_FILE:transfer_demo>\";
}  // namespace tl::test::paths
")
target_sources(test_${dir} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/demo_paths.cpp)
target_compile_definitions(test_${dir} PRIVATE TL_TRANSFER_DEMO_EXE=tl::test::paths::transfer_demo_exe)
