# Full-size PyTorch references (~600 MB) are generated at test time into the build tree, not committed.
target_compile_definitions(test_${dir} PRIVATE TL_MODELS_REF_DIR="${CMAKE_CURRENT_BINARY_DIR}/models_ref")
