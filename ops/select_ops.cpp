// Selection ops, reference kernels: NonZero, Compress, Unique,
// ReverseSequence, MaxUnpool.
//
// NonZero and Unique give outputs whose shapes depend on their input's
// values, and Compress on its condition's: that value must be known when the
// plan is built (a constant, a value computed from shapes, or a graph input,
// for which the session plans per value, as for Reshape's shape). A value
// computed at run time is refused by name.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {


class NonZero : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const Tensor& x = ctx.constant(0, "the data, whose non-zero count sizes the output");
    const auto rank = static_cast<int64_t>(x.rank());
    const auto st = strides_of(x.dims());
    std::vector<int64_t> where;
    for (int64_t i = 0; i < x.numel(); ++i)
      if (x.value_at(i) != 0) where.push_back(i);
    const auto n = static_cast<int64_t>(where.size());
    Tensor out(DType::Int64, {rank, n});
    for (int64_t k = 0; k < n; ++k)
      for (int64_t a = 0; a < rank; ++a)
        out.mutable_data_as<int64_t>()[a * n + k] = where[static_cast<size_t>(k)] / st[static_cast<size_t>(a)] %
                                                    x.dims()[static_cast<size_t>(a)];
    ctx.set_output_value(0, std::move(out));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {}
};

// Compress: the slices along `axis` (or the elements of the flattened input)
// whose condition is true; a condition shorter than the input drops the rest.
class Compress : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    const Tensor& c = ctx.constant(1, "the condition, which sizes the output");
    BNFOLD_NODE_CHECK(ctx, c.dtype() == DType::Bool && c.rank() == 1, "the condition must be a 1-D bool tensor");
    flat_ = !ctx.node().has_attr("axis");
    axis_ = flat_ ? 0 : static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), d.size()));
    const int64_t len = flat_ ? product(d) : d[axis_];
    BNFOLD_NODE_CHECK(ctx, c.numel() <= len, "a condition of {} values for {} slices", c.numel(), len);
    keep_.clear();
    for (int64_t i = 0; i < c.numel(); ++i)
      if (c.data_as<uint8_t>()[i]) keep_.push_back(i);
    std::vector<int64_t> out = flat_ ? std::vector<int64_t>{0} : d;
    out[flat_ ? 0 : axis_] = static_cast<int64_t>(keep_.size());
    ctx.set_output(0, ctx.dtype(0), out);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& d = in[0]->dims();
    const size_t es = dtype_size(in[0]->dtype());
    const int64_t outer = flat_ ? 1 : product(d, 0, axis_), len = flat_ ? in[0]->numel() : d[axis_];
    const auto inner = static_cast<size_t>(flat_ ? 1 : product(d, axis_ + 1)) * es;
    char* o = bytes(out[0]);
    for (int64_t b = 0; b < outer; ++b)
      for (int64_t k : keep_) {
        std::memcpy(o, bytes(*in[0]) + static_cast<size_t>(b * len + k) * inner, inner);
        o += inner;
      }
  }

 private:
  bool flat_ = true;
  size_t axis_ = 0;
  std::vector<int64_t> keep_;
};

// Unique: the distinct elements (or slices along `axis`), sorted or in order
// of first appearance, with where each first appears, where each input element
// went, and how often each appears.
class Unique : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const Tensor& x = ctx.constant(0, "the data, whose distinct values size the output");
    const auto& d = x.dims();
    const bool flat = !ctx.node().has_attr("axis");
    const size_t axis = flat ? 0 : static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), d.size()));
    const int64_t outer = flat ? 1 : product(d, 0, axis), len = flat ? x.numel() : d[axis];
    const int64_t inner = flat ? 1 : product(d, axis + 1);
    // Slice s as a list of values, for comparing.
    std::vector<std::vector<double>> slice(static_cast<size_t>(len));
    for (int64_t s = 0; s < len; ++s)
      for (int64_t b = 0; b < outer; ++b)
        for (int64_t i = 0; i < inner; ++i) slice[static_cast<size_t>(s)].push_back(x.value_at((b * len + s) * inner + i));
    std::vector<int64_t> first;  // the first appearance of each distinct slice, in order of appearance
    std::vector<int64_t> inverse(static_cast<size_t>(len));
    for (int64_t s = 0; s < len; ++s) {
      auto it = std::find_if(first.begin(), first.end(),
                             [&](int64_t f) { return slice[static_cast<size_t>(f)] == slice[static_cast<size_t>(s)]; });
      inverse[static_cast<size_t>(s)] = it - first.begin();
      if (it == first.end()) first.push_back(s);
    }
    std::vector<int64_t> order(first.size());
    std::iota(order.begin(), order.end(), 0);
    if (ctx.node().attr_int("sorted") != 0)
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return slice[static_cast<size_t>(first[static_cast<size_t>(a)])] < slice[static_cast<size_t>(first[static_cast<size_t>(b)])];
      });
    std::vector<int64_t> rank_of(order.size());
    for (size_t r = 0; r < order.size(); ++r) rank_of[static_cast<size_t>(order[r])] = static_cast<int64_t>(r);
    const auto u = static_cast<int64_t>(order.size());
    std::vector<int64_t> yd = flat ? std::vector<int64_t>{u} : d;
    yd[flat ? 0 : axis] = u;
    Tensor y(x.dtype(), yd);
    const size_t es = dtype_size(x.dtype());
    for (int64_t r = 0; r < u; ++r)
      for (int64_t b = 0; b < outer; ++b)
        std::memcpy(bytes(&y) + static_cast<size_t>((b * u + r) * inner) * es,
                    bytes(x) + static_cast<size_t>((b * len + first[static_cast<size_t>(order[static_cast<size_t>(r)])]) * inner) * es,
                    static_cast<size_t>(inner) * es);
    std::vector<int64_t> indices, inv, counts(static_cast<size_t>(u), 0);
    for (int64_t r = 0; r < u; ++r) indices.push_back(first[static_cast<size_t>(order[static_cast<size_t>(r)])]);
    for (int64_t s = 0; s < len; ++s) {
      inv.push_back(rank_of[static_cast<size_t>(inverse[static_cast<size_t>(s)])]);
      ++counts[static_cast<size_t>(inv.back())];
    }
    ctx.set_output_value(0, std::move(y));
    if (ctx.num_outputs() > 1) ctx.set_output_value(1, int64_tensor(indices, {u}));
    if (ctx.num_outputs() > 2) ctx.set_output_value(2, int64_tensor(inv, {len}));
    if (ctx.num_outputs() > 3) ctx.set_output_value(3, int64_tensor(counts, {u}));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {}
};

// ReverseSequence: per batch entry b, the first sequence_lens[b] steps along
// time_axis in reverse order; the rest as they are.
class ReverseSequence : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, d.size() >= 2, "the input has rank {}, at least 2 is needed", d.size());
    batch_ = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("batch_axis"), d.size()));
    time_ = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("time_axis"), d.size()));
    BNFOLD_NODE_CHECK(ctx, batch_ != time_ && batch_ < 2 && time_ < 2, "batch_axis and time_axis must be 0 and 1");
    BNFOLD_NODE_CHECK(ctx, ctx.dims(1) == std::vector<int64_t>{d[batch_]}, "sequence_lens must hold {} values",
                      d[batch_]);
    ctx.set_output(0, ctx.dtype(0), d);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    copy_bytes(*in[0], out[0]);
    const auto& d = in[0]->dims();
    const auto st = strides_of(d);
    const size_t es = dtype_size(in[0]->dtype());
    const auto inner = static_cast<size_t>(st[1]) * es;
    for (int64_t b = 0; b < d[batch_]; ++b) {
      const auto n = int_at(*in[1], b);
      if (n < 0 || n > d[time_])
        failf(ErrorCode::InvalidArgument, "ReverseSequence: sequence length {} outside 0..{}", n, d[time_]);
      for (int64_t t = 0; t < n; ++t) {
        const int64_t from = b * st[batch_] + t * st[time_], to = b * st[batch_] + (n - 1 - t) * st[time_];
        std::memcpy(bytes(out[0]) + static_cast<size_t>(to) * es, bytes(*in[0]) + static_cast<size_t>(from) * es, inner);
      }
    }
  }

 private:
  size_t batch_ = 1, time_ = 0;
};

// MaxUnpool: zeros, with X's values at the flat positions MaxPool's indices name.
class MaxUnpool : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    const Node& n = ctx.node();
    BNFOLD_NODE_CHECK(ctx, ctx.dims(1) == d, "indices {} must have X's shape", Shape::of(ctx.dims(1)).str());
    BNFOLD_NODE_CHECK(ctx, d.size() >= 3, "X must be [N, C, spatial...], not rank {}", d.size());
    const auto k = n.attr_ints("kernel_shape");
    const size_t sp = d.size() - 2;
    BNFOLD_NODE_CHECK(ctx, k.size() == sp, "{} kernel dims for {} spatial dims", k.size(), sp);
    auto strides = n.has_attr("strides") ? n.attr_ints("strides") : std::vector<int64_t>(sp, 1);
    auto pads = n.has_attr("pads") ? n.attr_ints("pads") : std::vector<int64_t>(2 * sp, 0);
    BNFOLD_NODE_CHECK(ctx, strides.size() == sp && pads.size() == 2 * sp, "{} strides and {} pads for {} spatial dims",
                      strides.size(), pads.size(), sp);
    pooled_ = d;  // the shape MaxPool read, which its indices count in
    for (size_t a = 0; a < sp; ++a) {
      pooled_[a + 2] = checked_mul(d[a + 2] - 1, strides[a]) - pads[a] - pads[a + sp] + k[a];
      BNFOLD_NODE_CHECK(ctx, pooled_[a + 2] >= 0 && k[a] > 0 && strides[a] > 0,
                        "kernel {}, stride {} and pads give spatial size {}", k[a], strides[a], pooled_[a + 2]);
    }
    std::vector<int64_t> out = pooled_;
    if (ctx.has_input(2)) {
      out = ctx.constant_ints(2, "output_shape");
      BNFOLD_NODE_CHECK(ctx, out.size() == d.size(), "output_shape has {} dims, X {}", out.size(), d.size());
      for (size_t a = 0; a < d.size(); ++a)
        BNFOLD_NODE_CHECK(ctx, out[a] >= pooled_[a], "output_shape {} is smaller than the pooled input {}",
                          Shape::of(out).str(), Shape::of(pooled_).str());
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const size_t es = dtype_size(in[0]->dtype());
    std::memset(out[0]->mutable_data(), 0, out[0]->nbytes());
    // Indices are flat over the whole pooled input (N, C and space, as ONNX's
    // MaxPool gives them); a larger output_shape gets each value at the same
    // coordinates, as ONNX's test data places them.
    const auto& od = out[0]->dims();
    const auto ps = strides_of(pooled_), os = strides_of(od);
    const int64_t total = product(pooled_);
    for (int64_t i = 0; i < in[0]->numel(); ++i) {
      const auto at = int_at(*in[1], i);
      if (at < 0 || at >= total) failf(ErrorCode::InvalidArgument, "MaxUnpool: index {} is outside 0..{}", at, total - 1);
      int64_t pos = 0;
      for (size_t a = 0; a < od.size(); ++a) pos += at / ps[a] % pooled_[a] * os[a];
      std::memcpy(bytes(out[0]) + static_cast<size_t>(pos) * es, bytes(*in[0]) + static_cast<size_t>(i) * es, es);
    }
  }

 private:
  std::vector<int64_t> pooled_;
};

}  // namespace

std::unique_ptr<OpKernel> make_non_zero(const Node&, int) { return std::make_unique<NonZero>(); }
std::unique_ptr<OpKernel> make_compress(const Node&, int) { return std::make_unique<Compress>(); }
std::unique_ptr<OpKernel> make_unique_op(const Node&, int) { return std::make_unique<Unique>(); }
std::unique_ptr<OpKernel> make_reverse_sequence(const Node&, int) { return std::make_unique<ReverseSequence>(); }
std::unique_ptr<OpKernel> make_max_unpool(const Node&, int) { return std::make_unique<MaxUnpool>(); }

}  // namespace bnfold::ops
