#include "analysis/verify_inputs.hpp"

#include <fmt/format.h>

#include <cmath>

#include "bnfold/graph/batchnorm.hpp"
#include "graph/check.hpp"
#include "bnfold/runtime/tensor_tools.hpp"

namespace bnfold {

namespace {

// Least squares min |A x - y| over x (columns `active` only, others 0) by the
// normal equations; false when they are singular.
bool least_squares(const std::vector<std::vector<double>>& A, const std::vector<double>& y,
                   const std::vector<bool>& active, std::vector<double>* x) {
  const size_t n = active.size();
  std::vector<size_t> cols;
  for (size_t c = 0; c < n; ++c)
    if (active[c]) cols.push_back(c);
  const size_t k = cols.size();
  std::vector<std::vector<double>> M(k, std::vector<double>(k + 1, 0.0));
  for (size_t r = 0; r < A.size(); ++r)
    for (size_t i = 0; i < k; ++i) {
      for (size_t j = 0; j < k; ++j) M[i][j] += A[r][cols[i]] * A[r][cols[j]];
      M[i][k] += A[r][cols[i]] * y[r];
    }
  for (size_t i = 0; i < k; ++i) {  // Gaussian elimination, partial pivoting
    size_t p = i;
    for (size_t r = i + 1; r < k; ++r)
      if (std::fabs(M[r][i]) > std::fabs(M[p][i])) p = r;
    if (std::fabs(M[p][i]) < 1e-300) return false;
    std::swap(M[i], M[p]);
    for (size_t r = 0; r < k; ++r) {
      if (r == i) continue;
      const double f = M[r][i] / M[i][i];
      for (size_t j = i; j <= k; ++j) M[r][j] -= f * M[i][j];
    }
  }
  x->assign(n, 0.0);
  for (size_t i = 0; i < k; ++i) (*x)[cols[i]] = M[i][k] / M[i][i];
  return true;
}

double residual(const std::vector<std::vector<double>>& A, const std::vector<double>& x, const std::vector<double>& y) {
  double r = 0, n = 0;
  for (size_t o = 0; o < A.size(); ++o) {
    double v = 0;
    for (size_t c = 0; c < x.size(); ++c) v += A[o][c] * x[c];
    r += (v - y[o]) * (v - y[o]);
    n += y[o] * y[o];
  }
  return n > 0 ? std::sqrt(r / n) : 0.0;
}

}  // namespace

InputEstimate estimate_input_statistics(const Graph& g, const std::string& input) {
  InputEstimate e;
  const Value* x = g.find_value(input);
  if (!x || x->uses().size() != 1) return e;
  const Node* conv = x->uses()[0].node;
  if (conv->op_type() != "Conv" || !conv->domain().empty() || x->uses()[0].input_index != 0) return e;
  const Value* w = conv->input(1);
  const Value* b = conv->input(2);
  if (!w || !w->is_constant() || (b && !b->is_constant()) || !conv->output(0)) return e;
  const Value* y = conv->output(0);
  if (y->uses().size() != 1 || y->is_graph_output()) return e;
  const Node* bn = y->uses()[0].node;
  const std::optional<BatchNorm> view = BatchNorm::of(*bn);
  if (!view || view->attrs().training || !view->constant_statistics()) return e;
  const Tensor& W = w->data();
  const auto& wd = W.dims();
  if (wd.size() < 3) return e;
  const int64_t M = wd[0], Cg = wd[1], K = W.numel() / (M * Cg);
  const int64_t group = conv->attr_int("group");
  const int64_t C = Cg * group;
  if (bn->input(3)->data().numel() != M || bn->input(4)->data().numel() != M || group <= 0 || M % group) return e;
  std::vector<std::vector<double>> S1(static_cast<size_t>(M), std::vector<double>(static_cast<size_t>(C), 0.0));
  std::vector<std::vector<double>> S2 = S1;
  for (int64_t o = 0; o < M; ++o)
    for (int64_t c = 0; c < Cg; ++c) {
      const int64_t in_c = o / (M / group) * Cg + c;
      for (int64_t k = 0; k < K; ++k) {
        const double v = W.value_at((o * Cg + c) * K + k);
        S1[static_cast<size_t>(o)][static_cast<size_t>(in_c)] += v;
        S2[static_cast<size_t>(o)][static_cast<size_t>(in_c)] += v * v;
      }
    }
  std::vector<double> mu(static_cast<size_t>(M)), var(static_cast<size_t>(M));
  for (int64_t o = 0; o < M; ++o) {
    mu[static_cast<size_t>(o)] = bn->input(3)->data().value_at(o) - (b ? b->data().value_at(o) : 0.0);
    var[static_cast<size_t>(o)] = bn->input(4)->data().value_at(o);
  }
  std::vector<bool> all(static_cast<size_t>(C), true);
  std::vector<double> m, v;
  if (!least_squares(S1, mu, all, &m) || !least_squares(S2, var, all, &v)) return e;
  // v >= 0: drop the most negative channel from the fit until none is left
  // (an active-set NNLS, enough for a handful of input channels).
  for (size_t round = 0; round < all.size(); ++round) {
    size_t worst = all.size();
    for (size_t c = 0; c < all.size(); ++c)
      if (all[c] && v[c] < 0 && (worst == all.size() || v[c] < v[worst])) worst = c;
    if (worst == all.size()) break;
    all[worst] = false;
    if (!least_squares(S2, var, all, &v)) return e;
  }
  double total = 0;
  for (double c : v) total += c;
  if (!(total > 0)) return e;
  e.found = true;
  e.mean = m;
  for (double c : v) e.std.push_back(std::sqrt(std::max(0.0, c)));
  e.fit_residual = residual(S2, v, var);
  e.how = fmt::format("BN '{}' through Conv '{}'", node_name(*bn), node_name(*conv));
  return e;
}

DataLikeInputs data_like_inputs(const Graph& g, const Session& session, const std::map<std::string, Tensor>& given,
                                int64_t batch, uint64_t seed, const std::vector<double>& mean,
                                const std::vector<double>& std) {
  DataLikeInputs r;
  r.inputs = given;
  if (r.inputs.size() >= session.inputs().size()) {
    r.description = "given";
    r.all_given = true;
    return r;
  }
  std::vector<std::string> parts;
  if (!given.empty()) {
    std::string names;
    for (const auto& [k, t] : given) names += (names.empty() ? "" : ", ") + k;
    parts.push_back("given: " + names);
  }
  for (auto& [name, t] : random_inputs(session, batch, seed)) {
    if (r.inputs.count(name)) continue;
    // A declared dim of 0 ([0,3,8,8]): no value to compare, and no sample to
    // scale per channel.
    BNFOLD_CHECK(t.numel() > 0, ErrorCode::InvalidArgument,
                 "input '{}' is declared {}: it holds no values, so there is nothing to verify with; give it "
                 "with -i NAME=FILE (inputs=)",
                 name, t.describe());
    const bool per_channel = (t.dtype() == DType::Float32 || t.dtype() == DType::Float64) && t.dims().size() >= 2;
    std::vector<double> m = mean, s = std;
    std::string how;
    if (per_channel && (!m.empty() || !s.empty())) {
      how = "--mean/--std";
    } else if (per_channel) {
      const InputEstimate e = estimate_input_statistics(g, name);
      if (e.found && e.fit_residual < 0.5) {
        m = e.mean;
        s = e.std;
        how = fmt::format("estimated from {}, variance fit residual {:.0f}%", e.how, 100 * e.fit_residual);
      }
    }
    if (how.empty()) {
      parts.push_back(fmt::format("{}: random N(0,1)", name));
      r.inputs.emplace(name, std::move(t));
      continue;
    }
    const int64_t C = t.dims()[1];
    auto at = [&](const std::vector<double>& v, int64_t c, double fallback) {
      return v.empty() ? fallback : v.size() == 1 ? v[0] : v[static_cast<size_t>(c)];
    };
    BNFOLD_CHECK((m.size() <= 1 || static_cast<int64_t>(m.size()) == C) &&
                     (s.size() <= 1 || static_cast<int64_t>(s.size()) == C),
                 ErrorCode::InvalidArgument, "input '{}' has {} channels: give 1 or {} values of --mean/--std", name,
                 C, C);
    const int64_t inner = t.numel() / (t.dims()[0] * C);
    Tensor scaled(t.dtype(), t.dims());
    for (int64_t i = 0; i < t.numel(); ++i) {
      const int64_t c = i / inner % C;
      const double v = at(m, c, 0.0) + at(s, c, 1.0) * t.value_at(i);
      if (t.dtype() == DType::Float64) scaled.mutable_data_as<double>()[i] = v;
      else scaled.mutable_data_as<float>()[i] = static_cast<float>(v);
    }
    std::string ms;
    for (int64_t c = 0; c < std::min<int64_t>(C, 4); ++c)
      ms += fmt::format("{}{:.3g}/{:.3g}", c ? ", " : "", at(m, c, 0.0), at(s, c, 1.0));
    if (C > 4) ms += ", ...";
    parts.push_back(fmt::format("{}: random per channel N(mean, std) = [{}] ({})", name, ms, how));
    r.inputs.emplace(name, std::move(scaled));
  }
  for (const auto& p : parts) r.description += (r.description.empty() ? "" : "; ") + p;
  return r;
}

}  // namespace bnfold
