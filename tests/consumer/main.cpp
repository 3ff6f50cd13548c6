// Built against the installed tl package: a tiny autograd computation that must give 2*x.
#include <cstdio>
#include <tl/tl.hpp>

int main() {
  auto x = tl::Tensor<float>(std::vector<float>{1, 2, 3}, {3}).requires_grad_(true);
  (x * x).sum().backward();
  auto g = x.grad().to_vector();
  bool ok = g == std::vector<float>{2, 4, 6};
  std::printf("consumer: grad = [%g, %g, %g] %s\n", double(g[0]), double(g[1]), double(g[2]), ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
