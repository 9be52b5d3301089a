// Element-wise unary ops (activations and math), reference kernels. Each op is
// one formula on double; float16/bfloat16 go through float32.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

struct Params {
  double alpha = 0, beta = 0, gamma = 0;
};

using UnaryFn = double (*)(double, const Params&);

struct UnaryDef {
  const char* op;
  UnaryFn fn;
  bool allows_int;  // also defined on integer types
};

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// In UnaryOp's order (checked below).
const UnaryDef kUnary[] = {
    {"Relu", [](double x, const Params&) { return x > 0 ? x : 0.0; }, true},
    {"LeakyRelu", [](double x, const Params& p) { return x < 0 ? p.alpha * x : x; }, false},
    {"Elu", [](double x, const Params& p) { return x < 0 ? p.alpha * (std::exp(x) - 1) : x; }, false},
    {"Celu", [](double x, const Params& p) { return std::max(0.0, x) + std::min(0.0, p.alpha * (std::exp(x / p.alpha) - 1)); }, false},
    {"Selu", [](double x, const Params& p) { return p.gamma * (x <= 0 ? p.alpha * (std::exp(x) - 1) : x); }, false},
    {"ThresholdedRelu", [](double x, const Params& p) { return x > p.alpha ? x : 0.0; }, false},
    {"Sigmoid", [](double x, const Params&) { return sigmoid(x); }, false},
    {"HardSigmoid", [](double x, const Params& p) { return std::max(0.0, std::min(1.0, p.alpha * x + p.beta)); }, false},
    {"HardSwish", [](double x, const Params&) { return x * std::max(0.0, std::min(1.0, x / 6 + 0.5)); }, false},
    {"Tanh", [](double x, const Params&) { return std::tanh(x); }, false},
    {"Softplus", [](double x, const Params&) { return x > 30 ? x : std::log1p(std::exp(x)); }, false},
    {"Softsign", [](double x, const Params&) { return x / (1 + std::fabs(x)); }, false},
    {"Exp", [](double x, const Params&) { return std::exp(x); }, false},
    {"Log", [](double x, const Params&) { return std::log(x); }, false},
    {"Sqrt", [](double x, const Params&) { return std::sqrt(x); }, false},
    {"Reciprocal", [](double x, const Params&) { return 1.0 / x; }, false},
    {"Abs", [](double x, const Params&) { return std::fabs(x); }, true},
    {"Neg", [](double x, const Params&) { return -x; }, true},
    {"Sign", [](double x, const Params&) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }, true},
    {"Floor", [](double x, const Params&) { return std::floor(x); }, false},
    {"Ceil", [](double x, const Params&) { return std::ceil(x); }, false},
    {"Round", [](double x, const Params&) { return std::nearbyint(x); }, false},  // ties to even
    {"Erf", [](double x, const Params&) { return std::erf(x); }, false},
    {"Sin", [](double x, const Params&) { return std::sin(x); }, false},
    {"Cos", [](double x, const Params&) { return std::cos(x); }, false},
    {"Tan", [](double x, const Params&) { return std::tan(x); }, false},
    {"Asin", [](double x, const Params&) { return std::asin(x); }, false},
    {"Acos", [](double x, const Params&) { return std::acos(x); }, false},
    {"Atan", [](double x, const Params&) { return std::atan(x); }, false},
    {"Sinh", [](double x, const Params&) { return std::sinh(x); }, false},
    {"Cosh", [](double x, const Params&) { return std::cosh(x); }, false},
    {"Asinh", [](double x, const Params&) { return std::asinh(x); }, false},
    {"Acosh", [](double x, const Params&) { return std::acosh(x); }, false},
    {"Atanh", [](double x, const Params&) { return std::atanh(x); }, false},
    {"Identity", [](double x, const Params&) { return x; }, true},
};

static_assert(sizeof(kUnary) / sizeof(kUnary[0]) == static_cast<size_t>(UnaryOp::Identity) + 1,
              "kUnary lists every UnaryOp with a formula, in order");

template <typename T>
void apply(UnaryFn fn, const Params& p, const Tensor& in, Tensor* out) {
  const T* x = in.data_as<T>();
  T* y = out->mutable_data_as<T>();
  for (int64_t i = 0; i < in.numel(); ++i) {
    const double v = fn(static_cast<double>(x[i]), p);
    if constexpr (std::is_integral_v<T>) {
      y[i] = saturate_cast<T>(v);  // Neg/Abs of INT_MIN saturate instead of being undefined
    } else {
      y[i] = static_cast<T>(v);
    }
  }
}

void apply_any(UnaryFn fn, const Params& p, const Tensor& in, Tensor* out) {
  const DType t = in.dtype();
  if (t == DType::Float16 || t == DType::BFloat16) {
    Tensor f = to_float32(in);
    Tensor r(DType::Float32, in.dims());
    apply<float>(fn, p, f, &r);
    store_from_float32(r, out);
    return;
  }
  dispatch_numeric(t, [&](auto tag) { apply<decltype(tag)>(fn, p, in, out); });
}

class Unary : public OpKernel {
 public:
  explicit Unary(UnaryOp op) : op_(op), def_(kUnary[static_cast<size_t>(op)]) {}
  DataMovement movement() const override {
    return {op_ == UnaryOp::Identity ? DataMovement::Kind::View : DataMovement::Kind::None, {}, {}, {}};
  }

  void infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    // Identity moves any tensor (a Loop body passes its bool condition through).
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(t) || (def_.allows_int && t != DType::Bool) ||
                               (op_ == UnaryOp::Identity && t != DType::String),
                      "{} is not defined on {} data", def_.op, dtype_name(t));
    const Node& n = ctx.node();
    switch (op_) {
      case UnaryOp::Selu: p_.gamma = n.attr_float("gamma"); [[fallthrough]];
      case UnaryOp::LeakyRelu:
      case UnaryOp::Elu:
      case UnaryOp::Celu:
      case UnaryOp::ThresholdedRelu: p_.alpha = n.attr_float("alpha"); break;
      case UnaryOp::HardSigmoid:
        p_.alpha = n.attr_float("alpha");
        p_.beta = n.attr_float("beta");
        break;
      default: break;
    }
    ctx.set_output(0, t, ctx.dims(0));
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    if (op_ == UnaryOp::Identity) copy_bytes(*in[0], out[0]);
    else apply_any(def_.fn, p_, *in[0], out[0]);
  }

 private:
  UnaryOp op_;
  const UnaryDef& def_;
  Params p_;
};

// Clip: bounds from attributes (opset < 11) or optional inputs (may be run-time values).
class Clip : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const DType t = ctx.dtype(0);
    BNFOLD_NODE_CHECK(ctx, t != DType::Bool && t != DType::String, "Clip is not defined on {} data",
                      dtype_name(t));
    if (ctx.opset() < 11) {
      lo_ = ctx.node().attr_float("min");
      hi_ = ctx.node().attr_float("max");
    }
    ctx.set_output(0, t, ctx.dims(0));
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    double lo = lo_, hi = hi_;
    if (in.size() > 1 && in[1]) lo = in[1]->value_at(0);
    if (in.size() > 2 && in[2]) hi = in[2]->value_at(0);
    Params p;
    p.alpha = lo;
    p.beta = hi;
    apply_any([](double x, const Params& q) { return std::min(std::max(x, q.alpha), q.beta); }, p,
              *in[0], out[0]);
  }

 private:
  double lo_ = -std::numeric_limits<double>::infinity();
  double hi_ = std::numeric_limits<double>::infinity();
};

// Dropout at inference: the identity, and an all-true mask when asked for.
class Dropout : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    // Inference is the identity only when training_mode is off: its value is
    // needed now (a graph input makes the plan depend on it).
    if (ctx.has_input(2) && ctx.constant(2, "training_mode").value_at(0) != 0) {
      // Training with ratio 0 drops nothing; any other ratio is random.
      const double ratio = ctx.has_input(1) ? ctx.constant(1, "ratio").value_at(0) : 0.5;
      BNFOLD_NODE_CHECK(ctx, ratio == 0, "training_mode=1 with ratio {} (random dropout) is not supported", ratio);
    }
    ctx.set_output(0, ctx.dtype(0), ctx.dims(0));
    mask_ = ctx.has_output(1);
    if (mask_) ctx.set_output(1, DType::Bool, ctx.dims(0));
  }
  // Without a mask to write, inference Dropout is the identity.
  DataMovement movement() const override {
    return {mask_ ? DataMovement::Kind::None : DataMovement::Kind::View, {}, {}, {}};
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    copy_bytes(*in[0], out[0]);
    if (out.size() > 1 && out[1]) {
      auto* m = out[1]->mutable_data_as<uint8_t>();
      for (int64_t i = 0; i < out[1]->numel(); ++i) m[i] = 1;
    }
  }

 private:
  bool mask_ = false;
};

}  // namespace

std::unique_ptr<OpKernel> make_unary(const Node&, int variant) {
  return std::make_unique<Unary>(static_cast<UnaryOp>(variant));
}
const char* unary_name(UnaryOp op) {
  if (op == UnaryOp::Clip) return "Clip";
  if (op == UnaryOp::Dropout) return "Dropout";
  return kUnary[static_cast<size_t>(op)].op;
}

std::unique_ptr<OpKernel> make_clip(const Node&, int) { return std::make_unique<Clip>(); }
std::unique_ptr<OpKernel> make_dropout(const Node&, int) { return std::make_unique<Dropout>(); }

}  // namespace bnfold::ops
