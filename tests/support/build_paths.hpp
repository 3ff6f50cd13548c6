#pragma once
// Where the tests find tests/data. The absolute path is compiled into tests/main.cpp alone (one
// tiny object) rather than into every test file, which sees TL_TEST_DATA_DIR as the name below: a
// test object then holds no path of the checkout, and ccache (CCACHE_BASEDIR, see .ci/test) reuses
// it for a clone at another path. tests/CMakeLists.txt force-includes this header.
namespace tl::test::paths {
extern const char* const data_dir;  // <checkout>/tests/data
}  // namespace tl::test::paths
