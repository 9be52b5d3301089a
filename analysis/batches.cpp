// Walking a data set in batches: the one place every workflow's batch size
// and every sample's values are checked before they reach a statistic.
#include <algorithm>
#include <cmath>

#include "bnfold/analysis/dataset.hpp"
#include "graph/check.hpp"

namespace bnfold {

void check_batch_size(int64_t batch, const char* what) {
  BNFOLD_CHECK(batch >= 1 && batch <= (int64_t{1} << 31), ErrorCode::InvalidArgument,
               "{} {} is outside [1, 2^31]: a batch holds at least one sample", what, batch);
}

void check_finite_samples(const Tensor& batch, int64_t first, const std::string& what) {
  if (batch.dtype() != DType::Float32 && batch.dtype() != DType::Float64) return;
  const int64_t n = batch.dims().empty() ? 1 : batch.dims()[0];
  const int64_t per = std::max<int64_t>(n > 0 ? batch.numel() / n : 1, 1);
  int64_t bad = -1;
  if (batch.dtype() == DType::Float32) {
    const float* p = batch.data_as<float>();
    for (int64_t i = 0; i < batch.numel() && bad < 0; ++i)
      if (!std::isfinite(p[i])) bad = i;
  } else {
    const double* p = batch.data_as<double>();
    for (int64_t i = 0; i < batch.numel() && bad < 0; ++i)
      if (!std::isfinite(p[i])) bad = i;
  }
  BNFOLD_CHECK(bad < 0, ErrorCode::InvalidArgument,
               "sample {} of {} holds {} (value {} of the sample): statistics measured from it would not be "
               "numbers; repair or remove it",
               first + bad / per, what.empty() ? "the data" : what, bad < 0 ? 0.0 : batch.value_at(bad), bad % per);
}

void Dataset::for_each_batch(int64_t batch, const std::function<void(int64_t, Tensor)>& fn, bool whole_only) const {
  check_batch_size(batch);
  const int64_t end = whole_only ? count_ / batch * batch : count_;
  for (int64_t start = 0; start < end; start += batch) {
    Tensor samples = this->batch(start, std::min(batch, end - start));
    check_finite_samples(samples, start, description);  // start counts the samples used
    fn(start, std::move(samples));
  }
}

}  // namespace bnfold
