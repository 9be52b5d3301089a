#include "runtime/moments.hpp"

#include "graph/check.hpp"

namespace bnfold {

void ChannelMoments::add(int64_t n, const std::vector<double>& batch_mean, const std::vector<double>& batch_var) {
  ChannelMoments b;
  b.count = n;
  b.mean = batch_mean;
  b.m2.resize(batch_var.size());
  for (size_t c = 0; c < batch_var.size(); ++c) b.m2[c] = batch_var[c] * static_cast<double>(n);
  merge(b);
}

void ChannelMoments::merge(const ChannelMoments& o) {
  if (o.count == 0) return;
  if (count == 0) {
    *this = o;
    return;
  }
  BNFOLD_CHECK(o.mean.size() == mean.size(), ErrorCode::InvalidArgument, "channel counts differ ({} vs {})",
               mean.size(), o.mean.size());
  const double na = static_cast<double>(count), nb = static_cast<double>(o.count), n = na + nb;
  for (size_t c = 0; c < mean.size(); ++c) {
    const double delta = o.mean[c] - mean[c];
    mean[c] += delta * nb / n;
    m2[c] += o.m2[c] + delta * delta * na * nb / n;
  }
  count += o.count;
}

std::vector<double> ChannelMoments::variance() const {
  std::vector<double> v(m2.size(), 0.0);
  for (size_t c = 0; c < m2.size(); ++c) v[c] = count > 0 ? m2[c] / static_cast<double>(count) : 0.0;
  return v;
}

}  // namespace bnfold
