// Where statistics came from travels with them: the model's SHA-256, when the
// data was collected and what it was, in statistics files (checksummed, old
// files without it still load), through merges, and into drift reports.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "bnfold/analysis/drift_workflow.hpp"
#include "bnfold/analysis/report_json.hpp"
#include "bnfold/graph/sha256.hpp"
#include "tests/onnx_builder.hpp"

using namespace bnfold;
using Catch::Matchers::Contains;

namespace {

const std::string kTiny = std::string(BNFOLD_MODELS_DIR) + "/tiny_resnet.onnx";

Dataset ones(int64_t n, float v) {
  Tensor t(DType::Float32, {n, 3, 32, 32});
  for (int64_t i = 0; i < t.numel(); ++i) t.mutable_data_as<float>()[i] = v * static_cast<float>(i % 7);
  return Dataset::from_tensor(t);
}

}  // namespace

TEST_CASE("drift statistics and reports carry the model's hash, the collection times and the data's source",
          "[stats][provenance]") {
  const AnalysisModel model = AnalysisModel::load(kTiny);
  CHECK(model.sha256() == sha256_file(kTiny));
  const Dataset a = ones(8, 0.1f), b = ones(8, 0.2f);
  DriftRequest q;
  q.data = &a;
  q.data_source = "site-a/";
  q.options.min_samples = 1;
  const DriftResult first = drift_model(model, q);
  const StatsProvenance& p = first.stats.provenance;
  CHECK(p.model_sha256 == model.sha256());
  CHECK(p.sources == std::vector<std::string>{"site-a/"});
  REQUIRE(p.collected_from.size() == 20);  // 2026-12-06T06:18:52Z
  CHECK(p.collected_from <= p.collected_until);
  CHECK(first.report.model == kTiny);
  CHECK(first.report.model_sha256 == model.sha256());
  CHECK(first.report.time >= p.collected_until);
  CHECK(first.report.data.sources == p.sources);

  // A file keeps it, under the checksum: an edited source is refused.
  const std::string text = first.stats.to_json();
  const BnInputStats back = BnInputStats::parse(text, "s.json");
  CHECK(back.provenance.sources == p.sources);
  CHECK(back.provenance.collected_from == p.collected_from);
  std::string edited = text;
  edited.replace(edited.find("site-a/"), 7, "site-b/");
  CHECK_THROWS_WITH(BnInputStats::parse(edited, "s.json"), Contains("the checksum does not match"));

  // A file written before provenance existed (none of its keys) still loads.
  nlohmann::json old = nlohmann::json::parse(text);
  for (const char* key : {"model_sha256", "collected_from", "collected_until", "sources"}) old.erase(key);
  BnInputStats bare = first.stats;
  bare.provenance = {};
  old["sha256"] = nlohmann::json::parse(bare.to_json())["sha256"];
  CHECK(BnInputStats::parse(old.dump(), "old.json").provenance.empty());

  // Merged with a second site and given a baseline: the union of sources, the
  // earliest and latest times, both in the report and its JSON.
  BnInputStats later = first.stats;
  later.provenance.sources = {"site-b/"};
  later.provenance.collected_from = "2030-01-01T00:00:00Z";
  later.provenance.collected_until = "2030-01-02T00:00:00Z";
  later.provenance.model_sha256 = "another";
  DriftRequest merged;
  merged.statistics = {first.stats, later};
  merged.data = &b;
  merged.options.baseline = &first.stats;
  merged.options.min_samples = 1;
  const DriftResult r = drift_model(model, merged);
  CHECK(r.stats.provenance.sources.size() == 3);  // site-a/, site-b/, and b's description
  CHECK(r.stats.provenance.collected_from == p.collected_from);
  CHECK(r.stats.provenance.collected_until == "2030-01-02T00:00:00Z");
  CHECK(r.stats.provenance.model_sha256 == "mixed");
  const nlohmann::json j = nlohmann::json::parse(drift_json(r.report));
  CHECK(j["model_sha256"] == model.sha256());
  CHECK(j["data"]["sources"].size() == 3);
  CHECK(j["baseline"]["sources"][0] == "site-a/");
  CHECK(j["time"].get<std::string>().size() == 20);
}
