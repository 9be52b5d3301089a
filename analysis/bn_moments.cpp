#include "bnfold/analysis/bn_moments.hpp"

#include "bnfold/graph/atomic_file.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "bnfold/version.hpp"
#include "analysis/utc_time.hpp"
#include "graph/check.hpp"
#include "bnfold/graph/sha256.hpp"
#include "bnfold/graph/shape.hpp"

namespace bnfold {

namespace {

constexpr const char* kFormat = "bnfold-bn-input-stats";
constexpr int kVersion = 2;

void put(std::string* out, const std::string& s) {
  *out += std::to_string(s.size()) + ":" + s;
}
void put(std::string* out, int64_t v) { out->append(reinterpret_cast<const char*>(&v), sizeof v); }
void put(std::string* out, const std::vector<double>& v) {
  put(out, static_cast<int64_t>(v.size()));
  out->append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
}

// The digest of everything the file says, exactly (doubles by their bits):
// an edited number, name or count changes it.
std::string content_digest(const BnInputStats& s) {
  std::string bytes;
  put(&bytes, s.model);
  put(&bytes, s.samples);
  for (const auto& bn : s.order) {
    const ChannelMoments& m = s.per_bn.at(bn);
    put(&bytes, bn);
    put(&bytes, m.count);
    put(&bytes, m.mean);
    put(&bytes, m.m2);
  }
  // Provenance counts only where present: files written before it had none,
  // and their checksums stay valid.
  const StatsProvenance& p = s.provenance;
  if (!p.empty()) {
    put(&bytes, p.model_sha256);
    put(&bytes, p.collected_from);
    put(&bytes, p.collected_until);
    for (const auto& src : p.sources) put(&bytes, src);
  }
  return sha256_hex(bytes);
}

}  // namespace

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void StatsProvenance::merge(const StatsProvenance& o) {
  if (model_sha256.empty()) model_sha256 = o.model_sha256;
  else if (!o.model_sha256.empty() && o.model_sha256 != model_sha256) model_sha256 = "mixed";
  if (!o.collected_from.empty() && (collected_from.empty() || o.collected_from < collected_from))
    collected_from = o.collected_from;
  if (o.collected_until > collected_until) collected_until = o.collected_until;
  for (const auto& src : o.sources)
    if (std::find(sources.begin(), sources.end(), src) == sources.end()) sources.push_back(src);
}

std::string BnInputStats::bn_signature() const {
  std::map<std::string, size_t> channels;
  for (const auto& [bn, m] : per_bn) channels[bn] = m.mean.size();
  return bn_signature_of(channels);
}

std::string bn_signature_of(const std::map<std::string, size_t>& channels) {
  std::string bytes;
  for (const auto& [bn, c] : channels) {
    put(&bytes, bn);
    put(&bytes, static_cast<int64_t>(c));
  }
  return sha256_hex(bytes).substr(0, 16);
}

void BnInputStats::merge(const BnInputStats& o) {
  if (order.empty()) {
    *this = o;
    return;
  }
  BNFOLD_CHECK(bn_signature() == o.bn_signature(), ErrorCode::InvalidArgument,
               "the statistics were collected on models with different BatchNormalization nodes ({} BNs, "
               "signature {}{}; {} BNs, signature {}{})",
               per_bn.size(), bn_signature(), model.empty() ? "" : ", " + model, o.per_bn.size(), o.bn_signature(),
               o.model.empty() ? "" : ", " + o.model);
  int64_t total = 0;
  BNFOLD_CHECK(!__builtin_add_overflow(samples, o.samples, &total), ErrorCode::InvalidArgument,
               "merging statistics of {} and {} samples overflows a 64-bit count", samples, o.samples);
  // Into a copy: a merge that fails part-way leaves these statistics as they were.
  std::map<std::string, ChannelMoments> merged = per_bn;
  for (const auto& [name, m] : o.per_bn) merged[name].merge(m);
  per_bn = std::move(merged);
  samples = total;
  provenance.merge(o.provenance);
}

void BnInputStats::save(const std::string& path) const { write_file_atomic(path, to_json()); }

std::string BnInputStats::to_json() const {
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["written_by"] = std::string("bnfold ") + BNFOLD_VERSION_STRING;
  j["model"] = model;
  j["bn_signature"] = bn_signature();
  j["sha256"] = content_digest(*this);
  j["samples"] = samples;
  const StatsProvenance& p = provenance;
  if (!p.model_sha256.empty()) j["model_sha256"] = p.model_sha256;
  if (!p.collected_from.empty()) j["collected_from"] = p.collected_from;
  if (!p.collected_until.empty()) j["collected_until"] = p.collected_until;
  if (!p.sources.empty()) j["sources"] = p.sources;
  nlohmann::json bns = nlohmann::json::array();
  for (const auto& name : order) {
    const ChannelMoments& m = per_bn.at(name);
    bns.push_back({{"bn", name}, {"count", m.count}, {"mean", m.mean}, {"m2", m.m2}});
  }
  j["batchnorms"] = bns;
  try {
    return j.dump() + "\n";
  } catch (const nlohmann::json::type_error&) {
    failf(ErrorCode::InvalidArgument, "a BN or model name is not valid UTF-8: it cannot go into a statistics file");
  }
}

BnInputStats BnInputStats::load(const std::string& path) {
  // Checked before anything is read: a folder or a device (/dev/zero) is no
  // statistics file, and reading one whole would not end (or fill memory).
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  BNFOLD_CHECK(!ec && std::filesystem::exists(st), ErrorCode::Io, "{}: no such file", path);
  BNFOLD_CHECK(!std::filesystem::is_directory(st), ErrorCode::InvalidArgument,
               "{}: a folder, not a statistics file (drift --save-stats writes one file)", path);
  BNFOLD_CHECK(std::filesystem::is_regular_file(st), ErrorCode::InvalidArgument,
               "{}: not a regular file (a device or a pipe), so not a statistics file", path);
  // A statistics file holds two numbers per channel of every BN: a few MB for
  // the largest models. 256 MB is far beyond any.
  constexpr uintmax_t kMostBytes = uintmax_t{256} << 20;
  const uintmax_t bytes = std::filesystem::file_size(path, ec);
  BNFOLD_CHECK(!ec && bytes <= kMostBytes, ErrorCode::InvalidArgument,
               "{}: {} bytes, more than any statistics file holds (256 MB at most)", path, bytes);
  std::ifstream in(path, std::ios::binary);
  BNFOLD_CHECK(in.good(), ErrorCode::Io, "{}: cannot open for reading", path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

namespace {
// An integer field; a float such as 1e300 is refused here, not converted
// (converting an out-of-range float to an integer is undefined behaviour).
int64_t integer_field(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = j.at(key);
  BNFOLD_CHECK(v.is_number_integer() && (!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)),
               ErrorCode::InvalidArgument, "'{}' must be an integer, not {}", key, v.dump());
  return v.get<int64_t>();
}
}  // namespace

BnInputStats BnInputStats::parse(const std::string& text, const std::string& what) {
  BnInputStats s;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    BNFOLD_CHECK(j.is_object() && j.contains("format") && j["format"].is_string(), ErrorCode::InvalidArgument,
                 "not a bnfold statistics file (no 'format')");
    const std::string format = j["format"].get<std::string>();
    BNFOLD_CHECK(format != "bnfold-bn-input-stats-1", ErrorCode::InvalidArgument,
                 "written by an earlier bnfold in format version 1, which has no checksum; this bnfold reads version "
                 "{}: collect the statistics again (drift --save-stats)",
                 kVersion);
    BNFOLD_CHECK(format == kFormat, ErrorCode::InvalidArgument, "not a bnfold statistics file (format '{}')", format);
    const int64_t version = integer_field(j, "version");
    BNFOLD_CHECK(version == kVersion, ErrorCode::InvalidArgument,
                 "format version {}{}; this bnfold reads version {}", version,
                 j.contains("written_by") && j["written_by"].is_string()
                     ? " (written by " + j["written_by"].get<std::string>() + ")"
                     : std::string(),
                 kVersion);
    s.model = j.at("model").get<std::string>();
    s.samples = integer_field(j, "samples");
    BNFOLD_CHECK(s.samples >= 0, ErrorCode::InvalidArgument, "samples is negative");
    StatsProvenance& p = s.provenance;
    if (j.contains("model_sha256")) p.model_sha256 = j["model_sha256"].get<std::string>();
    if (j.contains("collected_from")) p.collected_from = j["collected_from"].get<std::string>();
    if (j.contains("collected_until")) p.collected_until = j["collected_until"].get<std::string>();
    if (j.contains("sources")) p.sources = j["sources"].get<std::vector<std::string>>();
    for (const auto& b : j.at("batchnorms")) {
      ChannelMoments m;
      m.count = integer_field(b, "count");
      m.mean = b.at("mean").get<std::vector<double>>();
      m.m2 = b.at("m2").get<std::vector<double>>();
      const std::string name = b.at("bn").get<std::string>();
      BNFOLD_CHECK(m.count >= 0 && m.mean.size() == m.m2.size(), ErrorCode::InvalidArgument,
                   "BN '{}': count {} and {} means for {} m2 values do not make moments", name, m.count,
                   m.mean.size(), m.m2.size());
      for (size_t c = 0; c < m.mean.size(); ++c) {
        BNFOLD_CHECK(std::isfinite(m.mean[c]) && std::isfinite(m.m2[c]) && m.m2[c] >= 0, ErrorCode::InvalidArgument,
                     "BN '{}': channel {} has mean {} and m2 {}", name, c, m.mean[c], m.m2[c]);
        // One value (or none) has no spread: m2 must be 0 there.
        BNFOLD_CHECK(m.count > 1 || m.m2[c] == 0, ErrorCode::InvalidArgument,
                     "BN '{}': channel {} has m2 {} from {} values: moments of fewer than 2 values have m2 0", name,
                     c, m.m2[c], m.count);
      }
      BNFOLD_CHECK(!s.per_bn.count(name), ErrorCode::InvalidArgument, "BN '{}' is listed twice", name);
      s.order.push_back(name);
      s.per_bn[name] = std::move(m);
    }
    const std::string digest = j.at("sha256").get<std::string>();
    BNFOLD_CHECK(digest == content_digest(s), ErrorCode::InvalidArgument,
                 "the checksum does not match the contents: the file was edited or damaged after bnfold wrote it");
  } catch (const nlohmann::json::parse_error& e) {
    if (text.empty()) failf(ErrorCode::InvalidArgument, "{}: an empty file, not a bnfold statistics file", what);
    if (e.byte >= text.size())
      failf(ErrorCode::InvalidArgument, "{}: the JSON ends early: cut short after {} bytes?", what, text.size());
    failf(ErrorCode::InvalidArgument, "{}: not JSON (it stops making sense at byte {} of {})", what, e.byte,
          text.size());
  } catch (const nlohmann::json::exception& e) {
    failf(ErrorCode::InvalidArgument, "{}: not a bnfold statistics file: {}", what, json_message(e.what()));
  } catch (const Error& e) {
    failf(e.code(), "{}: {}", what, e.what());
  }
  return s;
}

BnInputStats stats_from_monitor(const MonitorSnapshot& m, const std::string& model) {
  BnInputStats s;
  static_cast<BnMoments&>(s) = m;
  s.model = model;
  s.provenance.collected_until = utc_now();  // the snapshot's time; when monitoring began the session does not say
  s.provenance.sources = {fmt::format("a monitoring session ({} of {} runs measured)", m.sampled_runs, m.runs)};
  return s;
}

BnStatsCollector::BnStatsCollector(std::shared_ptr<const Graph> graph, int threads) {
  SessionOptions so;
  so.threads = threads;
  session_ = std::make_unique<Session>(std::move(graph), so);
  BNFOLD_CHECK(session_->inputs().size() == 1, ErrorCode::Unsupported,
               "statistics over a data set need a model with one input; this one has {}", session_->inputs().size());
}

BnStatsCollector::~BnStatsCollector() = default;

void BnStatsCollector::add(const Tensor& batch) {
  BNFOLD_CHECK(batch.rank() > 0, ErrorCode::InvalidArgument, "a batch needs a batch dimension");
  BNFOLD_CHECK(batch.numel() > 0, ErrorCode::InvalidArgument, "a batch of {} has no values: nothing to measure",
               Shape::of(batch.dims()).str());
  if (stats_.provenance.collected_from.empty()) stats_.provenance.collected_from = utc_now();
  const BnStatsHook hook = [&](const BnStats& s) { stats_.add(s.bn, s.count, s.mean, s.var); };
  session_->run({{session_->inputs()[0].name, batch}}, hook);
  stats_.samples += batch.dims()[0];
}

BnInputStats BnStatsCollector::stats() const {
  BNFOLD_CHECK(stats_.samples > 0, ErrorCode::InvalidArgument, "no samples were given to collect statistics from");
  BNFOLD_CHECK(!stats_.order.empty(), ErrorCode::InvalidArgument,
               "the model has no BatchNormalization node in inference mode (nor a folded one recorded by fold) to "
               "collect statistics for");
  BnInputStats s = stats_;
  s.provenance.collected_until = utc_now();
  return s;
}

BnInputStats collect_bn_input_stats(std::shared_ptr<const Graph> graph, const Dataset& data, int64_t batch,
                                    int threads, const Progress& progress) {
  check_batch_size(batch);
  BnStatsCollector c(std::move(graph), threads);
  data.for_each_batch(batch, [&](int64_t start, Tensor samples) {
    const int64_t n = samples.dims()[0];
    c.add(samples);
    if (progress) progress(start + n, data.size());
  });
  return c.stats();
}

}  // namespace bnfold
