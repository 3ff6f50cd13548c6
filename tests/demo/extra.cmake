# The smoke test runs the transfer_demo program (examples/transfer_demo.cpp).
add_dependencies(test_${dir} transfer_demo)
target_compile_definitions(test_${dir} PRIVATE TL_TRANSFER_DEMO_EXE="$<TARGET_FILE:transfer_demo>")
