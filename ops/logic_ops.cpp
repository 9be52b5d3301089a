// Logic, selection and integer ops, reference kernels: Not, And, Or, Xor,
// Where, Mod, BitShift, IsInf, IsNaN. Broadcasting as numpy.
#include <cmath>
#include <cstring>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

const char* const kLogicNames[] = {"And", "Or", "Xor"};

class Not : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(0) == DType::Bool, "Not takes bool data, not {}", dtype_name(ctx.dtype(0)));
    ctx.set_output(0, DType::Bool, ctx.dims(0));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto* a = in[0]->data_as<uint8_t>();
    auto* o = out[0]->mutable_data_as<uint8_t>();
    for (int64_t i = 0; i < out[0]->numel(); ++i) o[i] = !a[i];
  }
};

// And, Or, Xor (variant 0, 1, 2) on bool tensors.
class Logic : public OpKernel {
 public:
  explicit Logic(int op) : op_(op) {}
  void infer(InferContext& ctx) override {
    for (size_t i = 0; i < 2; ++i)
      BNFOLD_NODE_CHECK(ctx, ctx.dtype(i) == DType::Bool, "{} takes bool inputs; input {} is {}", kLogicNames[op_], i,
                        dtype_name(ctx.dtype(i)));
    ctx.set_output(0, DType::Bool, broadcast_dims(ctx, ctx.dims(0), ctx.dims(1)));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const BroadcastWalker wa(out[0]->dims(), in[0]->dims()), wb(out[0]->dims(), in[1]->dims());
    const auto* a = in[0]->data_as<uint8_t>();
    const auto* b = in[1]->data_as<uint8_t>();
    auto* o = out[0]->mutable_data_as<uint8_t>();
    for (int64_t i = 0; i < out[0]->numel(); ++i) {
      const bool x = a[wa.identity() ? i : wa.offsets()[static_cast<size_t>(i)]] != 0;
      const bool y = b[wb.identity() ? i : wb.offsets()[static_cast<size_t>(i)]] != 0;
      o[i] = op_ == 0 ? (x && y) : op_ == 1 ? (x || y) : (x != y);
    }
  }

 private:
  int op_;
};

// out = condition ? x : y, the three broadcast together; any dtype.
class Where : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(0) == DType::Bool, "the condition is {}, not bool", dtype_name(ctx.dtype(0)));
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(1) == ctx.dtype(2), "X is {} but Y is {}", dtype_name(ctx.dtype(1)),
                      dtype_name(ctx.dtype(2)));
    const auto dims = broadcast_dims(ctx, broadcast_dims(ctx, ctx.dims(0), ctx.dims(1)), ctx.dims(2));
    ctx.set_output(0, ctx.dtype(1), dims);
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const auto& d = out[0]->dims();
    const BroadcastWalker wc(d, in[0]->dims()), wx(d, in[1]->dims()), wy(d, in[2]->dims());
    const size_t es = dtype_size(out[0]->dtype());
    const auto* c = in[0]->data_as<uint8_t>();
    const auto* x = static_cast<const char*>(in[1]->data());
    const auto* y = static_cast<const char*>(in[2]->data());
    auto* o = static_cast<char*>(out[0]->mutable_data());
    auto at = [](const BroadcastWalker& w, int64_t i) { return w.identity() ? i : w.offsets()[static_cast<size_t>(i)]; };
    for (int64_t i = 0; i < out[0]->numel(); ++i) {
      const char* src = c[at(wc, i)] ? x + at(wx, i) * static_cast<int64_t>(es) : y + at(wy, i) * static_cast<int64_t>(es);
      std::memcpy(o + i * static_cast<int64_t>(es), src, es);
    }
  }
};

// Mod: integer remainder with the divisor's sign (Python's %), or with
// fmod=1 the dividend's sign (C's fmod; required for floats). A zero divisor
// gives 0 for integers (ONNX leaves it open: never trap).
template <typename T>
T mod(T a, T b, bool fmod_sign) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(std::fmod(a, b));
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return 0;  // INT_MIN % -1 traps in C++
      T r = static_cast<T>(a % b);
      if (!fmod_sign && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
      return r;
    } else {
      return static_cast<T>(a % b);
    }
  }
}

class Mod : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(1) == t, "A is {} but B is {}", dtype_name(t), dtype_name(ctx.dtype(1)));
    BNFOLD_NODE_CHECK(ctx, t != DType::Bool && t != DType::String, "Mod is not defined on {} data", dtype_name(t));
    fmod_ = ctx.node().attr_int("fmod") != 0;
    const bool is_float = t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
    BNFOLD_NODE_CHECK(ctx, fmod_ || !is_float, "fmod=0 is only defined for integers; {} needs fmod=1", dtype_name(t));
    ctx.set_output(0, t, broadcast_dims(ctx, ctx.dims(0), ctx.dims(1)));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const DType t = in[0]->dtype();
    if (t == DType::Float16 || t == DType::BFloat16) {
      const Tensor a = to_float32(*in[0]), b = to_float32(*in[1]);
      Tensor r(DType::Float32, out[0]->dims());
      apply<float>(a, b, &r);
      store_from_float32(r, out[0]);
      return;
    }
    dispatch_numeric(t, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, bool>) apply<T>(*in[0], *in[1], out[0]);
    });
  }

 private:
  template <typename T>
  void apply(const Tensor& a, const Tensor& b, Tensor* out) const {
    const BroadcastWalker wa(out->dims(), a.dims()), wb(out->dims(), b.dims());
    const T* pa = a.data_as<T>();
    const T* pb = b.data_as<T>();
    T* po = out->mutable_data_as<T>();
    for (int64_t i = 0; i < out->numel(); ++i)
      po[i] = mod(pa[wa.identity() ? i : wa.offsets()[static_cast<size_t>(i)]],
                  pb[wb.identity() ? i : wb.offsets()[static_cast<size_t>(i)]], fmod_);
  }
  bool fmod_ = false;
};

// BitShift on unsigned integers; shifts of the width or more give 0.
class BitShift : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    BNFOLD_NODE_CHECK(ctx, t == DType::UInt8 || t == DType::UInt16 || t == DType::UInt32 || t == DType::UInt64,
                      "BitShift takes unsigned integers, not {}", dtype_name(t));
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(1) == t, "X is {} but Y is {}", dtype_name(t), dtype_name(ctx.dtype(1)));
    const std::string dir = ctx.node().attr_string("direction");
    BNFOLD_NODE_CHECK(ctx, dir == "LEFT" || dir == "RIGHT", "direction '{}' is neither LEFT nor RIGHT", dir);
    left_ = dir == "LEFT";
    ctx.set_output(0, t, broadcast_dims(ctx, ctx.dims(0), ctx.dims(1)));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    dispatch_numeric(in[0]->dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
        const BroadcastWalker wa(out[0]->dims(), in[0]->dims()), wb(out[0]->dims(), in[1]->dims());
        const T* a = in[0]->data_as<T>();
        const T* b = in[1]->data_as<T>();
        T* o = out[0]->mutable_data_as<T>();
        for (int64_t i = 0; i < out[0]->numel(); ++i) {
          const T x = a[wa.identity() ? i : wa.offsets()[static_cast<size_t>(i)]];
          const T s = b[wb.identity() ? i : wb.offsets()[static_cast<size_t>(i)]];
          o[i] = s >= sizeof(T) * 8 ? T{0} : static_cast<T>(left_ ? x << s : x >> s);
        }
      }
    });
  }

 private:
  bool left_ = true;
};

// IsInf (detect_positive, detect_negative) and IsNaN on float data.
class IsSpecial : public OpKernel {
 public:
  explicit IsSpecial(bool nan) : nan_(nan) {}
  void infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    BNFOLD_NODE_CHECK(ctx, t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16,
                      "takes float data, not {}", dtype_name(t));
    if (!nan_) {
      pos_ = ctx.node().attr_int("detect_positive") != 0;
      neg_ = ctx.node().attr_int("detect_negative") != 0;
    }
    ctx.set_output(0, DType::Bool, ctx.dims(0));
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    auto* o = out[0]->mutable_data_as<uint8_t>();
    for (int64_t i = 0; i < in[0]->numel(); ++i) {
      const double v = in[0]->value_at(i);
      o[i] = nan_ ? std::isnan(v) : std::isinf(v) && ((v > 0 && pos_) || (v < 0 && neg_));
    }
  }

 private:
  bool nan_, pos_ = true, neg_ = true;
};

}  // namespace

std::unique_ptr<OpKernel> make_not(const Node&, int) { return std::make_unique<Not>(); }
std::unique_ptr<OpKernel> make_logic(const Node&, int variant) { return std::make_unique<Logic>(variant); }
std::unique_ptr<OpKernel> make_where(const Node&, int) { return std::make_unique<Where>(); }
std::unique_ptr<OpKernel> make_mod(const Node&, int) { return std::make_unique<Mod>(); }
std::unique_ptr<OpKernel> make_bitshift(const Node&, int) { return std::make_unique<BitShift>(); }
std::unique_ptr<OpKernel> make_is_special(const Node&, int variant) { return std::make_unique<IsSpecial>(variant != 0); }

}  // namespace bnfold::ops
