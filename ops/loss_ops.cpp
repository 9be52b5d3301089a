// Loss functions, reference kernels in double: NegativeLogLikelihoodLoss and
// SoftmaxCrossEntropyLoss (which is the former on a log-softmax over axis 1,
// and may give that log-softmax as its second output). An evaluation graph
// exported with its loss runs them.
#include <cmath>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

class Loss : public OpKernel {
 public:
  explicit Loss(bool softmax) : softmax_(softmax) {}

  void infer(InferContext& ctx) override {
    const auto& x = ctx.dims(0);
    const auto& t = ctx.dims(1);
    const char* op = softmax_ ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss";
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)), "{} of {} data", op, dtype_name(ctx.dtype(0)));
    BNFOLD_NODE_CHECK(ctx, ctx.dtype(1) == DType::Int32 || ctx.dtype(1) == DType::Int64, "the target is {}, not an integer",
                      dtype_name(ctx.dtype(1)));
    BNFOLD_NODE_CHECK(ctx, x.size() >= 2, "the input must be [N, C, ...], not rank {}", x.size());
    std::vector<int64_t> want = x;
    want.erase(want.begin() + 1);
    BNFOLD_NODE_CHECK(ctx, t == want, "the target {} must be {} (the input without its class axis)", Shape::of(t).str(),
                      Shape::of(want).str());
    if (ctx.has_input(2))
      BNFOLD_NODE_CHECK(ctx, ctx.dims(2) == std::vector<int64_t>{x[1]}, "the weights must be [{}]", x[1]);
    const std::string r = ctx.node().attr_string("reduction");
    BNFOLD_NODE_CHECK(ctx, r == "none" || r == "sum" || r == "mean", "reduction '{}' (none, sum or mean)", r);
    reduction_ = r;
    has_ignore_ = ctx.node().has_attr("ignore_index");
    ignore_ = has_ignore_ ? ctx.node().attr_int("ignore_index") : 0;
    ctx.set_output(0, ctx.dtype(0), r == "none" ? t : std::vector<int64_t>{});
    if (softmax_ && ctx.num_outputs() > 1) ctx.set_output(1, ctx.dtype(0), x);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    Tensor x = to_float64(*in[0]);
    const auto& d = x.dims();
    const int64_t n = d[0], c = d[1], inner = product(d, 2);
    double* px = x.mutable_data_as<double>();
    if (softmax_)  // log-softmax over the class axis, in place
      for (int64_t b = 0; b < n; ++b)
        for (int64_t i = 0; i < inner; ++i) {
          double m = -INFINITY, s = 0;
          for (int64_t k = 0; k < c; ++k) m = std::max(m, px[(b * c + k) * inner + i]);
          for (int64_t k = 0; k < c; ++k) s += std::exp(px[(b * c + k) * inner + i] - m);
          for (int64_t k = 0; k < c; ++k) px[(b * c + k) * inner + i] -= m + std::log(s);
        }
    const Tensor* w = in.size() > 2 ? in[2] : nullptr;
    Tensor loss(DType::Float64, reduction_ == "none" ? in[1]->dims() : std::vector<int64_t>{});
    Tensor each(DType::Float64, in[1]->dims());
    double total = 0, weights = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t i = 0; i < inner; ++i) {
        const auto target = int_at(*in[1], b * inner + i);
        double v = 0, wt = 0;
        if (!(has_ignore_ && target == ignore_)) {
          if (target < 0 || target >= c)
            failf(ErrorCode::InvalidArgument, "{}: target {} is outside the {} classes",
                  softmax_ ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss", target, c);
          wt = w ? w->value_at(target) : 1.0;
          v = -px[(b * c + target) * inner + i] * wt;
        }
        each.mutable_data_as<double>()[b * inner + i] = v;
        total += v, weights += wt;
      }
    if (reduction_ == "none") loss = each;
    else loss.mutable_data_as<double>()[0] = reduction_ == "sum" ? total : total / weights;
    cast_into(loss, out[0]);
    if (softmax_ && out.size() > 1 && out[1]) cast_into(x, out[1]);
  }

 private:
  bool softmax_;
  std::string reduction_ = "mean";
  bool has_ignore_ = false;
  int64_t ignore_ = 0;
};

}  // namespace

std::unique_ptr<OpKernel> make_loss(const Node&, int variant) { return std::make_unique<Loss>(variant == 1); }

}  // namespace bnfold::ops
