#pragma once
// Training checkpoints: model, optimizer and scheduler state, the RNG state, the epoch and the
// history, in one safetensors file written atomically (temporary file, flush, fsync, rename, then
// fsync of the folder), so a kill during the write leaves the previous checkpoint intact.
//
// Layout: tensors "model.<name>" and "optimizer.<name>"; __metadata__ holds "tl.checkpoint" (the
// format version), "epoch", "global_step", "rng" (Generator::state()), "history" (CSV),
// "optimizer.meta.<key>" (the optimizer's own metadata, e.g. exact option values),
// "scheduler.<key>" (each scheduler entry as text, exactly) and "extra.<key>" (the caller's).
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "tl/core/state_dict.hpp"
#include "tl/io/safetensors.hpp"
#include "tl/train/history.hpp"

namespace tl::train {

template <class T = float>
struct Checkpoint {
  StateDict<T> model;
  StateDict<T> optimizer;
  StateDict<double> scheduler;  // empty without a scheduler
  std::string rng_state;        // tl::Generator::state() of the generator to restore
  int64_t epoch = 0;            // epochs completed
  int64_t global_step = 0;
  History history;
  std::map<std::string, std::string> extra;
};

namespace detail {
inline constexpr const char* kCheckpointVersion = "1";

/// "integer;dims;values" with values written to read back exactly.
inline std::string encode_entry(const Tensor<double>& t, bool integer) {
  std::string s = integer ? "1;" : "0;";
  for (size_t i = 0; i < t.shape().size(); ++i) {
    if (i) s += ",";
    s += std::to_string(t.shape()[i]);
  }
  s += ";";
  auto v = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ",";
    s += num(v[i]);
  }
  return s;
}
inline void decode_entry(const std::string& key, const std::string& s, StateDict<double>& sd, const std::string& path) {
  auto a = s.find(';'), b = a == std::string::npos ? a : s.find(';', a + 1);
  TL_CHECK(b != std::string::npos, "load_checkpoint: '", path, "': malformed scheduler entry '", key, "'");
  Shape shape;
  std::vector<double> vals;
  std::istringstream ds(s.substr(a + 1, b - a - 1)), vs(s.substr(b + 1));
  std::string cell;
  while (std::getline(ds, cell, ',')) {
    char* end = nullptr;
    shape.push_back(std::strtoll(cell.c_str(), &end, 10));
    TL_CHECK(end && *end == '\0' && !cell.empty(), "load_checkpoint: '", path, "': malformed scheduler entry '", key, "'");
  }
  while (std::getline(vs, cell, ',')) vals.push_back(std::strtod(cell.c_str(), nullptr));
  TL_CHECK(static_cast<int64_t>(vals.size()) == shape_numel(shape), "load_checkpoint: '", path,
           "': scheduler entry '", key, "' has ", vals.size(), " values for shape ", shape_str(shape));
  sd.insert(key, Tensor<double>(vals, shape), s[0] == '1');
}
inline bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

/// Makes a completed rename durable (best effort: some file systems refuse to fsync folders).
inline void fsync_parent_dir(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}
}  // namespace detail

/// Writes the checkpoint atomically: readers see the old file or the new one, never a mix.
template <class T>
void save_checkpoint(const std::string& path, const Checkpoint<T>& ck) {
  namespace fs = std::filesystem;
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path());
  StateDict<T> all;
  for (const auto& e : ck.model) all.insert("model." + e.name, e.tensor, e.integer);
  for (const auto& e : ck.optimizer) all.insert("optimizer." + e.name, e.tensor, e.integer);
  std::map<std::string, std::string> meta;
  meta["tl.checkpoint"] = detail::kCheckpointVersion;
  meta["epoch"] = std::to_string(ck.epoch);
  meta["global_step"] = std::to_string(ck.global_step);
  meta["rng"] = ck.rng_state;
  meta["history"] = history_to_csv(ck.history);
  for (const auto& [k, v] : ck.model.metadata) meta["model.meta." + k] = v;
  for (const auto& [k, v] : ck.optimizer.metadata) meta["optimizer.meta." + k] = v;
  for (const auto& e : ck.scheduler) meta["scheduler." + e.name] = detail::encode_entry(e.tensor, e.integer);
  for (const auto& [k, v] : ck.extra) meta["extra." + k] = v;
  io::save_safetensors(path, all, meta);
  detail::fsync_parent_dir(path);
}

/// Reads a checkpoint written by save_checkpoint; throws tl::Error naming the file if it is not one.
template <class T = float>
Checkpoint<T> load_checkpoint(const std::string& path) {
  StateDict<T> all = io::load_safetensors<T>(path);
  auto it = all.metadata.find("tl.checkpoint");
  TL_CHECK(it != all.metadata.end(), "load_checkpoint: '", path, "' is a safetensors file but not a tl checkpoint");
  TL_CHECK(it->second == detail::kCheckpointVersion, "load_checkpoint: '", path, "' has checkpoint version ",
           it->second, ", this tl reads version ", detail::kCheckpointVersion);
  Checkpoint<T> ck;
  for (const auto& e : all) {
    if (detail::starts_with(e.name, "model.")) ck.model.insert(e.name.substr(6), e.tensor, e.integer);
    else if (detail::starts_with(e.name, "optimizer.")) ck.optimizer.insert(e.name.substr(10), e.tensor, e.integer);
    else tl::detail::fail("load_checkpoint: '", path, "': unexpected tensor '", e.name, "'");
  }
  auto get = [&](const std::string& k) -> std::string {
    auto f = all.metadata.find(k);
    TL_CHECK(f != all.metadata.end(), "load_checkpoint: '", path, "' lacks metadata '", k, "'");
    return f->second;
  };
  try {
    ck.epoch = std::stoll(get("epoch"));
    ck.global_step = std::stoll(get("global_step"));
  } catch (const std::logic_error&) {
    tl::detail::fail("load_checkpoint: '", path, "': malformed epoch or global_step");
  }
  ck.rng_state = get("rng");
  ck.history = history_from_csv(get("history"));
  for (const auto& [k, v] : all.metadata) {
    if (detail::starts_with(k, "model.meta.")) ck.model.metadata[k.substr(11)] = v;
    else if (detail::starts_with(k, "optimizer.meta.")) ck.optimizer.metadata[k.substr(15)] = v;
    else if (detail::starts_with(k, "scheduler.")) detail::decode_entry(k.substr(10), v, ck.scheduler, path);
    else if (detail::starts_with(k, "extra.")) ck.extra[k.substr(6)] = v;
  }
  return ck;
}

}  // namespace tl::train
