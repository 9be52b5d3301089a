#include "bnfold/graph/folded_bns.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "graph/check.hpp"

namespace bnfold {

const std::string* metadata_value(const Graph& g, const std::string& key) {
  for (const auto& [k, v] : g.info.metadata)
    if (k == key) return &v;
  return nullptr;
}

void set_metadata(Graph& g, const std::string& key, const std::string& value) {
  for (auto& [k, v] : g.info.metadata)
    if (k == key) {
      v = value;
      return;
    }
  g.info.metadata.emplace_back(key, value);
}

void set_folded_bns(Graph& g, const std::vector<FoldedBn>& bns) {
  auto& md = g.info.metadata;
  md.erase(std::remove_if(md.begin(), md.end(), [](const auto& kv) { return kv.first == kFoldedBnsKey; }),
           md.end());
  if (bns.empty()) return;
  nlohmann::json list = nlohmann::json::array();
  for (const FoldedBn& b : bns)
    list.push_back({{"bn", b.bn},
                    {"value", b.value},
                    {"measures", b.output ? "output" : "input"},
                    {"epsilon", b.epsilon},
                    {"gamma", b.gamma},
                    {"beta", b.beta},
                    {"mean", b.mean},
                    {"var", b.var}});
  // Names that are not UTF-8 (ONNX says strings are; a damaged file's may not be) are
  // written with U+FFFD: such a record matches no value and is skipped, not an error.
  md.emplace_back(kFoldedBnsKey, nlohmann::json{{"version", 1}, {"batchnorms", list}}.dump(
                                     -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::vector<FoldedBn> folded_bns(const Graph& g) {
  const std::string* text = metadata_value(g, kFoldedBnsKey);
  std::vector<FoldedBn> out;
  if (!text) return out;
  try {
    const nlohmann::json j = nlohmann::json::parse(*text);
    BNFOLD_CHECK(j.is_object() && j.value("version", 0) == 1, ErrorCode::InvalidArgument,
                 "unknown version (this bnfold reads version 1)");
    for (const auto& b : j.at("batchnorms")) {
      FoldedBn f;
      f.bn = b.at("bn").get<std::string>();
      f.value = b.at("value").get<std::string>();
      const std::string measures = b.at("measures").get<std::string>();
      BNFOLD_CHECK(measures == "input" || measures == "output", ErrorCode::InvalidArgument,
                   "BN '{}': 'measures' is '{}', not input or output", f.bn, measures);
      f.output = measures == "output";
      f.epsilon = b.at("epsilon").get<double>();
      f.gamma = b.at("gamma").get<std::vector<float>>();
      f.beta = b.at("beta").get<std::vector<float>>();
      f.mean = b.at("mean").get<std::vector<float>>();
      f.var = b.at("var").get<std::vector<float>>();
      const size_t c = f.mean.size();
      BNFOLD_CHECK(c > 0 && f.gamma.size() == c && f.beta.size() == c && f.var.size() == c,
                   ErrorCode::InvalidArgument, "BN '{}': gamma, beta, mean and var differ in length", f.bn);
      BNFOLD_CHECK(std::isfinite(f.epsilon) && f.epsilon >= 0, ErrorCode::InvalidArgument, "BN '{}': epsilon {}",
                   f.bn, f.epsilon);
      for (size_t k = 0; k < c; ++k)
        BNFOLD_CHECK(std::isfinite(f.gamma[k]) && std::isfinite(f.beta[k]) && std::isfinite(f.mean[k]) &&
                         std::isfinite(f.var[k]) && f.var[k] + f.epsilon > 0 && (!f.output || f.gamma[k] != 0),
                     ErrorCode::InvalidArgument, "BN '{}': channel {} cannot be mapped back", f.bn, k);
      out.push_back(std::move(f));
    }
  } catch (const nlohmann::json::exception& e) {
    failf(ErrorCode::InvalidArgument, "metadata '{}' is malformed: {}", kFoldedBnsKey, json_message(e.what()));
  } catch (const Error& e) {
    failf(e.code(), "metadata '{}': {}", kFoldedBnsKey, e.what());
  }
  return out;
}

}  // namespace bnfold
