// A first program: fit y = 3x + 1 with autograd and plain gradient descent.
#include <cstdio>
#include <tl/tl.hpp>

int main() {
  tl::manual_seed(0);
  auto x = tl::randn<float>({64, 1});
  auto y = x * 3.0f + 1.0f;
  auto w = tl::zeros<float>({1}).requires_grad_(true);
  auto b = tl::zeros<float>({1}).requires_grad_(true);
  for (int step = 0; step < 200; ++step) {
    auto err = x * w + b - y;
    auto loss = (err * err).mean();
    loss.backward();
    tl::NoGradGuard no_grad;
    w.copy_(w - w.grad() * 0.1f);
    b.copy_(b - b.grad() * 0.1f);
    w.zero_grad();
    b.zero_grad();
    if (step % 50 == 0) std::printf("step %3d  loss %.6f\n", step, static_cast<double>(loss.item()));
  }
  std::printf("w = %.4f, b = %.4f (expected 3, 1)\n", static_cast<double>(w.item()), static_cast<double>(b.item()));
}
