#pragma once
// tl::Generator: a seedable random source. Uses mt19937_64 with our own uniform/normal
// transforms so a seed gives the same numbers on every platform and standard library.
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>

#include "tl/core/error.hpp"

namespace tl {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { manual_seed(seed); }

  void manual_seed(uint64_t seed) {
    engine_.seed(seed);
    has_spare_ = false;
  }

  uint64_t next_u64() { return engine_(); }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0); }

  /// Standard normal via Box-Muller (pairs cached).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    double r = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * 3.14159265358979323846 * u2;
    spare_ = r * std::sin(th);
    has_spare_ = true;
    return r * std::cos(th);
  }

  /// Uniform integer in [0, n).
  int64_t randint(int64_t n) {
    TL_CHECK(n > 0, "Generator::randint: n must be positive, got ", n);
    return static_cast<int64_t>(engine_() % static_cast<uint64_t>(n));
  }

  /// The full state as text (for checkpoints), and back.
  std::string state() const {
    std::ostringstream s;
    s << engine_ << ' ' << has_spare_ << ' ';
    s.precision(17);
    s << spare_;
    return s.str();
  }
  void set_state(const std::string& st) {
    std::istringstream s(st);
    s >> engine_ >> has_spare_ >> spare_;
    TL_CHECK(!s.fail(), "Generator::set_state: malformed state string");
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

/// The generator used by factories when none is passed.
inline Generator& default_generator() {
  static Generator g(0);
  return g;
}

/// Seeds the default generator (like torch.manual_seed).
inline void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace tl
