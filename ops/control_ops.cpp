// Control flow: If runs the branch its condition picks, Loop and Scan run
// their body per iteration (ops/eager.cpp), when the plan is built if their
// inputs are known then. Where they are run-time values, constant() stops
// the plan before the node and the runtime calls infer() again with the
// run's values (ops/eager.hpp). The bodies' last inputs are the outer values
// they read, which are the node's last inputs (AttrKind::Graph).
#include <algorithm>
#include <cstring>
#include <limits>

#include "ops/eager.hpp"
#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

const Attribute& body_of(const InferContext& ctx, const char* name) {
  auto it = ctx.node().attrs().find(name);
  BNFOLD_NODE_CHECK(ctx, it != ctx.node().attrs().end() && it->second.kind == AttrKind::Graph && it->second.g,
                    "no {} graph", name);
  BNFOLD_NODE_CHECK(ctx, static_cast<size_t>(it->second.i) <= ctx.num_inputs() &&
                             static_cast<size_t>(it->second.i) <= it->second.g->inputs().size(),
                    "{} reads more outer values than the node gives", name);
  return it->second;
}

// The outer values a body reads: the node's inputs from `first` on (absent ones null).
std::vector<const Tensor*> outer_values(const InferContext& ctx, size_t first) {
  std::vector<const Tensor*> out;
  for (size_t i = first; i < ctx.num_inputs(); ++i)
    out.push_back(ctx.has_input(i) ? &ctx.constant(i, "a value the body reads") : nullptr);
  return out;
}

class If : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const Tensor& c = ctx.constant(0, "the condition, which picks the branch");
    BNFOLD_NODE_CHECK(ctx, c.numel() == 1, "the condition must hold one element, got {}", c.describe());
    const char* which = c.value_at(0) != 0 ? "then_branch" : "else_branch";
    const Attribute& a = body_of(ctx, which);
    const Graph& body = *a.g;
    const auto captured = static_cast<size_t>(a.i);
    BNFOLD_NODE_CHECK(ctx, body.inputs().size() == captured && ctx.num_inputs() == 1 + captured,
                      "{} declares inputs of its own; an If branch takes none", which);
    BNFOLD_NODE_CHECK(ctx, body.outputs().size() == ctx.num_outputs(), "{} has {} outputs, the node {}", which,
                      body.outputs().size(), ctx.num_outputs());
    const std::vector<const Tensor*> in = outer_values(ctx, 1);
    std::vector<Tensor> out = run_graph(body, in);
    for (size_t k = 0; k < out.size(); ++k)
      if (ctx.has_output(k)) ctx.set_output_value(k, std::move(out[k]));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {
    fail(ErrorCode::Internal, "If computes its outputs in infer()");
  }
};

// Copies slice t of x along axis (len = dims[axis]) into out (x's dims without axis), or back.
void slice_copy(const Tensor& x, size_t axis, int64_t t, Tensor* out) {
  const auto& d = x.dims();
  const int64_t outer = product(d, 0, axis), len = d[axis];
  const int64_t inner = product(d, axis + 1) * static_cast<int64_t>(dtype_size(x.dtype()));
  if (inner == 0) return;  // empty slices: no bytes (and maybe no buffer) to copy
  for (int64_t o = 0; o < outer; ++o) std::memcpy(bytes(out) + o * inner, bytes(x) + (o * len + t) * inner, static_cast<size_t>(inner));
}

// parts (equal dims) stacked along a new axis at `axis`.
Tensor stack(const std::vector<Tensor>& parts, size_t axis, DType empty_dtype) {
  if (parts.empty()) return Tensor(empty_dtype == DType::Undefined ? DType::Float32 : empty_dtype, {0});
  std::vector<int64_t> dims = parts[0].dims();
  BNFOLD_CHECK(axis <= dims.size(), ErrorCode::InvalidModel, "a scan output axis {} for slices of rank {}", axis, dims.size());
  dims.insert(dims.begin() + static_cast<std::ptrdiff_t>(axis), static_cast<int64_t>(parts.size()));
  Tensor out(parts[0].dtype(), dims);
  const int64_t outer = product(dims, 0, axis), len = dims[axis];
  const int64_t inner = product(dims, axis + 1) * static_cast<int64_t>(dtype_size(out.dtype()));
  for (int64_t t = 0; t < len && inner > 0; ++t) {
    const Tensor& p = parts[static_cast<size_t>(t)];
    BNFOLD_CHECK(p.dims() == parts[0].dims() && p.dtype() == parts[0].dtype(), ErrorCode::InvalidModel,
                 "a scan output changes from {} to {} between iterations", parts[0].describe(), p.describe());
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(bytes(&out) + (o * len + t) * inner, bytes(p) + o * inner, static_cast<size_t>(inner));
  }
  return out;
}

constexpr int64_t kMaxIterations = 1000000;

// Loop: inputs M (trip count), cond, carried values; the body takes the
// iteration number, the condition and the carried values, and gives the
// condition, the carried values and the scan outputs (stacked on axis 0).
class Loop : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const Attribute& a = body_of(ctx, "body");
    const Graph& body = *a.g;
    const auto captured = static_cast<size_t>(a.i);
    BNFOLD_NODE_CHECK(ctx, ctx.num_inputs() >= 2 + captured, "Loop takes M, cond and the carried values");
    const size_t carried = ctx.num_inputs() - 2 - captured;
    BNFOLD_NODE_CHECK(ctx, body.inputs().size() == 2 + carried + captured && body.outputs().size() >= 1 + carried &&
                               ctx.num_outputs() == body.outputs().size() - 1,
                      "the body takes {} inputs and gives {} outputs; the node has {} carried values and {} outputs",
                      body.inputs().size() - captured, body.outputs().size(), carried, ctx.num_outputs());
    const size_t scans = body.outputs().size() - 1 - carried;
    const int64_t trips = ctx.has_input(0) ? int_at(ctx.constant(0, "the trip count"), 0)
                                           : std::numeric_limits<int64_t>::max();
    bool go = !ctx.has_input(1) || ctx.constant(1, "the condition").value_at(0) != 0;
    std::vector<Tensor> state;
    for (size_t k = 0; k < carried; ++k) state.push_back(ctx.constant(2 + k, "a carried value").clone());
    const std::vector<const Tensor*> outer = outer_values(ctx, 2 + carried);
    std::vector<std::vector<Tensor>> parts(scans);
    Tensor iteration(DType::Int64, {}), cond(DType::Bool, {});
    for (int64_t i = 0; i < trips && go; ++i) {
      // ONNX allows a loop without end; a served model must not hang a worker.
      BNFOLD_NODE_CHECK(ctx, i < kMaxIterations, "Loop ran {} iterations without ending (trip count {}); bnfold stops there",
                        kMaxIterations, ctx.has_input(0) ? std::to_string(trips) : std::string("none"));
      iteration.mutable_data_as<int64_t>()[0] = i;
      cond.mutable_data_as<uint8_t>()[0] = 1;
      std::vector<const Tensor*> in = {&iteration, &cond};
      for (const Tensor& t : state) in.push_back(&t);
      in.insert(in.end(), outer.begin(), outer.end());
      std::vector<Tensor> out = run_graph(body, in);
      go = out[0].numel() == 1 && out[0].value_at(0) != 0;
      for (size_t k = 0; k < carried; ++k) state[k] = std::move(out[1 + k]);
      for (size_t s = 0; s < scans; ++s) parts[s].push_back(std::move(out[1 + carried + s]));
    }
    for (size_t k = 0; k < carried; ++k)
      if (ctx.has_output(k)) ctx.set_output_value(k, std::move(state[k]));
    for (size_t s = 0; s < scans; ++s)
      if (ctx.has_output(carried + s))
        ctx.set_output_value(carried + s, stack(parts[s], 0, body.outputs()[1 + carried + s]->dtype()));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {
    fail(ErrorCode::Internal, "Loop computes its outputs in infer()");
  }
};

// Scan (opset 9+): inputs the initial states, then num_scan_inputs
// sequences sliced along their scan axes; the body takes the states and one
// slice of each, and gives the states and one slice of each scan output.
class Scan : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const Attribute& a = body_of(ctx, "body");
    const Graph& body = *a.g;
    const auto captured = static_cast<size_t>(a.i);
    const auto m = static_cast<size_t>(ctx.node().attr_int("num_scan_inputs"));
    BNFOLD_NODE_CHECK(ctx, m >= 1 && ctx.num_inputs() >= m + captured, "num_scan_inputs {} for {} inputs", m,
                      ctx.num_inputs() - captured);
    const size_t n = ctx.num_inputs() - m - captured;
    BNFOLD_NODE_CHECK(ctx, body.inputs().size() == n + m + captured && body.outputs().size() >= n &&
                               ctx.num_outputs() == body.outputs().size(),
                      "the body's inputs and outputs do not match the node's states and scans");
    const size_t k_out = body.outputs().size() - n;
    // Per scan input or output; absent: all 0 (axis 0, forward).
    const auto list = [&](const char* name, size_t count) {
      std::vector<int64_t> v = ctx.node().has_attr(name) ? ctx.node().attr_ints(name) : std::vector<int64_t>(count, 0);
      BNFOLD_NODE_CHECK(ctx, v.size() == count, "{} has {} values for {}", name, v.size(), count);
      return v;
    };
    const auto in_axes = list("scan_input_axes", m), in_dirs = list("scan_input_directions", m);
    const auto out_axes = list("scan_output_axes", k_out), out_dirs = list("scan_output_directions", k_out);
    std::vector<Tensor> state;
    for (size_t k = 0; k < n; ++k) state.push_back(ctx.constant(k, "an initial state").clone());
    std::vector<const Tensor*> seqs;
    std::vector<size_t> axis(m);
    int64_t len = -1;
    for (size_t j = 0; j < m; ++j) {
      seqs.push_back(&ctx.constant(n + j, "a scanned sequence"));
      axis[j] = static_cast<size_t>(normalize_axis(ctx, in_axes[j], seqs[j]->rank()));
      const int64_t l = seqs[j]->dims()[axis[j]];
      BNFOLD_NODE_CHECK(ctx, len < 0 || l == len, "scan inputs of lengths {} and {}", len, l);
      len = l;
    }
    const std::vector<const Tensor*> outer = outer_values(ctx, n + m);
    std::vector<std::vector<Tensor>> parts(k_out);
    for (int64_t t = 0; t < len; ++t) {
      std::vector<Tensor> slices;
      for (size_t j = 0; j < m; ++j) {
        std::vector<int64_t> d = seqs[j]->dims();
        d.erase(d.begin() + static_cast<std::ptrdiff_t>(axis[j]));
        slices.emplace_back(seqs[j]->dtype(), d);
        slice_copy(*seqs[j], axis[j], in_dirs[j] ? len - 1 - t : t, &slices.back());
      }
      std::vector<const Tensor*> in;
      for (const Tensor& s : state) in.push_back(&s);
      for (const Tensor& s : slices) in.push_back(&s);
      in.insert(in.end(), outer.begin(), outer.end());
      std::vector<Tensor> out = run_graph(body, in);
      for (size_t k = 0; k < n; ++k) state[k] = std::move(out[k]);
      for (size_t k = 0; k < k_out; ++k) parts[k].push_back(std::move(out[n + k]));
    }
    for (size_t k = 0; k < n; ++k)
      if (ctx.has_output(k)) ctx.set_output_value(k, std::move(state[k]));
    for (size_t k = 0; k < k_out; ++k) {
      if (out_dirs[k]) std::reverse(parts[k].begin(), parts[k].end());
      const int64_t rank = parts[k].empty() ? 0 : static_cast<int64_t>(parts[k][0].rank()) + 1;
      const int64_t ax = out_axes[k] < 0 ? out_axes[k] + rank : out_axes[k];
      BNFOLD_NODE_CHECK(ctx, ax >= 0 && (parts[k].empty() || ax < rank), "scan_output_axes {} for rank {}", out_axes[k], rank);
      if (ctx.has_output(n + k))
        ctx.set_output_value(n + k, stack(parts[k], static_cast<size_t>(ax), body.outputs()[n + k]->dtype()));
    }
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {
    fail(ErrorCode::Internal, "Scan computes its outputs in infer()");
  }
};

}  // namespace

std::unique_ptr<OpKernel> make_if(const Node&, int) { return std::make_unique<If>(); }
std::unique_ptr<OpKernel> make_loop(const Node&, int variant) {
  if (variant == 1) return std::make_unique<Scan>();
  return std::make_unique<Loop>();
}

}  // namespace bnfold::ops
