#include "bnfold/runtime/moments.hpp"

#include <cmath>

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
  BNFOLD_CHECK(o.count >= 0 && count >= 0, ErrorCode::InvalidArgument, "a count of values is negative ({}, {})",
               count, o.count);
  if (o.count == 0) return;
  for (size_t c = 0; c < o.mean.size() && c < o.m2.size(); ++c)
    BNFOLD_CHECK(std::isfinite(o.mean[c]) && std::isfinite(o.m2[c]), ErrorCode::InvalidArgument,
                 "the statistics of channel {} are mean {} and m2 {} over {} values: not finite (the data, or "
                 "the model on it, gave a NaN or an infinity)",
                 c, o.mean[c], o.m2[c], o.count);
  if (count == 0) {
    *this = o;
    return;
  }
  BNFOLD_CHECK(o.mean.size() == mean.size(), ErrorCode::InvalidArgument, "channel counts differ ({} vs {})",
               mean.size(), o.mean.size());
  int64_t total = 0;
  BNFOLD_CHECK(!__builtin_add_overflow(count, o.count, &total), ErrorCode::InvalidArgument,
               "merging {} and {} values per channel overflows a 64-bit count", count, o.count);
  const double na = static_cast<double>(count), nb = static_cast<double>(o.count), n = na + nb;
  std::vector<double> new_mean = mean, new_m2 = m2;
  for (size_t c = 0; c < mean.size(); ++c) {
    const double delta = o.mean[c] - mean[c];
    new_mean[c] += delta * nb / n;
    new_m2[c] += o.m2[c] + delta * delta * na * nb / n;
    // Finite inputs can still merge to a non-finite result (means of
    // +-1e308): such statistics must never be used or written.
    BNFOLD_CHECK(std::isfinite(new_mean[c]) && std::isfinite(new_m2[c]), ErrorCode::InvalidArgument,
                 "merging the statistics of channel {} gives mean {} and m2 {} (means {} and {}): not finite", c,
                 new_mean[c], new_m2[c], mean[c], o.mean[c]);
  }
  mean = std::move(new_mean);
  m2 = std::move(new_m2);
  count = total;
}

std::vector<double> ChannelMoments::variance() const {
  std::vector<double> v(m2.size(), 0.0);
  for (size_t c = 0; c < m2.size(); ++c) v[c] = count > 0 ? m2[c] / static_cast<double>(count) : 0.0;
  return v;
}

void BnMoments::add(const std::string& bn, int64_t count, const std::vector<double>& mean,
                    const std::vector<double>& var) {
  if (!per_bn.count(bn)) order.push_back(bn);
  per_bn[bn].add(count, mean, var);
}

void BnMoments::merge_moments(const BnMoments& other) {
  if (order.empty()) order = other.order;
  for (const auto& [bn, m] : other.per_bn) per_bn[bn].merge(m);
}

}  // namespace bnfold
