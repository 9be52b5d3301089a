// Data-movement ops on any dtype, reference kernels: Transpose Concat Split
// Slice Gather Expand Pad ConstantOfShape Cast.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

const char* byte_ptr(const Tensor& t) { return static_cast<const char*>(t.data()); }
char* byte_ptr(Tensor* t) { return static_cast<char*>(t->mutable_data()); }

// Visits every multi-index of `dims` in row-major order, calling f(index, linear).
template <typename F>
void for_each_index(const std::vector<int64_t>& dims, F&& f) {
  const int64_t total = product(dims);
  if (total == 0) return;
  std::vector<int64_t> idx(dims.size(), 0);
  for (int64_t i = 0; i < total; ++i) {
    f(idx, i);
    for (size_t k = dims.size(); k-- > 0;) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
}

class Transpose : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& in = ctx.dims(0);
    if (ctx.node().has_attr("perm")) {
      perm_ = ctx.node().attr_ints("perm");
    } else {
      for (size_t k = in.size(); k-- > 0;) perm_.push_back(static_cast<int64_t>(k));
    }
    BNFOLD_NODE_CHECK(ctx, perm_.size() == in.size(), "perm has {} entries for rank {}", perm_.size(), in.size());
    std::vector<int64_t> out;
    std::vector<bool> seen(in.size(), false);
    for (int64_t p : perm_) {
      BNFOLD_NODE_CHECK(ctx, p >= 0 && p < static_cast<int64_t>(in.size()) && !seen[static_cast<size_t>(p)],
                        "perm is not a permutation");
      seen[static_cast<size_t>(p)] = true;
      out.push_back(in[static_cast<size_t>(p)]);
    }
    ctx.set_output(0, ctx.dtype(0), out);
    rank_ = in.size();
  }
  DataMovement movement() const override {
    return {DataMovement::Kind::Copy, perm_, {std::vector<int64_t>(rank_, 0)}, {}};
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto in_strides = strides_of(in[0]->dims());
    std::vector<int64_t> strides(perm_.size());
    for (size_t k = 0; k < perm_.size(); ++k) strides[k] = in_strides[static_cast<size_t>(perm_[k])];
    const size_t es = dtype_size(in[0]->dtype());
    const char* src = byte_ptr(*in[0]);
    char* dst = byte_ptr(out[0]);
    for_each_index(out[0]->dims(), [&](const std::vector<int64_t>& idx, int64_t i) {
      int64_t off = 0;
      for (size_t k = 0; k < idx.size(); ++k) off += idx[k] * strides[k];
      std::memcpy(dst + i * static_cast<int64_t>(es), src + off * static_cast<int64_t>(es), es);
    });
  }

 private:
  std::vector<int64_t> perm_;
  size_t rank_ = 0;
};

class Concat : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& first = ctx.dims(0);
    axis_ = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), first.size()));
    std::vector<int64_t> out = first;
    out[axis_] = 0;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const auto& d = ctx.dims(i);
      BNFOLD_NODE_CHECK(ctx, d.size() == first.size() && ctx.dtype(i) == ctx.dtype(0),
                        "input {} is {}{}, input 0 is {}{}", i, dtype_name(ctx.dtype(i)),
                        Shape::of(d).str(), dtype_name(ctx.dtype(0)), Shape::of(first).str());
      for (size_t k = 0; k < d.size(); ++k)
        BNFOLD_NODE_CHECK(ctx, k == axis_ || d[k] == first[k], "input {} has {} where input 0 has {}", i,
                          Shape::of(d).str(), Shape::of(first).str());
      out[axis_] += d[axis_];
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& od = out[0]->dims();
    const int64_t outer = product(od, 0, axis_);
    const int64_t es = static_cast<int64_t>(dtype_size(out[0]->dtype()));
    const int64_t out_row = product(od, axis_) * es;
    int64_t col = 0;
    for (const Tensor* t : in) {
      const int64_t row = product(t->dims(), axis_) * es;
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(byte_ptr(out[0]) + o * out_row + col, byte_ptr(*t) + o * row, static_cast<size_t>(row));
      col += row;
    }
  }

 private:
  size_t axis_ = 0;
};

class Split : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& in = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, !in.empty() && ctx.num_outputs() > 0, "needs an input of rank >= 1 and an output");
    axis_ = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), in.size()));
    const auto n = static_cast<int64_t>(ctx.num_outputs());
    if (ctx.opset() >= 13 && ctx.has_input(1)) sizes_ = ctx.constant_ints(1, "split");
    else if (ctx.opset() < 13 && ctx.node().has_attr("split")) sizes_ = ctx.node().attr_ints("split");
    if (sizes_.empty()) {
      BNFOLD_NODE_CHECK(ctx, in[axis_] % n == 0, "cannot split {} into {} equal parts", in[axis_], n);
      sizes_.assign(static_cast<size_t>(n), in[axis_] / n);
    }
    BNFOLD_NODE_CHECK(ctx, static_cast<int64_t>(sizes_.size()) == n, "{} split sizes for {} outputs",
                      sizes_.size(), n);
    int64_t sum = 0;
    for (size_t k = 0; k < sizes_.size(); ++k) {
      BNFOLD_NODE_CHECK(ctx, sizes_[k] >= 0 && sizes_[k] <= in[axis_], "split size {} on an axis of {}", sizes_[k],
                        in[axis_]);
      std::vector<int64_t> d = in;
      d[axis_] = sizes_[k];
      sum += sizes_[k];
      ctx.set_output(k, ctx.dtype(0), d);
    }
    BNFOLD_NODE_CHECK(ctx, sum == in[axis_], "split sizes add up to {}, the axis has {}", sum, in[axis_]);
    rank_ = in.size();
  }
  DataMovement movement() const override {
    DataMovement m{DataMovement::Kind::Copy, {}, {}, {}};
    int64_t at = 0;
    for (int64_t size : sizes_) {
      std::vector<int64_t> start(rank_, 0);
      start[axis_] = at;
      m.start.push_back(start);
      at += size;
    }
    return m;
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& d = in[0]->dims();
    const int64_t outer = product(d, 0, axis_);
    const int64_t es = static_cast<int64_t>(dtype_size(in[0]->dtype()));
    const int64_t inner = product(d, axis_ + 1) * es;
    const int64_t in_row = d[axis_] * inner;
    int64_t col = 0;
    for (size_t k = 0; k < out.size(); ++k) {
      const int64_t row = sizes_[k] * inner;
      if (out[k])
        for (int64_t o = 0; o < outer; ++o)
          std::memcpy(byte_ptr(out[k]) + o * row, byte_ptr(*in[0]) + o * in_row + col, static_cast<size_t>(row));
      col += row;
    }
  }

 private:
  size_t axis_ = 0, rank_ = 0;
  std::vector<int64_t> sizes_;
};

class Slice : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& in = ctx.dims(0);
    const size_t rank = in.size();
    std::vector<int64_t> starts, ends, axes, steps;
    if (ctx.opset() < 10) {
      starts = ctx.node().attr_ints("starts");
      ends = ctx.node().attr_ints("ends");
      if (ctx.node().has_attr("axes")) axes = ctx.node().attr_ints("axes");
    } else {
      starts = ctx.constant_ints(1, "starts");
      ends = ctx.constant_ints(2, "ends");
      if (ctx.has_input(3)) axes = ctx.constant_ints(3, "axes");
      if (ctx.has_input(4)) steps = ctx.constant_ints(4, "steps");
    }
    BNFOLD_NODE_CHECK(ctx, starts.size() == ends.size(), "starts and ends differ in length");
    if (axes.empty())
      for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
    if (steps.empty()) steps.assign(starts.size(), 1);
    BNFOLD_NODE_CHECK(ctx, axes.size() == starts.size() && steps.size() == starts.size(),
                      "starts, ends, axes and steps differ in length ({}, {}, {}, {})", starts.size(), ends.size(),
                      axes.size(), steps.size());
    start_.assign(rank, 0);
    step_.assign(rank, 1);
    std::vector<int64_t> out = in;
    std::vector<bool> seen(rank, false);
    for (size_t k = 0; k < axes.size(); ++k) {
      const auto a = static_cast<size_t>(normalize_axis(ctx, axes[k], rank));
      BNFOLD_NODE_CHECK(ctx, !seen[a], "axes repeat axis {}", a);  // the spec: each axis at most once
      seen[a] = true;
      const int64_t dim = in[a], step = steps[k];
      BNFOLD_NODE_CHECK(ctx, step != 0, "step 0 on axis {}", axes[k]);
      int64_t s = starts[k] < 0 ? starts[k] + dim : starts[k];
      int64_t e = ends[k] < 0 ? ends[k] + dim : ends[k];
      if (step > 0) {
        s = std::clamp<int64_t>(s, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        out[a] = e > s ? (e - s + step - 1) / step : 0;
      } else {
        s = std::clamp<int64_t>(s, 0, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        out[a] = s > e ? (s - e - step - 1) / (-step) : 0;
      }
      start_[a] = s;
      step_[a] = step;
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }
  // A box of the input, read in steps (positive ones: a strided view).
  DataMovement movement() const override {
    bool unit = true;
    for (int64_t s : step_) {
      if (s < 1) return {};
      unit &= s == 1;
    }
    return {DataMovement::Kind::Copy, {}, {start_}, unit ? std::vector<int64_t>{} : step_};
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto strides = strides_of(in[0]->dims());
    const size_t es = dtype_size(in[0]->dtype());
    const char* src = byte_ptr(*in[0]);
    char* dst = byte_ptr(out[0]);
    for_each_index(out[0]->dims(), [&](const std::vector<int64_t>& idx, int64_t i) {
      int64_t off = 0;
      for (size_t k = 0; k < idx.size(); ++k) off += (start_[k] + idx[k] * step_[k]) * strides[k];
      std::memcpy(dst + i * static_cast<int64_t>(es), src + off * static_cast<int64_t>(es), es);
    });
  }

 private:
  std::vector<int64_t> start_, step_;
};

class Gather : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    axis_ = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), d.size()));
    const DType it = ctx.dtype(1);
    BNFOLD_NODE_CHECK(ctx, it == DType::Int64 || it == DType::Int32, "indices must be int32 or int64, got {}",
                      dtype_name(it));
    std::vector<int64_t> out(d.begin(), d.begin() + static_cast<int64_t>(axis_));
    for (int64_t x : ctx.dims(1)) out.push_back(x);
    out.insert(out.end(), d.begin() + static_cast<int64_t>(axis_) + 1, d.end());
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& d = in[0]->dims();
    const int64_t outer = product(d, 0, axis_);
    const int64_t es = static_cast<int64_t>(dtype_size(in[0]->dtype()));
    const int64_t inner = product(d, axis_ + 1) * es;
    const int64_t n = in[1]->numel(), dim = d[axis_];
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < n; ++j) {
        int64_t idx = int_at(*in[1], j);
        if (idx < 0) idx += dim;
        BNFOLD_CHECK(idx >= 0 && idx < dim, ErrorCode::InvalidArgument,
                     "Gather: index {} is out of range for a dim of {}", in[1]->value_at(j), dim);
        std::memcpy(byte_ptr(out[0]) + (o * n + j) * inner, byte_ptr(*in[0]) + (o * dim + idx) * inner,
                    static_cast<size_t>(inner));
      }
    }
  }

 private:
  size_t axis_ = 0;
};

class Expand : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.set_output(0, ctx.dtype(0), broadcast_dims(ctx, ctx.dims(0), ctx.constant_ints(1, "shape")));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const BroadcastWalker w(out[0]->dims(), in[0]->dims());
    const int64_t es = static_cast<int64_t>(dtype_size(in[0]->dtype()));
    for (int64_t i = 0; i < out[0]->numel(); ++i) {
      const int64_t off = w.identity() ? i : w.offsets()[static_cast<size_t>(i)];
      std::memcpy(byte_ptr(out[0]) + i * es, byte_ptr(*in[0]) + off * es, static_cast<size_t>(es));
    }
  }
};

class Pad : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& in = ctx.dims(0);
    const Node& n = ctx.node();
    mode_ = n.attr_string("mode");
    BNFOLD_NODE_CHECK(ctx, mode_ == "constant" || mode_ == "reflect" || mode_ == "edge",
                      "mode '{}' is not supported", mode_);
    if (ctx.opset() < 11) {
      pads_ = n.has_attr("pads") ? n.attr_ints("pads") : n.attr_ints("paddings");
      value_ = n.attr_float("value");
    } else {
      pads_ = ctx.constant_ints(1, "pads");
    }
    BNFOLD_NODE_CHECK(ctx, pads_.size() == 2 * in.size(), "{} pads for rank {}", pads_.size(), in.size());
    std::vector<int64_t> out = in;
    for (size_t k = 0; k < in.size(); ++k) {
      out[k] = in[k] + pads_[k] + pads_[k + in.size()];
      BNFOLD_NODE_CHECK(ctx, out[k] >= 0, "pads make axis {} negative", k);
      if (mode_ == "reflect")
        BNFOLD_NODE_CHECK(ctx, in[k] > 1 || out[k] == in[k], "reflect padding needs axis {} longer than 1", k);
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }
  // No padding at all (exporters write a Pad of zeros before some pools): the identity.
  DataMovement movement() const override {
    for (int64_t p : pads_)
      if (p != 0) return {};
    return {DataMovement::Kind::View, {}, {}, {}};
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& id = in[0]->dims();
    const size_t rank = id.size();
    const auto strides = strides_of(id);
    const size_t es = dtype_size(in[0]->dtype());
    // The fill value in the tensor's own type.
    Tensor fill(in[0]->dtype(), {});
    double v = value_;
    if (in.size() > 2 && in[2] && in[2]->numel() > 0) v = in[2]->value_at(0);
    Tensor f64(DType::Float64, {});
    f64.mutable_data_as<double>()[0] = v;
    cast_into(f64, &fill);
    const char* src = byte_ptr(*in[0]);
    char* dst = byte_ptr(out[0]);
    for_each_index(out[0]->dims(), [&](const std::vector<int64_t>& idx, int64_t i) {
      int64_t off = 0;
      bool outside = false;
      for (size_t k = 0; k < rank; ++k) {
        int64_t j = idx[k] - pads_[k];
        const int64_t d = id[k];
        if (j < 0 || j >= d) {
          if (mode_ == "constant" || d == 0) {
            outside = true;
            break;
          }
          if (mode_ == "edge") {
            j = std::clamp<int64_t>(j, 0, d - 1);
          } else {  // reflect, without repeating the edge
            const int64_t period = 2 * (d - 1);
            j = ((j % period) + period) % period;
            if (j >= d) j = period - j;
          }
        }
        off += j * strides[k];
      }
      std::memcpy(dst + i * static_cast<int64_t>(es), outside ? byte_ptr(fill) : src + off * static_cast<int64_t>(es), es);
    });
  }

 private:
  std::string mode_;
  std::vector<int64_t> pads_;
  double value_ = 0;
};

class ConstantOfShape : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const std::vector<int64_t> dims = ctx.constant_ints(0, "shape");
    Tensor value(DType::Float32, {1});
    if (auto a = ctx.node().find_attr("value"); a && a->kind == AttrKind::Tensor) value = a->t;
    BNFOLD_NODE_CHECK(ctx, value.numel() == 1, "value must hold one element");
    Tensor out(value.dtype(), dims);
    const size_t es = dtype_size(value.dtype());
    for (int64_t i = 0; i < out.numel(); ++i)
      std::memcpy(static_cast<char*>(out.mutable_data()) + i * static_cast<int64_t>(es), value.data(), es);
    ctx.set_output_value(0, std::move(out));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {}
};

class Cast : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const int64_t to = ctx.node().attr_int("to");
    BNFOLD_NODE_CHECK(ctx, dtype_is_known(static_cast<int32_t>(to)), "unknown target type {}", to);
    const auto t = static_cast<DType>(to);
    BNFOLD_NODE_CHECK(ctx, t != DType::String && ctx.dtype(0) != DType::String,
                      "casts to or from strings are not supported");
    BNFOLD_NODE_CHECK(ctx, t != DType::Complex64 && t != DType::Complex128, "casts to complex are not supported");
    ctx.set_output(0, t, ctx.dims(0));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    cast_into(*in[0], out[0]);
  }
};

}  // namespace

void cast_into(const Tensor& in, Tensor* out) {
  if (in.dtype() == out->dtype()) {
    copy_bytes(in, out);
    return;
  }
  const int64_t n = in.numel();
  switch (out->dtype()) {
    case DType::Float16:
    case DType::BFloat16: {
      Tensor f(DType::Float32, in.dims());
      for (int64_t i = 0; i < n; ++i) f.mutable_data_as<float>()[i] = static_cast<float>(in.value_at(i));
      store_from_float32(f, out);
      return;
    }
    case DType::Bool:
      for (int64_t i = 0; i < n; ++i) out->mutable_data_as<uint8_t>()[i] = in.value_at(i) != 0;
      return;
    default: break;
  }
  dispatch_numeric(out->dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out->mutable_data_as<T>();
    if (in.dtype() == DType::Int64 && std::is_integral_v<T>) {  // exact for large values
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(in.data_as<int64_t>()[i]);
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      const double v = in.value_at(i);
      if constexpr (std::is_integral_v<T>) {
        // Truncated; beyond int64 saturating, then wrapped to T as integer
        // Casts are (NaN and +-inf give 0, as before).
        o[i] = std::isfinite(v) ? static_cast<T>(saturate_cast<int64_t>(v)) : T{};
      } else {
        o[i] = static_cast<T>(v);
      }
    }
  });
}

std::unique_ptr<OpKernel> make_transpose(const Node&, int) { return std::make_unique<Transpose>(); }
std::unique_ptr<OpKernel> make_concat(const Node&, int) { return std::make_unique<Concat>(); }
std::unique_ptr<OpKernel> make_split(const Node&, int) { return std::make_unique<Split>(); }
std::unique_ptr<OpKernel> make_slice(const Node&, int) { return std::make_unique<Slice>(); }
std::unique_ptr<OpKernel> make_gather(const Node&, int) { return std::make_unique<Gather>(); }
std::unique_ptr<OpKernel> make_expand(const Node&, int) { return std::make_unique<Expand>(); }
std::unique_ptr<OpKernel> make_pad(const Node&, int) { return std::make_unique<Pad>(); }
std::unique_ptr<OpKernel> make_constant_of_shape(const Node&, int) { return std::make_unique<ConstantOfShape>(); }
std::unique_ptr<OpKernel> make_cast(const Node&, int) { return std::make_unique<Cast>(); }

}  // namespace bnfold::ops
