// Distillation loss against PyTorch (tests/data/make_transfer_reference.py), gradcheck, teacher helper.
#include "transfer/transfer_support.hpp"

using namespace tl;
namespace tt = tl::transfer;

TEST_CASE("distillation_loss: value and student gradient match PyTorch's formula") {
  auto ref = test::read_ref(test::data_path("transfer_ref.bin"));
  for (int c = 0; c < 3; ++c) {
    const std::string p = "kd" + std::to_string(c) + ".";
    CAPTURE(p);
    auto s = ref.at(p + "student").clone().requires_grad_();
    auto t = ref.at(p + "teacher");
    auto yd = ref.at(p + "targets").to_vector();
    auto y = Tensor<int64_t>::uninitialized({static_cast<int64_t>(yd.size())});
    for (size_t i = 0; i < yd.size(); ++i) y.data()[i] = static_cast<int64_t>(yd[i]);
    auto prm = ref.at(p + "params").to_vector();
    auto loss = tt::distillation_loss(s, t, y, prm[0], prm[1]);
    CHECK(loss.item() == doctest::Approx(ref.at(p + "loss").item()).epsilon(1e-12));
    loss.backward();
    CHECK(test::max_abs_diff(s.grad(), ref.at(p + "grad")) < 1e-12);
    // float too
    auto sf = s.detach().to<float>(), tf = t.to<float>();
    CHECK(tt::distillation_loss(sf, tf, y, prm[0], prm[1]).item() ==
          doctest::Approx(ref.at(p + "loss").item()).epsilon(1e-5));
  }
}

TEST_CASE("distillation_loss: gradcheck w.r.t. the student, none to the teacher, bad arguments") {
  Generator g(2);
  auto s = randn<double>({4, 5}, g).requires_grad_();
  auto t = randn<double>({4, 5}, g).requires_grad_();
  Tensor<int64_t> y(std::vector<int64_t>{0, 3, 4, 1}, {4});
  auto r = gradcheck([&](const std::vector<Tensor<double>>& in) {
    return tt::distillation_loss(in[0], t, y, 3.0, 0.6);
  }, {s});
  CHECK_MESSAGE(r.ok, r.message);
  tt::distillation_loss(s, t, y, 3.0, 0.6).backward();
  CHECK(s.grad().defined());
  CHECK_FALSE(t.grad().defined());
  // alpha = 0 is plain cross entropy; equal logits give zero KL
  CHECK(tt::distillation_loss(s, s.detach(), y, 2.0, 1.0).item() == doctest::Approx(0.0).epsilon(1e-12));
  CHECK(tt::distillation_loss(s, t, y, 2.0, 0.0).item() ==
        doctest::Approx(nn::functional::cross_entropy(s, y).item()));
  CHECK_THROWS_AS(tt::distillation_loss(s, t, y, 0.0, 0.5), Error);
  CHECK_THROWS_AS(tt::distillation_loss(s, t, y, 1.0, 1.5), Error);
  CHECK_THROWS_AS(tt::distillation_loss(s, randn<double>({4, 6}, g), y, 1.0, 0.5), Error);
}

TEST_CASE("teacher_logits: eval mode, no graph, mode restored") {
  auto teacher = test::small_resnet18(3);
  teacher->train();
  auto before = test::snapshot(*teacher);
  auto x = test::seeded_input({2, 3, 8, 8}, 5);
  auto t = tt::teacher_logits(*teacher, x);
  CHECK(t.shape() == Shape{2, 5});
  CHECK_FALSE(t.requires_grad());
  CHECK(teacher->is_training());
  CHECK(test::bit_equal(teacher->state_dict().at("bn1.running_mean"), before.at("bn1.running_mean")));
}
