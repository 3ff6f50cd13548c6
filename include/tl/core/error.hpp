#pragma once
// tl::Error: the one exception type the library throws for bad input.
#include <sstream>
#include <stdexcept>
#include <string>

namespace tl {

/// Thrown for every user-facing error: bad shapes, bad arguments, malformed files.
/// The message names the operation (or file) and what was expected.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
/// Builds a message from streamable pieces and throws tl::Error.
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream s;
  (s << ... << args);
  throw Error(s.str());
}
}  // namespace detail

}  // namespace tl

/// TL_CHECK(cond, "op: ", "message pieces", value, ...) throws tl::Error when cond is false.
#define TL_CHECK(cond, ...)                         \
  do {                                              \
    if (!(cond)) ::tl::detail::fail(__VA_ARGS__);   \
  } while (0)
