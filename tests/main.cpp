#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "support/build_paths.hpp"

namespace tl::test::paths {
const char* const data_dir = TL_TEST_DATA_DIR_PATH;
}  // namespace tl::test::paths
