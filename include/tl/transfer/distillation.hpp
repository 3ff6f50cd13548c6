#pragma once
// Knowledge distillation (Hinton, Vinyals & Dean 2015), with the convention of common PyTorch code:
//   loss = alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T))  [kl_div, reduction batchmean]
//        + (1 - alpha) * cross_entropy(student, targets)               [mean]
// The T^2 keeps the soft term's gradients on the scale of the hard one as T grows. Gradients flow
// to the student only (the teacher's logits are detached).
//
//   auto t = tl::transfer::teacher_logits(*teacher, x);   // eval mode, no autograd
//   auto loss = tl::transfer::distillation_loss(student->forward(x), t, y, 4.0, 0.9);
#include "tl/autograd/grad_mode.hpp"
#include "tl/nn/functional/loss.hpp"
#include "tl/ops/binary.hpp"
#include "tl/ops/softmax.hpp"
#include "tl/transfer/feature_cache.hpp"

namespace tl::transfer {

template <class T>
Tensor<T> distillation_loss(const Tensor<T>& student_logits, const Tensor<T>& teacher_logits,
                            const Tensor<int64_t>& targets, double temperature = 4.0, double alpha = 0.9) {
  TL_CHECK(temperature > 0, "transfer::distillation_loss: temperature must be positive, got ", temperature);
  TL_CHECK(alpha >= 0 && alpha <= 1, "transfer::distillation_loss: alpha must be in [0, 1], got ", alpha);
  TL_CHECK(student_logits.dim() == 2 && student_logits.shape() == teacher_logits.shape(),
           "transfer::distillation_loss: student and teacher logits must both be [N, C], got ",
           shape_str(student_logits.shape()), " and ", shape_str(teacher_logits.shape()));
  const T inv_t = static_cast<T>(1.0 / temperature);
  auto log_p_student = log_softmax(mul(student_logits, scalar_tensor<T>(inv_t)), 1);
  auto p_teacher = softmax(mul(teacher_logits.detach(), scalar_tensor<T>(inv_t)), 1);
  auto soft = kl_div(log_p_student, p_teacher, Reduction::BatchMean);
  auto hard = nn::functional::cross_entropy(student_logits, targets);
  const T a = static_cast<T>(alpha * temperature * temperature), b = static_cast<T>(1.0 - alpha);
  return add(mul(soft, scalar_tensor<T>(a)), mul(hard, scalar_tensor<T>(b)));
}

/// The teacher's logits for x: eval mode (restored afterwards) and no autograd.
template <class M, class T>
Tensor<T> teacher_logits(M& teacher, const Tensor<T>& x) {
  EvalModeGuard<T> eval(teacher);
  NoGradGuard no_grad;
  return teacher.forward(x);
}

}  // namespace tl::transfer
