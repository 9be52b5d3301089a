// TfIdfVectorizer on integer token ids, reference kernel: counts the pool's
// n-grams in each row (skipping up to max_skip_count tokens between the
// items of an n-gram) and weighs the counts (TF, IDF or TFIDF). String tokens
// are refused: bnfold's tensors hold numbers.
#include <algorithm>
#include <map>
#include <set>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

class TfIdfVectorizer : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    const auto& x = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(0) == DType::Int32 || ctx.dtype(0) == DType::Int64,
                      "token ids must be int32 or int64, not {} (string tokens are not supported)",
                      dtype_name(ctx.dtype(0)));
    BNFOLD_NODE_CHECK(ctx, x.size() == 1 || x.size() == 2, "the input must be [C] or [N, C], not rank {}", x.size());
    BNFOLD_NODE_CHECK(ctx, n.has_attr("pool_int64s"), "pool_int64s is required (pool_strings is not supported)");
    const std::string mode = n.attr_string("mode");
    BNFOLD_NODE_CHECK(ctx, mode == "TF" || mode == "IDF" || mode == "TFIDF", "mode '{}' (TF, IDF or TFIDF)", mode);
    mode_ = mode;
    min_ = n.attr_int("min_gram_length"), max_ = n.attr_int("max_gram_length");
    skips_ = n.attr_int("max_skip_count");
    BNFOLD_NODE_CHECK(ctx, 1 <= min_ && min_ <= max_ && skips_ >= 0, "gram lengths {} to {}, max_skip_count {}", min_,
                      max_, skips_);
    const auto pool = n.attr_ints("pool_int64s");
    const auto starts = n.attr_ints("ngram_counts");
    indexes_ = n.attr_ints("ngram_indexes");
    weights_ = n.has_attr("weights") ? n.attr_floats("weights") : std::vector<float>{};
    grams_.clear(), prefixes_.clear();
    int64_t k = 0;
    for (size_t i = 0; i < starts.size(); ++i) {  // starts[i]: where the (i+1)-grams begin in the pool
      const auto len = static_cast<int64_t>(i + 1);
      const int64_t end = i + 1 < starts.size() ? starts[i + 1] : static_cast<int64_t>(pool.size());
      BNFOLD_NODE_CHECK(ctx, 0 <= starts[i] && starts[i] <= end && end <= static_cast<int64_t>(pool.size()) &&
                                 (end - starts[i]) % len == 0,
                        "ngram_counts {} do not split a pool of {}", Shape::of(starts).str(), pool.size());
      for (int64_t p = starts[i]; p < end; p += len, ++k) {
        std::vector<int64_t> g(pool.begin() + p, pool.begin() + p + len);
        grams_[g] = k;
        for (size_t m = 1; m <= g.size(); ++m) prefixes_.insert(std::vector<int64_t>(g.begin(), g.begin() + static_cast<long>(m)));
      }
    }
    BNFOLD_NODE_CHECK(ctx, static_cast<int64_t>(indexes_.size()) == k, "{} ngram_indexes for {} n-grams", indexes_.size(), k);
    BNFOLD_NODE_CHECK(ctx, weights_.empty() || static_cast<int64_t>(weights_.size()) == k, "{} weights for {} n-grams",
                      weights_.size(), k);
    width_ = indexes_.empty() ? 0 : *std::max_element(indexes_.begin(), indexes_.end()) + 1;
    for (int64_t i : indexes_) BNFOLD_NODE_CHECK(ctx, i >= 0, "ngram_indexes holds {}", i);
    ctx.set_output(0, DType::Float32, x.size() == 1 ? std::vector<int64_t>{width_} : std::vector<int64_t>{x[0], width_});
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& d = in[0]->dims();
    const int64_t rows = d.size() == 2 ? d[0] : 1, cols = d.back();
    float* y = out[0]->mutable_data_as<float>();
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<int64_t> count(indexes_.size(), 0);
      auto tok = [&](int64_t i) { return int_at(*in[0], r * cols + i); };
      int64_t start = min_;
      // As ONNX Runtime: n-grams of items skip_distance apart; unigrams only once, at distance 1.
      for (int64_t dist = 1; dist <= skips_ + 1; ++dist) {
        for (int64_t i = 0; i < cols && i + dist * (start - 1) < cols; ++i) {
          std::vector<int64_t> g;
          for (int64_t len = 1; len <= max_ && i + (len - 1) * dist < cols; ++len) {
            g.push_back(tok(i + (len - 1) * dist));
            if (!prefixes_.count(g)) break;
            auto hit = grams_.find(g);
            if (len >= start && hit != grams_.end()) ++count[static_cast<size_t>(hit->second)];
          }
        }
        if (start == 1 && ++start > max_) break;
      }
      std::fill_n(y + r * width_, width_, 0.0f);
      for (size_t k = 0; k < count.size(); ++k) {
        if (count[k] == 0) continue;
        const float w = weights_.empty() ? 1.0f : weights_[k];
        const float v = mode_ == "TF" ? static_cast<float>(count[k]) : mode_ == "IDF" ? w : static_cast<float>(count[k]) * w;
        y[r * width_ + indexes_[k]] = v;
      }
    }
  }

 private:
  std::string mode_;
  int64_t min_ = 1, max_ = 1, skips_ = 0, width_ = 0;
  std::vector<int64_t> indexes_;
  std::vector<float> weights_;
  std::map<std::vector<int64_t>, int64_t> grams_;
  std::set<std::vector<int64_t>> prefixes_;
};

}  // namespace

std::unique_ptr<OpKernel> make_tfidf_vectorizer(const Node&, int) { return std::make_unique<TfIdfVectorizer>(); }

}  // namespace bnfold::ops
