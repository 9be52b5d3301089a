#include "api/serve/monitor.hpp"

#include "analysis/utc_time.hpp"

namespace bnfold::serve {

Monitor::Monitor(double window_s, std::string model, std::string sha256, std::string source)
    : window_(window_s), bucket_(window_s / 12), model_(std::move(model)), sha256_(std::move(sha256)),
      source_(std::move(source)) {}

void Monitor::Part::add(const BnMoments& run, int64_t samples, const std::string& now) {
  moments.merge_moments(run);
  moments.samples += samples;
  if (from.empty()) from = now;
  until = now;
}

void Monitor::add(const BnMoments& run, int64_t samples) {
  const std::string now = utc_now();
  const Clock::time_point t = Clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  total_.add(run, samples, now);
  interval_.add(run, samples, now);
  if (buckets_.empty() || t - buckets_.back().start >= bucket_) {
    buckets_.push_back(Part{t, {}, {}, {}});
  }
  buckets_.back().add(run, samples, now);
  while (!buckets_.empty() && buckets_.front().start < t - window_) buckets_.pop_front();
}

BnInputStats Monitor::as_stats(const Part& part) const {
  BnInputStats s;
  static_cast<BnMoments&>(s) = part.moments;
  s.model = model_;
  s.provenance.model_sha256 = sha256_;
  s.provenance.collected_from = part.from;
  s.provenance.collected_until = part.until;
  if (part.moments.samples > 0) s.provenance.sources = {source_};
  return s;
}

BnInputStats Monitor::stats(DriftWindow window) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (window == DriftWindow::SinceStart) return as_stats(total_);
  Part merged;
  const auto oldest = Clock::now() - window_;
  for (const Part& b : buckets_) {
    if (b.start < oldest) continue;  // left the window since the last run
    merged.moments.merge_moments(b.moments);
    merged.moments.samples += b.moments.samples;
    if (merged.from.empty()) merged.from = b.from;
    merged.until = b.until;
  }
  return as_stats(merged);
}

BnInputStats Monitor::take_interval() {
  std::lock_guard<std::mutex> lock(mutex_);
  BnInputStats s = as_stats(interval_);
  interval_ = Part{};
  return s;
}

}  // namespace bnfold::serve
