// distill: knowledge distillation (Hinton et al. 2015) on CIFAR-10, a ResNet-50-shaped teacher into
// a ResNet-18 student. The teacher comes from a weights file (fine-tuned first when its head is not
// a 10-class one) or is trained briefly here; it then runs in eval mode without autograd while the
// student learns from its softened logits and the labels:
//   loss = alpha T^2 KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) CE(student, labels)
//
//   ./distill --data cifar-10-batches-bin --teacher-weights cifar_resnet50.safetensors --epochs 5
//   ./distill --data ... --teacher-epochs 3 --epochs 5 --compare    # + a student trained on labels only
#include <cstdio>
#include <string>

#include "common/args.hpp"
#include "common/cifar.hpp"

namespace {

constexpr const char* kProg = "distill";
namespace tt = tl::transfer;
using tl::Tensor;

struct Args {
  std::string data, teacher_weights, teacher_arch = "resnet50", student_arch = "resnet18", save_teacher, save;
  int64_t teacher_epochs = -1, epochs = 3, batch_size = 64, image_size = 32, limit = 0, test_limit = 0, workers = 2;
  double temperature = 4, alpha = 0.9, lr = 0.05, teacher_lr = 0.01, weight_decay = 5e-4;
  bool compare = false, augment = true, plain = false, quiet = false;
  uint64_t seed = 0;
};

void usage() {
  std::printf(
      "usage: %s --data DIR [options]\n"
      "Distils a teacher ResNet (default resnet50) into a student (default resnet18) on CIFAR-10 and\n"
      "prints both accuracies.\n\n"
      "  --data DIR              CIFAR-10 binary directory (cifar-10-batches-bin)\n"
      "  --teacher-weights FILE  teacher weights (.pth or .safetensors); a head that is not 10-class is\n"
      "                          replaced and the teacher fine-tuned for --teacher-epochs (default: none,\n"
      "                          the teacher is trained from random init)\n"
      "  --teacher-arch NAME     resnet50 (default), resnet18, resnet34, resnet101, ...\n"
      "  --teacher-epochs N      teacher training epochs (default 1 when it needs training, else 0)\n"
      "  --teacher-lr X          teacher SGD lr (default 0.01)\n"
      "  --student-arch NAME     resnet18 (default), ...\n"
      "  --epochs N              student epochs (default 3)\n"
      "  --temperature T         softening temperature (default 4)\n"
      "  --alpha X               weight of the soft term, 1 - X on the labels (default 0.9)\n"
      "  --lr X                  student SGD lr, momentum 0.9, cosine schedule (default 0.05)\n"
      "  --weight-decay X        (default 5e-4)\n"
      "  --compare               also train the same student on the labels only (same seed, batches)\n"
      "  --batch-size N          (default 64)\n"
      "  --image-size N          resize to N x N (default 32)\n"
      "  --no-augment            no random crop / flip\n"
      "  --limit N               use the first N training images\n"
      "  --test-limit N          use the first N test images\n"
      "  --workers N             data-loading threads (default 2)\n"
      "  --seed N                (default 0)\n"
      "  --save-teacher FILE     write the (trained) teacher (.safetensors), reusable as --teacher-weights\n"
      "  --save FILE             write the distilled student (.safetensors)\n"
      "  --plain                 one line per epoch even on a terminal\n"
      "  --quiet                 only the results\n"
      "  --help                  this text\n",
      kProg);
}

Args parse(int argc, char** argv) {
  Args a;
  ex::ArgReader r(argc, argv);
  while (r.next()) {
    if (r.is("--help") || r.is("-h")) usage(), std::exit(0);
    else if (r.is("--data")) a.data = r.str();
    else if (r.is("--teacher-weights")) a.teacher_weights = r.str();
    else if (r.is("--teacher-arch")) a.teacher_arch = r.choice(ex::resnet_archs());
    else if (r.is("--teacher-epochs")) a.teacher_epochs = r.integer(0);
    else if (r.is("--teacher-lr")) a.teacher_lr = r.real(0);
    else if (r.is("--student-arch")) a.student_arch = r.choice(ex::resnet_archs());
    else if (r.is("--epochs")) a.epochs = r.integer(1);
    else if (r.is("--temperature")) a.temperature = r.real(1e-3);
    else if (r.is("--alpha")) a.alpha = r.real(0, 1);
    else if (r.is("--lr")) a.lr = r.real(0);
    else if (r.is("--weight-decay")) a.weight_decay = r.real(0);
    else if (r.is("--compare")) a.compare = true;
    else if (r.is("--batch-size")) a.batch_size = r.integer(1);
    else if (r.is("--image-size")) a.image_size = r.integer(8, 1024);
    else if (r.is("--no-augment")) a.augment = false;
    else if (r.is("--limit")) a.limit = r.integer(1);
    else if (r.is("--test-limit")) a.test_limit = r.integer(1);
    else if (r.is("--workers")) a.workers = r.integer(0, 64);
    else if (r.is("--seed")) a.seed = static_cast<uint64_t>(r.integer(0));
    else if (r.is("--save-teacher")) a.save_teacher = r.str();
    else if (r.is("--save")) a.save = r.str();
    else if (r.is("--plain")) a.plain = true;
    else if (r.is("--quiet")) a.quiet = true;
    else r.unknown();
  }
  if (a.data.empty()) ex::usage_error("--data is required (", ex::kCifarWhat, ")");
  if (!a.teacher_weights.empty())
    ex::require_file("--teacher-weights", a.teacher_weights, "a .pth or .safetensors ResNet weights file");
  if (!a.save.empty()) ex::require_safetensors_output("--save", a.save);
  if (!a.save_teacher.empty()) ex::require_safetensors_output("--save-teacher", a.save_teacher);
  return a;
}

/// Trains `student` for a.epochs: distillation from `teacher`, or labels only when teacher is null.
/// Returns the test accuracy after the last epoch.
double train_student(tl::models::ResNet<float>& student, tl::models::ResNet<float>* teacher, const Args& a,
                     tl::data::DataLoader& train, tl::data::DataLoader& test, const char* what) {
  tl::optim::SGD<float> opt(student.parameters(), {.lr = a.lr, .momentum = 0.9, .weight_decay = a.weight_decay});
  tl::optim::CosineAnnealingLR sched(opt, a.epochs);
  tl::train::Progress progress(ex::progress_mode(a.plain, a.quiet));
  double acc = 0;
  for (int64_t epoch = 0; epoch < a.epochs; ++epoch) {
    student.train();
    train.set_epoch(epoch);
    progress.start_epoch(epoch + 1, a.epochs, train.size());
    double loss_sum = 0;
    int64_t correct = 0, seen = 0, step = 0;
    for (const auto& b : train) {
      auto logits = student.forward(b.images);
      auto loss = teacher ? tt::distillation_loss(logits, tt::teacher_logits(*teacher, b.images), b.labels,
                                                  a.temperature, a.alpha)
                          : tl::nn::functional::cross_entropy(logits, b.labels);
      opt.zero_grad();
      loss.backward();
      opt.step();
      const double l = loss.item();
      TL_CHECK(std::isfinite(l), what, ": the loss became ", l, " (try a lower --lr)");
      loss_sum += l * double(b.size());
      auto pred = logits.detach().argmax(1);
      for (int64_t i = 0; i < b.size(); ++i) correct += pred.data()[i] == b.labels.data()[i];
      seen += b.size();
      progress.update(++step, loss_sum / double(seen), double(correct) / double(seen), seen);
    }
    sched.step();
    acc = ex::accuracy(student, test);
    char line[200];
    std::snprintf(line, sizeof line, "%s epoch %lld/%lld: loss %.4f, train acc %.2f%%, test acc %.2f%%, %.1fs", what,
                  (long long)epoch + 1, (long long)a.epochs, loss_sum / double(seen),
                  100.0 * double(correct) / double(seen), 100 * acc, progress.epoch_seconds());
    progress.end_epoch(line);
  }
  return acc;
}

int run(Args a) {
  auto data = ex::load_cifar10(a.data, a.limit, a.test_limit);
  tl::manual_seed(a.seed);
  tl::data::DataLoader train(data.train,
                             {.batch_size = a.batch_size, .shuffle = true, .num_workers = int(a.workers), .seed = a.seed},
                             ex::train_transform(a.image_size, a.augment));
  tl::data::DataLoader test(data.test, {.batch_size = 128, .num_workers = int(a.workers)}, ex::eval_transform(a.image_size));
  std::printf("CIFAR-10: %lld training and %lld test images at %lldx%lld\n", (long long)data.train->size(),
              (long long)data.test->size(), (long long)a.image_size, (long long)a.image_size);

  // The teacher: from the file as it is when it has a 10-class head, else (fine-)tuned here first.
  auto teacher = ex::make_resnet(a.teacher_arch, 10, a.seed + 1000);
  bool head_from_file = false;
  if (!a.teacher_weights.empty()) head_from_file = ex::load_pretrained(*teacher, a.teacher_weights, a.teacher_arch).skipped.empty();
  if (a.teacher_epochs < 0) a.teacher_epochs = head_from_file ? 0 : 1;
  if (a.teacher_epochs > 0) {
    std::printf("training the teacher (%s) for %lld epochs\n", a.teacher_arch.c_str(), (long long)a.teacher_epochs);
    tl::optim::SGD<float> opt(teacher->parameters(), {.lr = a.teacher_lr, .momentum = 0.9, .weight_decay = a.weight_decay});
    tl::optim::CosineAnnealingLR sched(opt, a.teacher_epochs);
    tl::train::fit(*teacher, opt, train, {.epochs = a.teacher_epochs, .scheduler = &sched,
                                          .progress = ex::progress_mode(a.plain, a.quiet)});
  } else if (!head_from_file) {
    std::printf("note: the teacher's head is untrained (--teacher-epochs 0 with no 10-class head in the file)\n");
  }
  teacher->eval();
  const double teacher_acc = ex::accuracy(*teacher, test);
  const auto tcount = tt::count_parameters(*teacher);
  std::printf("teacher %s: %lld parameters, test accuracy %.2f%%\n", a.teacher_arch.c_str(), (long long)tcount.total,
              100 * teacher_acc);
  if (!a.save_teacher.empty()) {
    tl::io::save_safetensors(a.save_teacher, teacher->state_dict(), {{"arch", a.teacher_arch}, {"num_classes", "10"}});
    std::printf("saved the teacher to %s\n", a.save_teacher.c_str());
  }

  auto student = ex::make_resnet(a.student_arch, 10, a.seed);
  const auto scount = tt::count_parameters(*student);
  std::printf("student %s: %lld parameters (%.1fx fewer); distillation T = %g, alpha = %g, %lld epochs\n",
              a.student_arch.c_str(), (long long)scount.total, double(tcount.total) / double(scount.total),
              a.temperature, a.alpha, (long long)a.epochs);
  const double student_acc = train_student(*student, teacher.get(), a, train, test, "student");
  double baseline_acc = -1;
  if (a.compare) {
    auto baseline = ex::make_resnet(a.student_arch, 10, a.seed);  // the same init and batches, labels only
    baseline_acc = train_student(*baseline, nullptr, a, train, test, "labels-only");
  }
  std::printf("test accuracy: teacher %.2f%%, distilled student %.2f%%", 100 * teacher_acc, 100 * student_acc);
  if (baseline_acc >= 0) std::printf(", student on labels only %.2f%%", 100 * baseline_acc);
  std::printf(" (%lld images)\n", (long long)data.test->size());
  if (!a.save.empty()) {
    tl::io::save_safetensors(a.save, student->state_dict(), {{"arch", a.student_arch}, {"num_classes", "10"}});
    std::printf("saved the student to %s\n", a.save.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return ex::run_main(kProg, [&] { return run(parse(argc, argv)); });
}
