#include "tools/data_cli.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <memory>

#include "bnfold/analysis/workflows.hpp"
#include "bnfold/graph/atomic_file.hpp"
#include "tools/arg_check.hpp"
#include "tools/commands.hpp"
#include "tools/inputs.hpp"
#include "tools/text.hpp"

namespace bnfold::cli {

void add_data_options(CLI::App* cmd, DataArgs& a, bool data_required) {
  cmd->add_option("MODEL", a.model, "ONNX model")->required();
  auto* d = cmd->add_option("-d,--data", a.data,
                            "Data: a folder (searched recursively) or files: .npy (a sample or a batch), .npz, "
                            "ONNX .pb, PNG/JPEG images; repeatable");
  if (data_required) d->required();
  cmd->add_option("--labels", a.labels,
                  "Class labels in sample order: a .npy/.npz of integer ids, or 'subfolders' (one folder per class "
                  "under each data folder, sorted by name, as torchvision's ImageFolder)");
  cmd->add_option("--data-key", a.data_key, ".npz: the array that holds the data (default: every array)");
  cmd->add_option("--label-key", a.label_key,
                  ".npz: the array that holds the labels (in --labels, or in the data's own .npz files)");
  in_range(cmd->add_option("--limit", a.limit, "Use at most N samples (after --sample-every); 0: all"), 0, 1e15);
  in_range(cmd->add_option("--sample-every", a.every, "Use every K-th sample (1: all)")->capture_default_str(), 1,
           1e15);
  cmd->add_option("--size", a.size, "Images: resize to HxW (default: the model's input size)");
  in_range(cmd->add_option("--resize", a.resize,
                           "Images, ImageNet style: resize the shorter side to S (aspect kept), then crop the centre "
                           "to the model's size; e.g. --resize 256 --center-crop 224"),
           1, 1e5);
  cmd->add_option("--center-crop", a.center_crop, "Images: the crop after --resize, C or HxW (the model's size)");
  cmd->add_option("--mean", a.mean,
                  "Images: per-channel mean after scaling to [0,1] (one value, or one per channel), e.g. "
                  "0.485,0.456,0.406 (default 0)");
  cmd->add_option("--std", a.std_, "Images: per-channel std, e.g. 0.229,0.224,0.225 (default 1; never 0)");
  cmd->add_option("--channel-order", a.order, "Images: rgb or bgr, the model's channel order")->capture_default_str();
  in_range(cmd->add_option("-b,--batch", a.batch, "Batch size for passes over the data")->capture_default_str(), 1,
           1e6);
  add_threads_option(cmd, a.threads,
                     "Threads (0: one per core). Idle threads wait passively (OMP_WAIT_POLICY=passive unless you "
                     "set it), so on a machine other jobs share, a pass slows down instead of stalling");
  cmd->add_flag("--json", a.json, "Print JSON instead of text");
  cmd->add_option("--html", a.html, "Also write a self-contained HTML report with tables and charts here");
}

Progress progress_bar(const std::string& what) {
  const bool tty = isatty(2);
  auto last = std::make_shared<int>(-1);
  return [what, tty, last](int64_t done, int64_t total) {
    const int pct = total > 0 ? static_cast<int>(100 * done / total) : 100;
    if (tty) {
      const int filled = pct * 30 / 100;
      fmt::print(stderr, "\r{} [{}{}] {:3}% ({}/{})", what, std::string(static_cast<size_t>(filled), '#'),
                 std::string(static_cast<size_t>(30 - filled), '.'), pct, done, total);
      if (done >= total) fmt::print(stderr, "\n");
    } else if (pct / 25 != *last / 25 || done >= total) {
      if (pct != *last) fmt::print(stderr, "{}: {}% ({}/{})\n", what, pct, done, total);
    }
    *last = pct;
  };
}

namespace {
std::vector<int64_t> parse_crop(const std::string& s) {
  if (s.find_first_of("xX") == std::string::npos) {
    const std::vector<int64_t> one = parse_int_list(s, "--center-crop");
    BNFOLD_ARG_CHECK(one.size() == 1, ErrorCode::InvalidArgument, "--center-crop: C or HxW, not '{}'", s);
    return {one[0], one[0]};
  }
  return parse_size(s, "--center-crop");
}
}  // namespace

Dataset load_data(const DataArgs& a, const Graph& g, const std::vector<std::string>* paths,
                  const std::string* labels) {
  ImageOptions images;
  if (!a.size.empty()) images.size = parse_size(a.size, "--size");
  images.resize = a.resize;
  if (!a.center_crop.empty()) images.crop = parse_crop(a.center_crop);
  if (!a.mean.empty()) images.mean = parse_float_list(a.mean, "--mean");
  if (!a.std_.empty()) images.std = parse_float_list(a.std_, "--std");
  BNFOLD_ARG_CHECK(a.order == "rgb" || a.order == "bgr", ErrorCode::InvalidArgument, "--channel-order: rgb or bgr");
  images.bgr = a.order == "bgr";
  DataOptions o = data_options_for(g, a.model, images);
  o.labels = labels ? *labels : a.labels;
  o.data_key = a.data_key;
  o.label_key = a.label_key;
  o.limit = a.limit;
  o.every = a.every;
  o.progress = progress_bar("reading data");
  Dataset d = Dataset::open(paths ? *paths : a.data, o);
  fmt::print(stderr, "{}\n", d.description);
  for (const auto& n : d.notes) fmt::print(stderr, "note: {}\n", n);
  return d;
}

void check_outputs(const DataArgs& a, std::vector<NamedPath> outputs, std::vector<NamedPath> inputs) {
  inputs.push_back({"the model", a.model});
  inputs.push_back({"--labels", a.labels});
  for (const auto& d : a.data) inputs.push_back({"--data", d});
  outputs.push_back({"--html", a.html});
  check_outputs_apart(inputs, outputs);
}

}  // namespace bnfold::cli
