// Element-wise binary and variadic ops with numpy broadcasting, reference
// kernels: Add Sub Mul Div Pow Max Min Sum Mean PRelu, and comparisons.
#include <algorithm>
#include <cmath>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

using Bin = BinaryOp;

bool is_comparison(Bin b) { return b >= Bin::Equal; }

// The op names for messages, in BinaryOp's order.
const char* const kNames[] = {"Add", "Sub",  "Mul",   "Div",  "Pow",     "Max",         "Min",           "Sum",
                              "Mean", "PRelu", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(Bin::GreaterOrEqual) + 1);

// Integer Add/Sub/Mul wrap around; integer division by zero gives 0 and
// INT_MIN / -1 gives INT_MIN (ONNX leaves both undefined: never trap).
template <typename T>
T combine(Bin op, T a, T b) {
  switch (op) {
    case Bin::Add:
    case Bin::Sum:
    case Bin::Mean: return wrapping(a, b, [](auto x, auto y) { return x + y; });  // Mean divides at the end
    case Bin::Sub: return wrapping(a, b, [](auto x, auto y) { return x - y; });
    case Bin::Mul: return wrapping(a, b, [](auto x, auto y) { return x * y; });
    case Bin::Div:
      if constexpr (std::is_integral_v<T>) {
        if (b == 0) return 0;
        if constexpr (std::is_signed_v<T>)
          if (b == -1) return wrapping(T{0}, a, [](auto x, auto y) { return x - y; });
      }
      return static_cast<T>(a / b);
    case Bin::Max: return a > b || a != a ? a : b;  // NaN propagates, as in numpy
    case Bin::Min: return a < b || a != a ? a : b;
    case Bin::PRelu: return a < 0 ? wrapping(a, b, [](auto x, auto y) { return x * y; }) : a;
    default: return a;
  }
}

template <typename T>
bool compare(Bin op, T a, T b) {
  switch (op) {
    case Bin::Equal: return a == b;
    case Bin::Less: return a < b;
    case Bin::Greater: return a > b;
    case Bin::LessOrEqual: return a <= b;
    case Bin::GreaterOrEqual: return a >= b;
    default: return false;
  }
}

// out = a (op) b with broadcasting; a, b, out of type T (out bool for comparisons).
template <typename T>
void binary(Bin op, const Tensor& a, const Tensor& b, Tensor* out) {
  const BroadcastWalker wa(out->dims(), a.dims()), wb(out->dims(), b.dims());
  const T* pa = a.data_as<T>();
  const T* pb = b.data_as<T>();
  const int64_t n = out->numel();
  auto ia = [&](int64_t i) { return wa.identity() ? i : wa.offsets()[static_cast<size_t>(i)]; };
  auto ib = [&](int64_t i) { return wb.identity() ? i : wb.offsets()[static_cast<size_t>(i)]; };
  if (is_comparison(op)) {
    auto* po = out->mutable_data_as<uint8_t>();
    for (int64_t i = 0; i < n; ++i) po[i] = compare(op, pa[ia(i)], pb[ib(i)]);
    return;
  }
  T* po = out->mutable_data_as<T>();
  for (int64_t i = 0; i < n; ++i) po[i] = combine(op, pa[ia(i)], pb[ib(i)]);
}

void binary_any(Bin op, const Tensor& a, const Tensor& b, Tensor* out) {
  const DType t = a.dtype();
  if (t == DType::Float16 || t == DType::BFloat16) {
    Tensor fa = to_float32(a), fb = to_float32(b);
    Tensor r(is_comparison(op) ? DType::Bool : DType::Float32, out->dims());
    binary<float>(op, fa, fb, &r);
    if (is_comparison(op)) copy_bytes(r, out);
    else store_from_float32(r, out);
    return;
  }
  dispatch_numeric(t, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      binary<uint8_t>(op, a, b, out);
    } else {
      binary<T>(op, a, b, out);
    }
  });
}

// Add Sub Mul Div Max Min Sum Mean PRelu and comparisons; variadic ones fold
// their inputs left to right.
class Binary : public OpKernel {
 public:
  explicit Binary(Bin op) : name_(kNames[static_cast<size_t>(op)]), op_(op) {}

  void infer(InferContext& ctx) override {
    BNFOLD_NODE_CHECK(ctx, ctx.num_inputs() >= 1, "needs at least one input");
    const DType t = ctx.dtype(0);
    BNFOLD_NODE_CHECK(ctx, t != DType::String && (t != DType::Bool || is_comparison(op_)),
                      "{} is not defined on {} data", name_, dtype_name(t));
    std::vector<int64_t> dims = ctx.dims(0);
    for (size_t i = 1; i < ctx.num_inputs(); ++i) {
      BNFOLD_NODE_CHECK(ctx, ctx.dtype(i) == t, "input {} is {} but input 0 is {}", i,
                        dtype_name(ctx.dtype(i)), dtype_name(t));
      if (op_ == Bin::PRelu) {
        // The slope broadcasts to X. Before opset 7 a 1-D slope of size C is
        // per channel (axis 1), not numpy-aligned to the last axis.
        const auto& x = ctx.dims(0);
        const auto& slope = ctx.dims(1);
        if (ctx.opset() < 7 && slope.size() == 1 && x.size() > 2 && slope[0] == x[1] && slope[0] > 1) {
          slope_dims_.assign(x.size() - 1, 1);
          slope_dims_[0] = slope[0];
        } else {
          // Unidirectional: the slope broadcasts to X, X's shape is the output.
          BNFOLD_NODE_CHECK(ctx, slope.size() <= x.size() && broadcast_dims(ctx, x, slope) == x,
                            "slope {} does not broadcast to X {}", Shape::of(slope).str(), Shape::of(x).str());
        }
        continue;
      }
      dims = broadcast_dims(ctx, dims, ctx.dims(i));
    }
    ctx.set_output(0, is_comparison(op_) ? DType::Bool : t, dims);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    if (in.size() == 1) {
      copy_bytes(*in[0], out[0]);
      return;
    }
    if (in.size() == 2) {
      if (!slope_dims_.empty()) {
        const Tensor slope = Tensor::borrow(in[1]->dtype(), slope_dims_, const_cast<void*>(in[1]->data()));
        binary_any(op_, *in[0], slope, out[0]);
        return;
      }
      binary_any(op_, *in[0], *in[1], out[0]);
    } else {
      // Broadcast partial results can be smaller than the output: keep the
      // running result in its own shape.
      Tensor acc = in[0]->clone();
      for (size_t i = 1; i < in.size(); ++i) {
        std::vector<int64_t> dims = acc.dims();
        const auto& b = in[i]->dims();
        const size_t rank = std::max(dims.size(), b.size());
        std::vector<int64_t> d(rank);
        for (size_t k = 0; k < rank; ++k) {
          const int64_t x = k < rank - dims.size() ? 1 : dims[k - (rank - dims.size())];
          const int64_t y = k < rank - b.size() ? 1 : b[k - (rank - b.size())];
          d[k] = x == 1 ? y : x;
        }
        Tensor next(acc.dtype(), d);
        binary_any(op_, acc, *in[i], &next);
        acc = std::move(next);
      }
      copy_bytes(acc, out[0]);
    }
    if (op_ == Bin::Mean && in.size() > 1) {
      dispatch_real(out[0]->dtype(), [&](auto tag) {
        using T = decltype(tag);
        const Real<T> sum(*out[0]);
        Tensor f(Real<T>::kind(), out[0]->dims());
        T* p = f.mutable_data_as<T>();
        for (int64_t i = 0; i < f.numel(); ++i) p[i] = sum.p[i] / static_cast<T>(in.size());
        store_real(f, out[0]);
      });
    }
  }

 private:
  const char* name_;
  Bin op_;
  std::vector<int64_t> slope_dims_;  // PRelu before opset 7: a per-channel view of the slope
};

// x^e for integers, exact and wrapping around like integer Mul (e read as an
// exact integer: ONNX's integer exponents); a negative e gives 1/x^|e|
// truncated: 1 for x = 1, +-1 for x = -1, 0 otherwise (x = 0 too).
template <typename T>
T int_pow(T x, double e_value) {
  if (e_value < 0) {
    if (x == 1) return 1;
    if constexpr (std::is_signed_v<T>)
      if (x == -1) return std::fmod(e_value, 2.0) == 0 ? T{1} : T{-1};
    return 0;
  }
  auto e = static_cast<uint64_t>(std::min(e_value, 1.8e19));
  T result = 1;
  while (e) {
    if (e & 1) result = wrapping(result, x, [](auto p, auto q) { return p * q; });
    x = wrapping(x, x, [](auto p, auto q) { return p * q; });
    e >>= 1;
  }
  return result;
}

// Pow: the exponent may have another type than the base; computed in double
// for floats, exactly for integers.
class Pow : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.set_output(0, ctx.dtype(0), broadcast_dims(ctx, ctx.dims(0), ctx.dims(1)));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const Tensor& a = *in[0];
    const Tensor& b = *in[1];
    const BroadcastWalker wa(out[0]->dims(), a.dims()), wb(out[0]->dims(), b.dims());
    const int64_t n = out[0]->numel();
    Tensor r(DType::Float64, out[0]->dims());
    double* pr = r.mutable_data_as<double>();
    for (int64_t i = 0; i < n; ++i) {
      const double x = a.value_at(wa.identity() ? i : wa.offsets()[static_cast<size_t>(i)]);
      const double y = b.value_at(wb.identity() ? i : wb.offsets()[static_cast<size_t>(i)]);
      pr[i] = std::pow(x, y);
    }
    Tensor* o = out[0];
    if (dtype_is_float(o->dtype())) {
      store_from_float32(to_float32(r), o);
      if (o->dtype() == DType::Float64) copy_bytes(r, o);
      return;
    }
    const bool int_exponent = !dtype_is_float(b.dtype());
    dispatch_numeric(o->dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* po = o->mutable_data_as<T>();
      if constexpr (std::is_integral_v<T>) {
        for (int64_t i = 0; i < n; ++i) {
          if (!int_exponent) {  // an integer base, a float exponent: truncated, saturating
            po[i] = saturate_cast<T>(pr[i]);
            continue;
          }
          const auto x = static_cast<T>(a.value_at(wa.identity() ? i : wa.offsets()[static_cast<size_t>(i)]));
          po[i] = int_pow(x, b.value_at(wb.identity() ? i : wb.offsets()[static_cast<size_t>(i)]));
        }
      } else {
        for (int64_t i = 0; i < n; ++i) po[i] = static_cast<T>(pr[i]);
      }
    });
  }
};

}  // namespace

std::unique_ptr<OpKernel> make_binary(const Node&, int variant) {
  const auto op = static_cast<Bin>(variant);
  if (op == Bin::Pow) return std::make_unique<Pow>();
  return std::make_unique<Binary>(op);
}

const char* binary_name(BinaryOp op) { return kNames[static_cast<size_t>(op)]; }

}  // namespace bnfold::ops
