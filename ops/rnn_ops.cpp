// Recurrent layers, reference kernels in double: RNN, GRU and LSTM (opset 7,
// and 14's batch-first layout), forward, reverse or bidirectional, with
// per-sequence lengths, initial states, clipping, LSTM peepholes and
// input_forget, GRU's linear_before_reset, and every activation ONNX names.
#include <algorithm>
#include <cmath>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

struct Activation {
  std::string name;
  double alpha = 0, beta = 0;
  double operator()(double x) const {
    if (name == "Tanh") return std::tanh(x);
    if (name == "Sigmoid") return 1 / (1 + std::exp(-x));
    if (name == "Relu") return std::max(x, 0.0);
    if (name == "Affine") return alpha * x + beta;
    if (name == "LeakyRelu") return x >= 0 ? x : alpha * x;
    if (name == "ThresholdedRelu") return x > alpha ? x : 0;
    if (name == "ScaledTanh") return alpha * std::tanh(beta * x);
    if (name == "HardSigmoid") return std::clamp(alpha * x + beta, 0.0, 1.0);
    if (name == "Elu") return x >= 0 ? x : alpha * (std::exp(x) - 1);
    if (name == "Softsign") return x / (1 + std::fabs(x));
    return std::log1p(std::exp(x));  // Softplus
  }
};

// Default alpha and beta of the activations that take them (ONNX's table).
bool activation_defaults(const std::string& name, double* alpha, double* beta) {
  if (name == "Affine") return *alpha = 1, *beta = 0, true;
  if (name == "LeakyRelu") return *alpha = 0.01, true;
  if (name == "ThresholdedRelu") return *alpha = 1, true;
  if (name == "ScaledTanh") return *alpha = 1, *beta = 1, true;
  if (name == "HardSigmoid") return *alpha = 0.2, *beta = 0.5, true;
  if (name == "Elu") return *alpha = 1, true;
  return false;
}

enum Kind { kRnn = 0, kGru = 1, kLstm = 2 };
const char* const kNames[] = {"RNN", "GRU", "LSTM"};

class Recurrent : public OpKernel {
 public:
  explicit Recurrent(int kind) : kind_(kind), gates_(kind == kRnn ? 1 : kind == kGru ? 3 : 4) {}

  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    const auto& x = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)) && x.size() == 3, "X must be a float 3-D tensor");
    layout_ = ctx.opset() >= 14 ? n.attr_int("layout") : 0;
    const std::string dir = n.attr_string("direction");
    BNFOLD_NODE_CHECK(ctx, dir == "forward" || dir == "reverse" || dir == "bidirectional", "direction '{}'", dir);
    dirs_ = dir == "bidirectional" ? 2 : 1;
    reverse_only_ = dir == "reverse";
    const auto& w = ctx.dims(1);
    BNFOLD_NODE_CHECK(ctx, w.size() == 3 && w[0] == dirs_ && w[1] % gates_ == 0, "W {} must be [{}, {} x hidden, input]",
                      Shape::of(w).str(), dirs_, gates_);
    hidden_ = n.has_attr("hidden_size") ? n.attr_int("hidden_size") : w[1] / gates_;
    BNFOLD_NODE_CHECK(ctx, w[1] == gates_ * hidden_ && w[2] == x[2], "W {} does not fit hidden_size {} and input {}",
                      Shape::of(w).str(), hidden_, x[2]);
    BNFOLD_NODE_CHECK(ctx, ctx.dims(2) == (std::vector<int64_t>{dirs_, gates_ * hidden_, hidden_}), "R {} must be [{}, {}, {}]",
                      Shape::of(ctx.dims(2)).str(), dirs_, gates_ * hidden_, hidden_);
    if (ctx.has_input(3))
      BNFOLD_NODE_CHECK(ctx, ctx.dims(3) == (std::vector<int64_t>{dirs_, 2 * gates_ * hidden_}), "B must be [{}, {}]",
                        dirs_, 2 * gates_ * hidden_);
    const int64_t batch = x[layout_ ? 0 : 1];
    const std::vector<int64_t> state = layout_ ? std::vector<int64_t>{batch, dirs_, hidden_}
                                               : std::vector<int64_t>{dirs_, batch, hidden_};
    if (ctx.has_input(4))
      BNFOLD_NODE_CHECK(ctx, ctx.dims(4) == std::vector<int64_t>{batch}, "sequence_lens must be [{}]", batch);
    for (size_t i : {size_t{5}, size_t{6}})
      if (ctx.has_input(i))
        BNFOLD_NODE_CHECK(ctx, ctx.dims(i) == state, "input {} must be {}, not {}", i, Shape::of(state).str(),
                          Shape::of(ctx.dims(i)).str());
    if (ctx.has_input(7))
      BNFOLD_NODE_CHECK(ctx, ctx.dims(7) == (std::vector<int64_t>{dirs_, 3 * hidden_}), "P must be [{}, {}]", dirs_,
                        3 * hidden_);
    clip_ = n.has_attr("clip") ? n.attr_float("clip") : 0;
    if (kind_ == kGru) linear_before_reset_ = n.attr_int("linear_before_reset") != 0;
    if (kind_ == kLstm) input_forget_ = n.attr_int("input_forget") != 0;
    read_activations(ctx);
    const int64_t seq = x[layout_ ? 1 : 0];
    const DType t = ctx.dtype(0);
    if (layout_) {
      ctx.set_output(0, t, {batch, seq, dirs_, hidden_});
      for (size_t o = 1; o < ctx.num_outputs(); ++o) ctx.set_output(o, t, {batch, dirs_, hidden_});
    } else {
      ctx.set_output(0, t, {seq, dirs_, batch, hidden_});
      for (size_t o = 1; o < ctx.num_outputs(); ++o) ctx.set_output(o, t, {dirs_, batch, hidden_});
    }
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const Tensor x = to_float64(*in[0]), w = to_float64(*in[1]), r = to_float64(*in[2]);
    auto opt = [&](size_t i) { return in.size() > i && in[i] ? to_float64(*in[i]) : Tensor(); };
    const Tensor b = opt(3), lens = in.size() > 4 && in[4] ? *in[4] : Tensor(), h0 = opt(5), c0 = opt(6), p = opt(7);
    const auto& xd = x.dims();
    const int64_t seq = xd[layout_ ? 1 : 0], batch = xd[layout_ ? 0 : 1], input = xd[2], H = hidden_, G = gates_;
    Tensor y(DType::Float64, out[0] ? out[0]->dims() : std::vector<int64_t>{seq, dirs_, batch, H});
    Tensor yh(DType::Float64, layout_ ? std::vector<int64_t>{batch, dirs_, H} : std::vector<int64_t>{dirs_, batch, H});
    Tensor yc(DType::Float64, yh.dims());
    std::fill_n(y.mutable_data_as<double>(), y.numel(), 0.0);
    auto xat = [&](int64_t t, int64_t bi) { return x.data_as<double>() + (layout_ ? bi * seq + t : t * batch + bi) * input; };
    auto state_at = [&](int64_t d, int64_t bi) { return layout_ ? (bi * dirs_ + d) * H : (d * batch + bi) * H; };
    std::vector<double> g(static_cast<size_t>(G * H)), rg(static_cast<size_t>(G * H));
    for (int64_t d = 0; d < dirs_; ++d) {
      const double* W = w.data_as<double>() + d * G * H * input;
      const double* R = r.data_as<double>() + d * G * H * H;
      const double* Wb = b.empty() ? nullptr : b.data_as<double>() + d * 2 * G * H;
      const double* P = p.empty() ? nullptr : p.data_as<double>() + d * 3 * H;
      const Activation* act = &acts_[static_cast<size_t>(d) * (acts_.size() / static_cast<size_t>(dirs_))];
      const bool backward = reverse_only_ || d == 1;
      for (int64_t bi = 0; bi < batch; ++bi) {
        const int64_t len = lens.empty() ? seq : int_at(lens, bi);
        if (len < 0 || len > seq) failf(ErrorCode::InvalidArgument, "{}: sequence length {} outside 0..{}", kNames[kind_], len, seq);
        std::vector<double> h(static_cast<size_t>(H), 0.0), c(static_cast<size_t>(H), 0.0);
        if (!h0.empty()) std::copy_n(h0.data_as<double>() + state_at(d, bi), H, h.begin());
        if (!c0.empty()) std::copy_n(c0.data_as<double>() + state_at(d, bi), H, c.begin());
        for (int64_t k = 0; k < len; ++k) {
          const int64_t t = backward ? len - 1 - k : k;
          const double* xt = xat(t, bi);
          for (int64_t j = 0; j < G * H; ++j) {  // x W^T + Wb, and h R^T + Rb apart (GRU needs them apart)
            double a = Wb ? Wb[j] : 0, e = Wb ? Wb[G * H + j] : 0;
            for (int64_t i = 0; i < input; ++i) a += xt[i] * W[j * input + i];
            for (int64_t i = 0; i < H; ++i) e += h[static_cast<size_t>(i)] * R[j * H + i];
            g[static_cast<size_t>(j)] = a, rg[static_cast<size_t>(j)] = e;
          }
          step(act, P, g, rg, R, Wb, &h, &c);
          double* yt = y.mutable_data_as<double>() + (layout_ ? ((bi * seq + t) * dirs_ + d) * H : ((t * dirs_ + d) * batch + bi) * H);
          std::copy(h.begin(), h.end(), yt);
        }
        std::copy(h.begin(), h.end(), yh.mutable_data_as<double>() + state_at(d, bi));
        std::copy(c.begin(), c.end(), yc.mutable_data_as<double>() + state_at(d, bi));
      }
    }
    if (out[0]) cast_into(y, out[0]);
    if (out.size() > 1 && out[1]) cast_into(yh, out[1]);
    if (out.size() > 2 && out[2]) cast_into(yc, out[2]);
  }

 private:
  double clipped(double v) const { return clip_ > 0 ? std::clamp(v, -clip_, clip_) : v; }

  // One time step from the gate sums g (x W^T + Wb) and rg (h R^T + Rb).
  void step(const Activation* f, const double* P, const std::vector<double>& g, const std::vector<double>& rg,
            const double* R, const double* Wb, std::vector<double>* h, std::vector<double>* c) const {
    const int64_t H = hidden_;
    auto at = [](const std::vector<double>& v, int64_t i) { return v[static_cast<size_t>(i)]; };
    if (kind_ == kRnn) {
      for (int64_t i = 0; i < H; ++i) (*h)[static_cast<size_t>(i)] = f[0](clipped(at(g, i) + at(rg, i)));
      return;
    }
    if (kind_ == kGru) {  // gates z, r, h
      std::vector<double> r(static_cast<size_t>(H)), next(static_cast<size_t>(H));
      for (int64_t i = 0; i < H; ++i) r[static_cast<size_t>(i)] = f[0](clipped(at(g, H + i) + at(rg, H + i)));
      for (int64_t i = 0; i < H; ++i) {
        const double z = f[0](clipped(at(g, i) + at(rg, i)));
        double cand;
        if (linear_before_reset_) {
          cand = at(g, 2 * H + i) + at(r, i) * at(rg, 2 * H + i);
        } else {  // (r * h) R_h^T + Rb_h
          double e = Wb ? Wb[3 * H + 2 * H + i] : 0;
          for (int64_t k = 0; k < H; ++k) e += at(r, k) * (*h)[static_cast<size_t>(k)] * R[(2 * H + i) * H + k];
          cand = at(g, 2 * H + i) + e;
        }
        const double hh = f[1](clipped(cand));
        next[static_cast<size_t>(i)] = (1 - z) * hh + z * (*h)[static_cast<size_t>(i)];
      }
      *h = next;
      return;
    }
    for (int64_t i = 0; i < H; ++i) {  // LSTM: gates i, o, f, c; peepholes i, o, f
      const double cp = (*c)[static_cast<size_t>(i)];
      const double ig = f[0](clipped(at(g, i) + at(rg, i) + (P ? P[i] * cp : 0)));
      const double fg = input_forget_ ? 1 - ig : f[0](clipped(at(g, 2 * H + i) + at(rg, 2 * H + i) + (P ? P[2 * H + i] * cp : 0)));
      const double cc = f[1](clipped(at(g, 3 * H + i) + at(rg, 3 * H + i)));
      const double cn = fg * cp + ig * cc;
      const double og = f[0](clipped(at(g, H + i) + at(rg, H + i) + (P ? P[H + i] * cn : 0)));
      (*c)[static_cast<size_t>(i)] = cn;
      (*h)[static_cast<size_t>(i)] = og * f[2](cn);
    }
  }

  void read_activations(InferContext& ctx) {
    const Node& n = ctx.node();
    const std::vector<std::string> defaults =
        kind_ == kRnn ? std::vector<std::string>{"Tanh"} : kind_ == kGru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                                         : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
    std::vector<std::string> names;
    if (n.has_attr("activations")) {
      const Attribute& a = n.attrs().at("activations");
      BNFOLD_NODE_CHECK(ctx, a.kind == AttrKind::Strings, "activations must be a list of strings");
      names = a.strings;
    } else {
      for (int64_t d = 0; d < dirs_; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
    }
    BNFOLD_NODE_CHECK(ctx, names.size() == defaults.size() * static_cast<size_t>(dirs_),
                      "{} activations; {} {} needs {}", names.size(), kNames[kind_], n.attr_string("direction"),
                      defaults.size() * static_cast<size_t>(dirs_));
    const auto alphas = n.has_attr("activation_alpha") ? n.attr_floats("activation_alpha") : std::vector<float>{};
    const auto betas = n.has_attr("activation_beta") ? n.attr_floats("activation_beta") : std::vector<float>{};
    size_t ka = 0, kb = 0;
    acts_.clear();
    for (const auto& name : names) {
      static const char* const kKnown[] = {"Tanh", "Sigmoid", "Relu", "Affine", "LeakyRelu", "ThresholdedRelu",
                                           "ScaledTanh", "HardSigmoid", "Elu", "Softsign", "Softplus"};
      BNFOLD_NODE_CHECK(ctx, std::find(std::begin(kKnown), std::end(kKnown), name) != std::end(kKnown),
                        "activation '{}' is not one ONNX defines", name);
      Activation a{name};
      if (activation_defaults(name, &a.alpha, &a.beta)) {
        if (ka < alphas.size()) a.alpha = alphas[ka++];
        if ((name == "Affine" || name == "ScaledTanh" || name == "HardSigmoid") && kb < betas.size()) a.beta = betas[kb++];
      }
      acts_.push_back(a);
    }
  }

  int kind_;
  int64_t gates_, hidden_ = 0, dirs_ = 1, layout_ = 0;
  bool reverse_only_ = false, linear_before_reset_ = false, input_forget_ = false;
  double clip_ = 0;
  std::vector<Activation> acts_;
};

}  // namespace

std::unique_ptr<OpKernel> make_rnn(const Node&, int variant) { return std::make_unique<Recurrent>(variant); }

}  // namespace bnfold::ops
