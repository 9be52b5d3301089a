// Indexing and rearranging ops, reference kernels: ArgMax, ArgMin, TopK,
// Hardmax, CumSum, GatherElements, ScatterElements, GatherND, ScatterND,
// OneHot. Values are compared as doubles (exact for every dtype but 64-bit
// integers beyond 2^53, which no model indexes by).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {


// An index read from an int32/int64 tensor, negative counted from the end;
// throws when outside [0, size).
int64_t index_at(const Tensor& t, int64_t i, int64_t size, const char* what) {
  // Read exactly (int64 beyond 2^53 does not survive a double).
  const int64_t raw = t.dtype() == DType::Int64 ? t.data_as<int64_t>()[i]
                      : t.dtype() == DType::Int32 ? t.data_as<int32_t>()[i]
                                                  : saturate_cast<int64_t>(t.value_at(i));
  BNFOLD_CHECK(raw >= -size && raw < size, ErrorCode::InvalidArgument, "{} index {} is outside [{}, {})", what, raw,
               -size, size);
  return raw < 0 ? raw + size : raw;
}

void check_indices(InferContext& ctx, size_t i) {
  BNFOLD_NODE_CHECK(ctx, ctx.dtype(i) == DType::Int64 || ctx.dtype(i) == DType::Int32,
                    "indices are {}, not int32 or int64", dtype_name(ctx.dtype(i)));
}

// Outer x axis x inner view of a tensor around one axis.
struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
  AxisView(const std::vector<int64_t>& d, size_t axis)
      : outer(product(d, 0, axis)), n(d[axis]), inner(product(d, axis + 1)) {}
};

// ArgMax (variant 0), ArgMin (1).
class ArgExtreme : public OpKernel {
 public:
  explicit ArgExtreme(bool max) : max_(max) {}
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    axis_ = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), d.size()));
    keep_ = ctx.node().attr_int("keepdims") != 0;
    last_ = ctx.opset() >= 12 && ctx.node().attr_int("select_last_index") != 0;
    BNFOLD_NODE_CHECK(ctx, d[axis_] > 0, "an empty axis has no {}", max_ ? "maximum" : "minimum");
    std::vector<int64_t> out = d;
    if (keep_) out[axis_] = 1;
    else out.erase(out.begin() + static_cast<int64_t>(axis_));
    ctx.set_output(0, DType::Int64, out);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const AxisView v(in[0]->dims(), axis_);
    auto* o = out[0]->mutable_data_as<int64_t>();
    for (int64_t a = 0; a < v.outer; ++a)
      for (int64_t c = 0; c < v.inner; ++c) {
        int64_t best = 0;
        double bv = in[0]->value_at(a * v.n * v.inner + c);
        for (int64_t k = 1; k < v.n; ++k) {
          const double x = in[0]->value_at((a * v.n + k) * v.inner + c);
          const bool better = max_ ? (last_ ? x >= bv : x > bv) : (last_ ? x <= bv : x < bv);
          if (better) {
            best = k;
            bv = x;
          }
        }
        o[a * v.inner + c] = best;
      }
  }

 private:
  bool max_, keep_ = true, last_ = false;
  size_t axis_ = 0;
};

// TopK: the k largest (or smallest) along an axis, sorted, ties by lower index.
class TopK : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    axis_ = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), d.size()));
    if (ctx.opset() >= 10) {
      const std::vector<int64_t> k = ctx.constant_ints(1, "K");
      BNFOLD_NODE_CHECK(ctx, k.size() == 1, "K holds {} values, not 1", k.size());
      k_ = k[0];
    } else {
      k_ = ctx.node().attr_int("k");
    }
    largest_ = ctx.opset() < 11 || ctx.node().attr_int("largest") != 0;
    BNFOLD_NODE_CHECK(ctx, k_ >= 0 && k_ <= d[axis_], "K = {} on an axis of {}", k_, d[axis_]);
    std::vector<int64_t> out = d;
    out[axis_] = k_;
    ctx.set_output(0, ctx.dtype(0), out);
    ctx.set_output(1, DType::Int64, out);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const AxisView v(in[0]->dims(), axis_);
    const size_t es = dtype_size(in[0]->dtype());
    std::vector<int64_t> order(static_cast<size_t>(v.n));
    std::vector<double> vals(static_cast<size_t>(v.n));
    for (int64_t a = 0; a < v.outer; ++a)
      for (int64_t c = 0; c < v.inner; ++c) {
        for (int64_t k = 0; k < v.n; ++k) vals[static_cast<size_t>(k)] = in[0]->value_at((a * v.n + k) * v.inner + c);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
          const double p = vals[static_cast<size_t>(x)], q = vals[static_cast<size_t>(y)];
          return largest_ ? p > q : p < q;
        });
        for (int64_t k = 0; k < k_; ++k) {
          const int64_t src = (a * v.n + order[static_cast<size_t>(k)]) * v.inner + c;
          const int64_t dst = (a * k_ + k) * v.inner + c;
          if (out[0]) std::memcpy(bytes(out[0]) + dst * static_cast<int64_t>(es), bytes(*in[0]) + src * static_cast<int64_t>(es), es);
          if (out[1]) out[1]->mutable_data_as<int64_t>()[dst] = order[static_cast<size_t>(k)];
        }
      }
  }

 private:
  size_t axis_ = 0;
  int64_t k_ = 0;
  bool largest_ = true;
};

// Hardmax: 1 at the first maximum along the axis (opset 13), or of each row
// of the input seen as 2-D at the axis (before 13), 0 elsewhere.
class Hardmax : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    const auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), d.size()));
    if (ctx.opset() >= 13) {
      outer_ = product(d, 0, axis);
      n_ = d[axis];
      inner_ = product(d, axis + 1);
    } else {
      outer_ = product(d, 0, axis);
      n_ = product(d, axis);
      inner_ = 1;
    }
    ctx.set_output(0, ctx.dtype(0), d);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    Tensor ones(DType::Float64, {out[0]->numel()});
    auto* o = ones.mutable_data_as<double>();
    std::fill(o, o + ones.numel(), 0.0);
    for (int64_t a = 0; a < outer_; ++a)
      for (int64_t c = 0; c < inner_; ++c) {
        int64_t best = 0;
        for (int64_t k = 1; k < n_; ++k)
          if (in[0]->value_at((a * n_ + k) * inner_ + c) > in[0]->value_at((a * n_ + best) * inner_ + c)) best = k;
        if (n_ > 0) o[(a * n_ + best) * inner_ + c] = 1;
      }
    store_real(Tensor::borrow(DType::Float64, out[0]->dims(), o), out[0]);
  }

 private:
  int64_t outer_ = 1, n_ = 1, inner_ = 1;
};

// CumSum along an axis (a constant input), optionally exclusive and reversed.
class CumSum : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    const std::vector<int64_t> axis = ctx.constant_ints(1, "axis");
    BNFOLD_NODE_CHECK(ctx, axis.size() == 1, "axis holds {} values, not 1", axis.size());
    axis_ = static_cast<size_t>(normalize_axis(ctx, axis[0], d.size()));
    exclusive_ = ctx.node().attr_int("exclusive") != 0;
    reverse_ = ctx.node().attr_int("reverse") != 0;
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(0) != DType::Bool && ctx.dtype(0) != DType::String, "CumSum of {} data",
                      dtype_name(ctx.dtype(0)));
    ctx.set_output(0, ctx.dtype(0), d);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const DType t = in[0]->dtype();
    if (t == DType::Float16 || t == DType::BFloat16) {
      const Tensor f = to_float32(*in[0]);
      Tensor r(DType::Float32, f.dims());
      apply<float>(f, &r);
      store_from_float32(r, out[0]);
      return;
    }
    dispatch_numeric(t, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, bool>) apply<T>(*in[0], out[0]);
    });
  }

 private:
  template <typename T>
  void apply(const Tensor& x, Tensor* y) const {
    const AxisView v(x.dims(), axis_);
    const T* p = x.data_as<T>();
    T* o = y->mutable_data_as<T>();
    for (int64_t a = 0; a < v.outer; ++a)
      for (int64_t c = 0; c < v.inner; ++c) {
        T acc{};
        for (int64_t s = 0; s < v.n; ++s) {
          const int64_t k = reverse_ ? v.n - 1 - s : s;
          const int64_t at = (a * v.n + k) * v.inner + c;
          if (exclusive_) {
            o[at] = acc;
            acc = wrapping(acc, p[at], [](auto q, auto r) { return q + r; });
          } else {
            acc = wrapping(acc, p[at], [](auto q, auto r) { return q + r; });
            o[at] = acc;
          }
        }
      }
  }
  size_t axis_ = 0;
  bool exclusive_ = false, reverse_ = false;
};

// GatherElements and ScatterElements: the data offset of element i of the
// indices (index strides `is`), its coordinate on `axis` replaced by the index it holds.
// Walks the index tensor's elements in order: f(i, offset), where offset is
// the data element the index at i names (its own coordinates, with the one
// on `axis` replaced by the index). A running offset instead of dividing i
// by every stride per element (torchvision's MultiScaleRoIAlign scatters two
// million elements per image).
template <typename F>
void for_each_index(const Tensor& indices, const std::vector<int64_t>& data_dims, size_t axis, const char* what,
                    const F& f) {
  const auto& id = indices.dims();
  const auto ds = strides_of(data_dims);
  std::vector<int64_t> c(id.size(), 0);
  int64_t base = 0;  // the offset of c without its axis coordinate
  for (int64_t i = 0; i < indices.numel(); ++i) {
    f(i, base + index_at(indices, i, data_dims[axis], what) * ds[axis]);
    for (size_t k = id.size(); k-- > 0;) {
      const int64_t step = k == axis ? 0 : ds[k];
      if (++c[k] < id[k]) {
        base += step;
        break;
      }
      base -= (id[k] - 1) * step;
      c[k] = 0;
    }
  }
}

// GatherElements: out[i][j][k] = data[index][j][k] along the axis (any dtype).
class GatherElements : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    check_indices(ctx, 1);
    axis_ = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), d.size()));
    BNFOLD_NODE_CHECK(ctx, ctx.dims(1).size() == d.size(), "indices have rank {}, data {}", ctx.dims(1).size(), d.size());
    ctx.set_output(0, ctx.dtype(0), ctx.dims(1));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto es = static_cast<int64_t>(dtype_size(in[0]->dtype()));
    for_each_index(*in[1], in[0]->dims(), axis_, "GatherElements", [&](int64_t i, int64_t off) {
      std::memcpy(bytes(out[0]) + i * es, bytes(*in[0]) + off * es, static_cast<size_t>(es));
    });
  }

 private:
  size_t axis_ = 0;
};

// How ScatterElements and ScatterND combine an update with what is there.
enum class Reduction { None, Add, Mul };
Reduction reduction_of(InferContext& ctx) {
  if (ctx.opset() < 16) return Reduction::None;
  const std::string r = ctx.node().attr_string("reduction");
  BNFOLD_NODE_CHECK(ctx, r == "none" || r == "add" || r == "mul", "reduction '{}' (bnfold has none, add, mul)", r);
  return r == "add" ? Reduction::Add : r == "mul" ? Reduction::Mul : Reduction::None;
}
// out[at] (op)= updates[from], as doubles for add/mul, bytes for none.
void combine_at(Tensor* out, int64_t at, const Tensor& updates, int64_t from, Reduction r) {
  const size_t es = dtype_size(out->dtype());
  if (r == Reduction::None) {
    std::memcpy(bytes(out) + at * static_cast<int64_t>(es), bytes(updates) + from * static_cast<int64_t>(es), es);
    return;
  }
  dispatch_numeric(out->dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out->mutable_data_as<T>();
    const T u = updates.data_as<T>()[from];
    if constexpr (std::is_same_v<T, bool>) o[at] = r == Reduction::Add ? (o[at] || u) : (o[at] && u);
    else o[at] = r == Reduction::Add ? wrapping(o[at], u, [](auto p, auto q) { return p + q; })
                                     : wrapping(o[at], u, [](auto p, auto q) { return p * q; });
  });
}

class ScatterElements : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    check_indices(ctx, 1);
    axis_ = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), d.size()));
    BNFOLD_NODE_CHECK(ctx, ctx.dims(1) == ctx.dims(2) && ctx.dims(1).size() == d.size(),
                      "indices {} and updates {} must have one shape, of data's rank", Shape::of(ctx.dims(1)).str(),
                      Shape::of(ctx.dims(2)).str());
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(2) == ctx.dtype(0), "updates are {}, data {}", dtype_name(ctx.dtype(2)),
                      dtype_name(ctx.dtype(0)));
    reduction_ = reduction_of(ctx);
    ctx.set_output(0, ctx.dtype(0), d);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    copy_bytes(*in[0], out[0]);
    for_each_index(*in[1], in[0]->dims(), axis_, "ScatterElements",
                   [&](int64_t i, int64_t off) { combine_at(out[0], off, *in[2], i, reduction_); });
  }

 private:
  size_t axis_ = 0;
  Reduction reduction_ = Reduction::None;
};

// The element offset in data of the index tuple at row `row` of ND indices
// (q = its last dim), after `batch` leading batch dims (GatherND's batch_dims).
int64_t nd_offset(const Tensor& indices, int64_t row, int64_t q, const std::vector<int64_t>& data_dims,
                  const std::vector<int64_t>& data_strides, size_t batch) {
  int64_t off = 0;
  for (int64_t j = 0; j < q; ++j) {
    const size_t axis = batch + static_cast<size_t>(j);
    off += index_at(indices, row * q + j, data_dims[axis], "ND") * data_strides[axis];
  }
  return off;
}

class GatherND : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    const auto& id = ctx.dims(1);
    check_indices(ctx, 1);
    batch_ = ctx.opset() >= 12 ? static_cast<size_t>(ctx.node().attr_int("batch_dims")) : 0;
    BNFOLD_NODE_CHECK(ctx, !id.empty() && batch_ < id.size() && batch_ < d.size(), "indices {} with batch_dims {}",
                      Shape::of(id).str(), batch_);
    q_ = id.back();
    BNFOLD_NODE_CHECK(ctx, q_ >= 1 && batch_ + static_cast<size_t>(q_) <= d.size(),
                      "index tuples of {} into data of rank {} (batch_dims {})", q_, d.size(), batch_);
    for (size_t k = 0; k < batch_; ++k)
      BNFOLD_NODE_CHECK(ctx, d[k] == id[k], "batch dim {} is {} in data and {} in indices", k, d[k], id[k]);
    std::vector<int64_t> out(id.begin(), id.end() - 1);
    out.insert(out.end(), d.begin() + static_cast<int64_t>(batch_) + q_, d.end());
    ctx.set_output(0, ctx.dtype(0), out);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& d = in[0]->dims();
    const auto& id = in[1]->dims();
    const auto ds = strides_of(d);
    const size_t es = dtype_size(in[0]->dtype());
    const int64_t slice = product(d, batch_ + static_cast<size_t>(q_)) * static_cast<int64_t>(es);
    const int64_t batches = product(id, 0, batch_), per_batch = product(id, batch_, id.size() - 1);
    const int64_t batch_stride = batch_ ? ds[batch_ - 1] : 0;
    for (int64_t b = 0; b < batches; ++b)
      for (int64_t r = 0; r < per_batch; ++r) {
        const int64_t row = b * per_batch + r;
        const int64_t off = b * batch_stride + nd_offset(*in[1], row, q_, d, ds, batch_);
        std::memcpy(bytes(out[0]) + row * slice, bytes(*in[0]) + off * static_cast<int64_t>(es), static_cast<size_t>(slice));
      }
  }

 private:
  size_t batch_ = 0;
  int64_t q_ = 1;
};

class ScatterND : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    const auto& id = ctx.dims(1);
    check_indices(ctx, 1);
    BNFOLD_NODE_CHECK(ctx, !id.empty() && id.back() >= 1 && static_cast<size_t>(id.back()) <= d.size(),
                      "index tuples of {} into data of rank {}", id.empty() ? 0 : id.back(), d.size());
    std::vector<int64_t> want(id.begin(), id.end() - 1);
    want.insert(want.end(), d.begin() + id.back(), d.end());
    BNFOLD_NODE_CHECK(ctx, ctx.dims(2) == want, "updates are {}, should be {}", Shape::of(ctx.dims(2)).str(),
                      Shape::of(want).str());
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(2) == ctx.dtype(0), "updates are {}, data {}", dtype_name(ctx.dtype(2)),
                      dtype_name(ctx.dtype(0)));
    reduction_ = reduction_of(ctx);
    ctx.set_output(0, ctx.dtype(0), d);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    copy_bytes(*in[0], out[0]);
    const auto& d = in[0]->dims();
    const auto& id = in[1]->dims();
    const int64_t q = id.back(), rows = product(id, 0, id.size() - 1);
    const int64_t slice = product(d, static_cast<size_t>(q));
    const auto ds = strides_of(d);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t off = nd_offset(*in[1], r, q, d, ds, 0);
      for (int64_t e = 0; e < slice; ++e) combine_at(out[0], off + e, *in[2], r * slice + e, reduction_);
    }
  }

 private:
  Reduction reduction_ = Reduction::None;
};

// OneHot: indices, depth, values [off, on]; a new axis of size depth.
class OneHot : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& id = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, ctx.constant(1, "depth").numel() == 1, "depth must be one value");
    const double depth = ctx.constant(1, "depth").value_at(0);
    BNFOLD_NODE_CHECK(ctx, depth >= 1 && depth < 1e12, "depth {} is not a count from 1", depth);
    depth_ = static_cast<int64_t>(depth);
    BNFOLD_NODE_CHECK(ctx, product(ctx.dims(2)) == 2, "values must hold [off, on]: 2 values, not {}",
                      product(ctx.dims(2)));
    axis_ = static_cast<size_t>(normalize_axis(ctx, ctx.node().attr_int("axis"), id.size() + 1));
    std::vector<int64_t> out = id;
    out.insert(out.begin() + static_cast<int64_t>(axis_), depth_);
    ctx.set_output(0, ctx.dtype(2), out);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const size_t es = dtype_size(out[0]->dtype());
    const char* off = bytes(*in[2]);
    const char* on = off + es;
    const AxisView v(out[0]->dims(), axis_);
    for (int64_t i = 0; i < out[0]->numel(); ++i) std::memcpy(bytes(out[0]) + i * static_cast<int64_t>(es), off, es);
    for (int64_t a = 0; a < v.outer; ++a)
      for (int64_t c = 0; c < v.inner; ++c) {
        int64_t k = saturate_cast<int64_t>(in[0]->value_at(a * v.inner + c));
        if (k < 0) k += depth_;
        if (k < 0 || k >= depth_) continue;  // out of range: all off
        std::memcpy(bytes(out[0]) + ((a * v.n + k) * v.inner + c) * static_cast<int64_t>(es), on, es);
      }
  }

 private:
  int64_t depth_ = 1;
  size_t axis_ = 0;
};

}  // namespace

std::unique_ptr<OpKernel> make_arg_extreme(const Node&, int variant) { return std::make_unique<ArgExtreme>(variant == 0); }
std::unique_ptr<OpKernel> make_topk(const Node&, int) { return std::make_unique<TopK>(); }
std::unique_ptr<OpKernel> make_hardmax(const Node&, int) { return std::make_unique<Hardmax>(); }
std::unique_ptr<OpKernel> make_cumsum(const Node&, int) { return std::make_unique<CumSum>(); }
std::unique_ptr<OpKernel> make_gather_elements(const Node&, int) { return std::make_unique<GatherElements>(); }
std::unique_ptr<OpKernel> make_scatter_elements(const Node&, int) { return std::make_unique<ScatterElements>(); }
std::unique_ptr<OpKernel> make_gather_nd(const Node&, int) { return std::make_unique<GatherND>(); }
std::unique_ptr<OpKernel> make_scatter_nd(const Node&, int) { return std::make_unique<ScatterND>(); }
std::unique_ptr<OpKernel> make_one_hot(const Node&, int) { return std::make_unique<OneHot>(); }

}  // namespace bnfold::ops
