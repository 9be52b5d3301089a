// equalize: cross-layer equalization (Nagel et al. 2019, data-free
// quantization). For two layers with a ReLU (or nothing) between them, output
// channel c of the first can be divided by s_c and input channel c of the
// second multiplied by it without changing the function, because ReLU(x / s)
// = ReLU(x) / s for s > 0. With s_c = sqrt(r1_c / r2_c), r1_c the range of
// the first layer's channel c and r2_c that of the second layer's input
// channel c, both ranges become sqrt(r1_c r2_c): a folded depthwise layer
// whose channel ranges span orders of magnitude (which per-tensor int8 rounds
// to zero) is evened out. Not in the default pipeline: it is for models that
// will be quantized (`bnfold fold --equalize`), and it leaves float32 results
// equal up to rounding only.
#include <algorithm>
#include <cmath>

#include "bnfold/passes/equalize.hpp"

#include "bnfold/graph/folded_bns.hpp"
#include "passes/passes.hpp"

namespace bnfold {

namespace {

// A layer whose channel c (output, or input for the second of a pair) is a
// strided set of its constant weights: weight i belongs to channel (i / inner) % count.
struct ChannelView {
  Value* weights = nullptr;
  int64_t count = 0, inner = 1;
};

bool plain_constant(const Value* v) {
  return v && v->is_constant() && v->uses().size() == 1 && v->data().dtype() == DType::Float32;
}

int64_t group_of(const Node& n) { return n.has_attr("group") ? n.attr_int("group") : 1; }

// The output channels of a Conv (any group) or a Gemm.
bool output_channels(const Node& n, ChannelView* v) {
  if (n.inputs().size() < 2 || !plain_constant(n.input(1))) return false;
  const auto& d = n.input(1)->data().dims();
  if (n.op_type() == "Conv" && d.size() >= 3) {
    *v = {n.input(1), d[0], n.input(1)->data().numel() / d[0]};
    return true;
  }
  if (n.op_type() == "Gemm" && d.size() == 2 && (!n.has_attr("transA") || n.attr_int("transA") == 0)) {
    const bool trans = n.has_attr("transB") && n.attr_int("transB") != 0;  // [N, K] or [K, N]
    *v = trans ? ChannelView{n.input(1), d[0], d[1]} : ChannelView{n.input(1), d[1], 1};
    return true;
  }
  return false;
}

// The input channels of a Conv (dense or depthwise) or a Gemm.
bool input_channels(const Node& n, ChannelView* v) {
  if (n.inputs().size() < 2 || !plain_constant(n.input(1))) return false;
  const auto& d = n.input(1)->data().dims();
  const int64_t numel = n.input(1)->data().numel();
  if (n.op_type() == "Conv" && d.size() >= 3) {
    const int64_t g = group_of(n);
    if (g == 1) *v = {n.input(1), d[1], numel / (d[0] * d[1])};
    else if (g == d[0] && d[1] == 1) *v = {n.input(1), d[0], numel / d[0]};  // depthwise: input c is output c
    else return false;
    return true;
  }
  if (n.op_type() == "Gemm" && d.size() == 2 && (!n.has_attr("transA") || n.attr_int("transA") == 0)) {
    const bool trans = n.has_attr("transB") && n.attr_int("transB") != 0;
    *v = trans ? ChannelView{n.input(1), d[1], 1} : ChannelView{n.input(1), d[0], d[1]};
    return true;
  }
  return false;
}

std::vector<double> ranges(const ChannelView& v) {
  std::vector<double> r(static_cast<size_t>(v.count), 0);
  const float* p = v.weights->data().data_as<float>();
  for (int64_t i = 0; i < v.weights->data().numel(); ++i) {
    auto& x = r[static_cast<size_t>((i / v.inner) % v.count)];
    x = std::max(x, static_cast<double>(std::fabs(p[i])));
  }
  return r;
}

// Multiplies channel c of v's weights by f[c].
void scale(Graph& g, const ChannelView& v, const std::vector<double>& f) {
  Tensor t = v.weights->data().clone();
  float* p = t.mutable_data_as<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(p[i] * f[static_cast<size_t>((i / v.inner) % v.count)]);
  g.set_constant_data(v.weights, std::move(t));
}

class Equalize : public Pass {
 public:
  const char* name() const override { return "equalize"; }

  bool run(Graph& g) override {
    std::vector<FoldedBn> records = folded_bns(g);
    bool changed = false;
    // Pairs share layers along a chain (conv1 -> conv2 -> conv3): sweep until
    // the scales settle (measured: the largest step shrinks about 4x a sweep).
    for (int sweep = 0; sweep < 64; ++sweep) {
      double largest_step = 0;
      for (Node* n : g.topological_order()) largest_step = std::max(largest_step, equalize_pair(g, *n, records));
      if (largest_step > 0) changed = true;
      if (largest_step < kSettled) break;
    }
    if (changed) set_folded_bns(g, records);
    return changed;
  }

 private:
  static constexpr double kSettled = 1e-3;  // |log s| below this everywhere: balanced

  // Equalizes first with the layer after it; returns max |log s_c| (0: nothing done).
  static double equalize_pair(Graph& g, Node& first, std::vector<FoldedBn>& records) {
    std::vector<double> s;
    const Node* next = equalization_pair(first, &s);
    if (!next) return 0;
    const Value* y = first.output(0);
    const Value* fed = next->input(0);
    // A BN folded forward into `next` is measured on the values between: their scale would change.
    for (const FoldedBn& f : records)
      if (!f.output && (f.value == y->name() || f.value == fed->name())) return 0;
    double step = 0;
    for (double v : s) step = std::max(step, std::fabs(std::log(v)));
    if (step < kSettled) return 0;
    ChannelView out, in;
    output_channels(first, &out);
    input_channels(*next, &in);
    std::vector<double> inv(s.size());
    for (size_t c = 0; c < s.size(); ++c) inv[c] = 1 / s[c];
    scale(g, out, inv);
    if (first.inputs().size() > 2 && first.input(2)) scale(g, {first.input(2), out.count, 1}, inv);
    scale(g, in, s);
    // A BN folded into `first` is measured on its output, now divided by s: its record says so.
    for (FoldedBn& f : records)
      if (f.output && f.value == y->name() && f.channels() == out.count)
        for (size_t c = 0; c < s.size(); ++c) {
          f.gamma[c] = static_cast<float>(f.gamma[c] / s[c]);
          f.beta[c] = static_cast<float>(f.beta[c] / s[c]);
        }
    return step;
  }
};

}  // namespace

const Node* equalization_pair(const Node& first, std::vector<double>* scales) {
  ChannelView out, in;
  if (!output_channels(first, &out)) return nullptr;
  const Value* y = first.output(0);
  if (!y || y->is_graph_output() || y->uses().size() != 1) return nullptr;
  const Node* next = y->uses()[0].node;
  const Value* fed = y;
  if (next->op_type() == "Relu" || next->op_type() == "LeakyRelu") {
    fed = next->output(0);
    if (!fed || fed->is_graph_output() || fed->uses().size() != 1) return nullptr;
    next = fed->uses()[0].node;
  }
  if (next->inputs().empty() || next->input(0) != fed || next->outputs().empty()) return nullptr;
  if (!input_channels(*next, &in) || in.count != out.count) return nullptr;
  const Value* bias = first.inputs().size() > 2 ? first.input(2) : nullptr;
  if (bias && (!plain_constant(bias) || bias->data().numel() != out.count)) return nullptr;
  if (scales) {
    const std::vector<double> r1 = ranges(out), r2 = ranges(in);
    scales->assign(r1.size(), 1.0);
    for (size_t c = 0; c < r1.size(); ++c)
      if (r1[c] > 0 && r2[c] > 0) (*scales)[c] = std::sqrt(r1[c] / r2[c]);
  }
  return next;
}

std::unique_ptr<Pass> make_equalize() { return std::make_unique<Equalize>(); }

}  // namespace bnfold
