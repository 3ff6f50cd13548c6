// inspect_weights: lists the tensors of a weight file (PyTorch .pth zip or legacy, safetensors)
// and converts between formats.
//
//   inspect_weights FILE                       format, then name, dtype, shape, bytes per tensor, totals
//   inspect_weights FILE --to OUT.safetensors  convert (also --to OUT.pth)
#include <cstdio>
#include <cstring>
#include <string>

#include <tl/io/io.hpp>

namespace {
void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: inspect_weights FILE [--to OUT.safetensors|OUT.pth]\n"
               "  Prints the detected format and every tensor's name, dtype, shape and size in bytes,\n"
               "  then the totals. FILE may be a torch.save file (zip or legacy; a checkpoint dict with\n"
               "  the state dict under 'state_dict', 'model_state_dict' or 'model' is accepted) or\n"
               "  safetensors; the format is recognised by content.\n"
               "  --to OUT   also converts the state dict (a 'module.' prefix is removed): OUT ending in\n"
               "             .safetensors writes safetensors, .pth/.pt writes a torch.save zip.\n"
               "             If any tensor is float64, all are written as float64 (no precision is lost),\n"
               "             otherwise as float32; integer tensors are written as int64.\n");
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

template <class T>
void convert(const std::string& in, const std::string& out) {
  auto sd = tl::io::load_state_dict<T>(in);
  if (ends_with(out, ".safetensors")) tl::io::save_safetensors(out, sd);
  else tl::io::save_pth(out, sd);
  std::printf("wrote %zu tensors to %s\n", sd.size(), out.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  std::string file, out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    }
    if (a == "--to" && i + 1 < argc) {
      out = argv[++i];
    } else if (!a.empty() && a[0] != '-' && file.empty()) {
      file = a;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (file.empty()) {
    usage(stderr);
    return 2;
  }
  if (!out.empty() && !ends_with(out, ".safetensors") && !ends_with(out, ".pth") && !ends_with(out, ".pt")) {
    std::fprintf(stderr, "inspect_weights: --to needs a name ending in .safetensors, .pth or .pt, got '%s'\n",
                 out.c_str());
    return 2;
  }
  try {
    auto raw = tl::io::parse_weights(tl::io::read_file_bytes(file, "inspect_weights"), file);
    std::printf("%s: %s, %zu tensors\n", file.c_str(), tl::io::format_name(raw.format), raw.entries.size());
    for (const auto& [k, v] : raw.metadata) std::printf("  metadata %s = %s\n", k.c_str(), v.c_str());
    int64_t elements = 0, bytes = 0;
    bool any_double = false;
    for (const auto& e : raw.entries) {
      std::printf("  %-48s %-9s %-20s %12lld bytes\n", e.name.c_str(), std::string(tl::io::torch_name(e.type())).c_str(),
                  tl::shape_str(e.shape).c_str(), static_cast<long long>(e.nbytes()));
      elements += e.numel();
      bytes += e.nbytes();
      any_double = any_double || e.type() == tl::io::ElemType::F64;
    }
    std::printf("total: %zu tensors, %lld elements, %lld bytes\n", raw.entries.size(), static_cast<long long>(elements),
                static_cast<long long>(bytes));
    if (!out.empty()) {
      if (any_double) convert<double>(file, out);
      else convert<float>(file, out);
    }
  } catch (const tl::Error& e) {
    std::fprintf(stderr, "inspect_weights: %s\n", e.what());
    return 1;
  }
  return 0;
}
