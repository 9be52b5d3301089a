// Data sets for audit, drift and recalibration: what people in a factory
// have. A folder (searched recursively) or a list of files: .npy (one sample,
// or a batch), .npz (each array a sample or a batch), ONNX TensorProto .pb,
// and PNG/JPEG images (resized, scaled to [0,1], normalized with mean/std,
// laid out CHW in RGB or BGR order). Optionally with integer class labels, in
// sample order: a .npy/.npz file, arrays of the data's .npz files, or the
// class subfolders of an ImageFolder layout.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bnfold/graph/tensor.hpp"

namespace bnfold BNFOLD_API {

// Where a data set's labels come from, as DataOptions::labels says it.
enum class LabelSource {
  None,        // no labels (unless label_key names arrays of the data's .npz files)
  File,        // a .npy/.npz file of class ids
  Subfolders,  // the first folder level under each data folder is the class (ImageFolder)
};
const char* to_string(LabelSource source);  // "none", "file", "subfolders" (the word --labels takes)
LabelSource label_source_of(const std::string& labels);  // "" none, "subfolders", else a file

struct DataOptions {
  // The dims of one sample the model takes (its input without the batch dim);
  // arrays of this rank are samples, one rank more are batches. Required.
  std::vector<int64_t> sample_dims;
  DType dtype = DType::Float32;
  // Images: resized to sample_dims' H x W; then (v/255 - mean[c]) / std[c].
  std::vector<float> mean = {0.f, 0.f, 0.f};
  std::vector<float> std = {1.f, 1.f, 1.f};
  bool bgr = false;  // channel order of the model's input
  // Images, ImageNet style: the shorter side resized to resize_shorter
  // (aspect kept), then the centre H x W cut out. 0: resized to H x W.
  int64_t resize_shorter = 0;
  // .npz files: only the array named data_key is data (empty: every array
  // except label_key's); label_key names the array of labels.
  std::string data_key, label_key;
  // Where the labels are: empty (none, unless label_key names arrays of the
  // data's .npz files), a .npy/.npz file, or "subfolders" (the first folder
  // level under each data folder is the class, sorted by name: ImageFolder).
  std::string labels;
  // Part of the data: every `every`-th sample (1: all), at most `limit` of them (0: no limit).
  int64_t every = 1, limit = 0;
  // Called after each file is scanned: (files done, files in all).
  std::function<void(int64_t, int64_t)> progress;
};

// Samples are read when a batch needs them, not at open: open() reads the
// files' headers (.npy and .npz headers, image headers; a .pb whole, once), a
// batch reads its own samples (one seek for .npy and stored .npz members;
// a deflated member, an image or a .pb is decoded whole, the last one kept),
// so memory does not grow with the data set. Copies share the files; batch()
// may be called from several threads.
struct DatasetSamples;  // where a Dataset's samples live (internal)

class Dataset {
 public:
  // Throws bnfold::Error for an empty folder, an unreadable file, or samples
  // whose dims or dtype differ from options.sample_dims / dtype (naming the file).
  static Dataset open(const std::vector<std::string>& paths, const DataOptions& options);
  // A data set held in memory: [samples, sample dims...].
  static Dataset from_tensor(const Tensor& samples);

  int64_t size() const { return count_; }
  const std::vector<int64_t>& sample_dims() const { return sample_dims_; }
  DType dtype() const { return dtype_; }
  // Samples [start, start + n) as one batch tensor, read from the files.
  Tensor batch(int64_t start, int64_t n) const;
  // Calls fn(start, samples) for consecutive batches of `batch` samples, the
  // last one smaller (with whole_only: full batches only). Every workflow
  // walks its data through this, so a batch size below 1, from any front end,
  // is refused here (check_batch_size) instead of looping forever, and a
  // sample with a NaN or an infinity is refused by its number
  // (check_finite_samples) before it reaches any statistic.
  void for_each_batch(int64_t batch, const std::function<void(int64_t start, Tensor samples)>& fn,
                      bool whole_only = false) const;
  std::string description;  // "64 samples from 3 files in data/"
  // Files and arrays that were not used as data, and why (integer arrays
  // that look like labels, say): for the front end to show.
  std::vector<std::string> notes;

  // Class labels, one per sample; empty when the data has none.
  bool has_labels() const { return !labels_.empty(); }
  const std::vector<int64_t>& labels() const { return labels_; }
  // Throws unless there is one non-negative label per sample.
  void set_labels(std::vector<int64_t> labels, const std::string& what);
  // Class names (subfolder names) when labels came from subfolders.
  std::vector<std::string> class_names;
  // When every sample is an image: the mean and std it was normalized with
  // (sample = (pixel - mean) / std, pixels in [0, 1]); empty otherwise.
  std::vector<float> image_mean, image_std;

 private:
  std::shared_ptr<const DatasetSamples> impl_;  // analysis/dataset_impl.hpp
  std::vector<int64_t> sample_dims_;
  DType dtype_ = DType::Float32;
  int64_t count_ = 0;   // samples after the selection
  int64_t every_ = 1;   // sample i is the source's sample i * every_
  std::vector<int64_t> labels_;
};

// Throws InvalidArgument naming the sample (first + its index in the batch)
// when a float batch holds a NaN or an infinity: one such pixel makes every
// statistic measured from it NaN. for_each_batch checks every batch.
void check_finite_samples(const Tensor& batch, int64_t first, const std::string& what);
// Throws InvalidArgument unless 1 <= batch <= 2^31 (`what` names the option).
void check_batch_size(int64_t batch, const char* what = "batch");

// Class labels from a tensor: integers of rank 1 (or [N, 1]), non-negative.
// Throws naming `what` for floats, other ranks and negative ids.
std::vector<int64_t> labels_from_tensor(const Tensor& t, const std::string& what);
// Labels from a .npy file, or the array `key` of a .npz (its only array when
// key is empty).
std::vector<int64_t> load_labels(const std::string& path, const std::string& key);

// The files a data path stands for (a folder is searched recursively, sorted).
std::vector<std::string> data_files(const std::vector<std::string>& paths);

}  // namespace bnfold
