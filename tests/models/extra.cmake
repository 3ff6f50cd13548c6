# Full-size PyTorch references (~600 MB) are generated at test time into the build tree, not committed.
# Their directory is compiled into one generated, tiny object (like tests/main.cpp for tests/data),
# so the test files themselves hold no absolute path and ccache reuses them in a clone elsewhere.
file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/models_paths.cpp CONTENT
"namespace tl::test::paths {
extern const char* const models_ref_dir;
const char* const models_ref_dir = \"${CMAKE_CURRENT_BINARY_DIR}/models_ref\";
}  // namespace tl::test::paths
")
target_sources(test_${dir} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/models_paths.cpp)
target_compile_definitions(test_${dir} PRIVATE TL_MODELS_REF_DIR=tl::test::paths::models_ref_dir)
