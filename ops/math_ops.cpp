// Math ops, reference kernels (in double): Shrink, Det,
// MeanVarianceNormalization and Einsum.
#include <algorithm>
#include <cmath>
#include <map>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

class Shrink : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(0) != DType::Bool && ctx.dtype(0) != DType::String, "Shrink of {} data",
                      dtype_name(ctx.dtype(0)));
    bias_ = ctx.node().attr_float("bias");
    lambd_ = ctx.node().attr_float("lambd");
    ctx.set_output(0, ctx.dtype(0), ctx.dims(0));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    Tensor y(DType::Float64, in[0]->dims());
    for (int64_t i = 0; i < y.numel(); ++i) {
      const double x = in[0]->value_at(i);
      y.mutable_data_as<double>()[i] = x < -lambd_ ? x + bias_ : x > lambd_ ? x - bias_ : 0.0;
    }
    cast_into(y, out[0]);
  }

 private:
  double bias_ = 0, lambd_ = 0.5;
};

// Det of [..., M, M]: LU with partial pivoting.
class Det : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)), "Det of {} data", dtype_name(ctx.dtype(0)));
    BNFOLD_NODE_CHECK(ctx, d.size() >= 2 && d[d.size() - 1] == d[d.size() - 2], "Det needs [..., M, M], not rank {}",
                      d.size());
    ctx.set_output(0, ctx.dtype(0), std::vector<int64_t>(d.begin(), d.end() - 2));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& d = in[0]->dims();
    const int64_t m = d.back();
    const Tensor x = to_float64(*in[0]);
    Tensor y(DType::Float64, out[0]->dims());
    std::vector<double> a(static_cast<size_t>(m * m));
    for (int64_t b = 0; b < y.numel(); ++b) {
      std::copy_n(x.data_as<double>() + b * m * m, m * m, a.begin());
      double det = 1;
      for (int64_t c = 0; c < m && det != 0; ++c) {
        int64_t p = c;
        for (int64_t r = c + 1; r < m; ++r)
          if (std::fabs(a[static_cast<size_t>(r * m + c)]) > std::fabs(a[static_cast<size_t>(p * m + c)])) p = r;
        if (a[static_cast<size_t>(p * m + c)] == 0) {
          det = 0;
          break;
        }
        if (p != c) {
          for (int64_t k = 0; k < m; ++k) std::swap(a[static_cast<size_t>(p * m + k)], a[static_cast<size_t>(c * m + k)]);
          det = -det;
        }
        const double pivot = a[static_cast<size_t>(c * m + c)];
        det *= pivot;
        for (int64_t r = c + 1; r < m; ++r) {
          const double f = a[static_cast<size_t>(r * m + c)] / pivot;
          for (int64_t k = c; k < m; ++k) a[static_cast<size_t>(r * m + k)] -= f * a[static_cast<size_t>(c * m + k)];
        }
      }
      y.mutable_data_as<double>()[b] = det;
    }
    cast_into(y, out[0]);
  }
};

// (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes`, as the op's function body.
class MeanVarianceNormalization : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)), "MeanVarianceNormalization of {} data",
                      dtype_name(ctx.dtype(0)));
    reduced_.assign(d.size(), false);
    for (int64_t a : ctx.node().attr_ints("axes")) reduced_[static_cast<size_t>(normalize_axis(ctx, a, d.size()))] = true;
    ctx.set_output(0, ctx.dtype(0), d);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& d = in[0]->dims();
    std::vector<int64_t> kept(d.size());
    for (size_t k = 0; k < d.size(); ++k) kept[k] = reduced_[k] ? 1 : d[k];
    const auto ks = strides_of(kept);
    std::vector<int64_t> slot(static_cast<size_t>(in[0]->numel()));
    std::vector<int64_t> idx(d.size(), 0);
    for (auto& s : slot) {
      s = 0;
      for (size_t k = 0; k < d.size(); ++k) s += reduced_[k] ? 0 : idx[k] * ks[k];
      for (size_t k = d.size(); k-- > 0;) {
        if (++idx[k] < d[k]) break;
        idx[k] = 0;
      }
    }
    const int64_t groups = product(kept);
    std::vector<double> sum(static_cast<size_t>(groups)), sq(sum.size()), n(sum.size());
    for (size_t i = 0; i < slot.size(); ++i) {
      const double v = in[0]->value_at(static_cast<int64_t>(i));
      const auto g = static_cast<size_t>(slot[i]);
      sum[g] += v, sq[g] += v * v, n[g] += 1;
    }
    Tensor y(DType::Float64, d);
    for (size_t i = 0; i < slot.size(); ++i) {
      const auto g = static_cast<size_t>(slot[i]);
      const double mean = sum[g] / n[g], var = sq[g] / n[g] - mean * mean;
      y.mutable_data_as<double>()[i] = (in[0]->value_at(static_cast<int64_t>(i)) - mean) / (std::sqrt(var) + 1e-9);
    }
    cast_into(y, out[0]);
  }

 private:
  std::vector<bool> reduced_;
};

// Einsum: every label (a letter, or one of the dims an ellipsis stands for)
// gets a size; the kernel walks every combination of the labels, output labels
// first, and adds the product of the operands' elements into the output.
class Einsum : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    std::string eq;
    for (char c : ctx.node().attr_string("equation"))
      if (c != ' ') eq += c;
    const size_t arrow = eq.find("->");
    const std::string lhs = eq.substr(0, arrow);
    std::vector<std::string> terms(1);
    for (char c : lhs) {
      if (c == ',') terms.emplace_back();
      else terms.back().push_back(c);
    }
    const size_t n = ctx.num_inputs();
    BNFOLD_NODE_CHECK(ctx, terms.size() == n, "the equation '{}' names {} operands, the node has {}", eq,
                      terms.size(), n);
    // Labels: letters as themselves, ellipsis dims as 0..E-1 (E: the widest ellipsis).
    size_t widest = 0;
    std::vector<std::vector<int>> in_labels(n);
    for (size_t i = 0; i < n; ++i) {
      BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(i)) || ctx.dtype(i) == DType::Int32 ||
                                 ctx.dtype(i) == DType::Int64,
                        "Einsum of {} data", dtype_name(ctx.dtype(i)));
      const size_t letters = terms[i].size() - (terms[i].find("...") != std::string::npos ? 3 : 0);
      BNFOLD_NODE_CHECK(ctx, letters <= ctx.dims(i).size(), "operand {} has rank {}, the term '{}' more", i,
                        ctx.dims(i).size(), terms[i]);
      widest = std::max(widest, ctx.dims(i).size() - letters);
    }
    std::map<int, int64_t> size;
    for (size_t i = 0; i < n; ++i) {
      const auto& d = ctx.dims(i);
      const size_t ell = d.size() - (terms[i].size() - (terms[i].find("...") != std::string::npos ? 3 : 0));
      for (size_t p = 0; p < terms[i].size(); ++p) {
        if (terms[i].compare(p, 3, "...") == 0) {
          for (size_t e = 0; e < ell; ++e) in_labels[i].push_back(static_cast<int>(widest - ell + e));
          p += 2;
          continue;
        }
        BNFOLD_NODE_CHECK(ctx, std::isalpha(static_cast<unsigned char>(terms[i][p])), "'{}' in the equation '{}'",
                          terms[i][p], eq);
        in_labels[i].push_back(terms[i][p]);
      }
      BNFOLD_NODE_CHECK(ctx, in_labels[i].size() == d.size(), "the term '{}' names {} axes, operand {} has {}",
                        terms[i], in_labels[i].size(), i, d.size());
      for (size_t a = 0; a < d.size(); ++a) {
        auto [it, fresh] = size.emplace(in_labels[i][a], d[a]);
        const bool ellipsis = in_labels[i][a] < static_cast<int>(widest);
        if (!fresh && it->second != d[a]) {
          BNFOLD_NODE_CHECK(ctx, ellipsis && (it->second == 1 || d[a] == 1), "label of size {} and {} in '{}'",
                            it->second, d[a], eq);
          it->second = std::max(it->second, d[a]);
        }
      }
    }
    out_labels_.clear();
    if (arrow != std::string::npos) {
      const std::string rhs = eq.substr(arrow + 2);
      for (size_t p = 0; p < rhs.size(); ++p) {
        if (rhs.compare(p, 3, "...") == 0) {
          for (size_t e = 0; e < widest; ++e) out_labels_.push_back(static_cast<int>(e));
          p += 2;
        } else {
          BNFOLD_NODE_CHECK(ctx, size.count(rhs[p]), "output label '{}' is in no operand of '{}'", rhs[p], eq);
          BNFOLD_NODE_CHECK(ctx, std::find(out_labels_.begin(), out_labels_.end(), rhs[p]) == out_labels_.end(),
                            "output label '{}' repeats in '{}'", rhs[p], eq);
          out_labels_.push_back(rhs[p]);
        }
      }
    } else {  // implicit: the ellipsis dims, then the letters seen once, alphabetically
      std::map<int, int> seen;
      for (const auto& l : in_labels)
        for (int c : l) ++seen[c];
      for (size_t e = 0; e < widest; ++e) out_labels_.push_back(static_cast<int>(e));
      for (auto [c, k] : seen)
        if (c >= static_cast<int>(widest) && k == 1) out_labels_.push_back(c);
    }
    labels_ = out_labels_;
    for (auto [c, s] : size)
      if (std::find(labels_.begin(), labels_.end(), c) == labels_.end()) labels_.push_back(c);
    sizes_.clear();
    for (int c : labels_) sizes_.push_back(size[c]);
    in_labels_ = in_labels;
    std::vector<int64_t> out_dims(sizes_.begin(), sizes_.begin() + static_cast<long>(out_labels_.size()));
    ctx.set_output(0, ctx.dtype(0), out_dims);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    // Per operand, per label: the stride it moves by (0 where broadcast or absent).
    std::vector<std::vector<int64_t>> stride(in.size(), std::vector<int64_t>(labels_.size(), 0));
    for (size_t i = 0; i < in.size(); ++i) {
      const auto s = strides_of(in[i]->dims());
      for (size_t a = 0; a < in_labels_[i].size(); ++a) {
        const size_t l = static_cast<size_t>(std::find(labels_.begin(), labels_.end(), in_labels_[i][a]) - labels_.begin());
        if (in[i]->dims()[a] != 1 || sizes_[l] == 1) stride[i][l] += s[a];
      }
    }
    Tensor y(DType::Float64, out[0]->dims());
    double* py = y.mutable_data_as<double>();
    std::fill_n(py, y.numel(), 0.0);
    const int64_t total = product(sizes_);
    const int64_t summed = product(sizes_, out_labels_.size());
    std::vector<int64_t> idx(labels_.size(), 0), off(in.size(), 0);
    for (int64_t k = 0; k < total; ++k) {
      double p = 1;
      for (size_t i = 0; i < in.size(); ++i) p *= in[i]->value_at(off[i]);
      py[k / std::max<int64_t>(summed, 1)] += p;
      for (size_t l = labels_.size(); l-- > 0;) {
        for (size_t i = 0; i < in.size(); ++i) off[i] += stride[i][l];
        if (++idx[l] < sizes_[l]) break;
        for (size_t i = 0; i < in.size(); ++i) off[i] -= stride[i][l] * idx[l];
        idx[l] = 0;
      }
    }
    cast_into(y, out[0]);
  }

 private:
  std::vector<int> out_labels_, labels_;
  std::vector<std::vector<int>> in_labels_;
  std::vector<int64_t> sizes_;
};

}  // namespace

std::unique_ptr<OpKernel> make_shrink(const Node&, int) { return std::make_unique<Shrink>(); }
std::unique_ptr<OpKernel> make_det(const Node&, int) { return std::make_unique<Det>(); }
std::unique_ptr<OpKernel> make_mvn(const Node&, int) { return std::make_unique<MeanVarianceNormalization>(); }
std::unique_ptr<OpKernel> make_einsum(const Node&, int) { return std::make_unique<Einsum>(); }

}  // namespace bnfold::ops
