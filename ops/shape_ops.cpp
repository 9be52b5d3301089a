// Shape-only ops whose result the planner knows when the session is created,
// and view-like ops that copy data unchanged: Shape Size Flatten Reshape
// Squeeze Unsqueeze Identity-like copies. They work on any dtype.
#include <algorithm>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

class ShapeOp : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const auto& d = ctx.dims(0);
    const auto rank = static_cast<int64_t>(d.size());
    int64_t start = 0, end = rank;
    if (ctx.opset() >= 15) {
      const Node& n = ctx.node();
      if (n.has_attr("start")) start = n.attr_int("start");
      if (n.has_attr("end")) end = n.attr_int("end");
    }
    auto clamp = [rank](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
    start = clamp(start);
    end = clamp(end);
    std::vector<int64_t> out(d.begin() + start, d.begin() + std::max(start, end));
    ctx.set_output_value(0, int64_tensor(out, {static_cast<int64_t>(out.size())}));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {}
};

class SizeOp : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.set_output_value(0, int64_tensor({product(ctx.dims(0))}, {}));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {}
};

// Ops that only reinterpret the shape: the bytes are copied unchanged.
class Reshaping : public OpKernel {
 public:
  explicit Reshaping(ReshapeOp op) : op_(op) {}
  DataMovement movement() const override { return {DataMovement::Kind::View, {}, {}, {}}; }

  void infer(InferContext& ctx) override {
    const auto& in = ctx.dims(0);
    std::vector<int64_t> out;
    if (op_ == ReshapeOp::Flatten) {
      int64_t axis = ctx.node().attr_int("axis");
      if (axis < 0) axis += static_cast<int64_t>(in.size());
      BNFOLD_NODE_CHECK(ctx, axis >= 0 && axis <= static_cast<int64_t>(in.size()),
                        "axis {} out of range for rank {}", ctx.node().attr_int("axis"), in.size());
      out = {product(in, 0, static_cast<size_t>(axis)), product(in, static_cast<size_t>(axis))};
    } else if (op_ == ReshapeOp::Reshape) {
      out = reshape_dims(ctx, in);
    } else if (op_ == ReshapeOp::Squeeze) {
      out = squeeze_dims(ctx, in);
    } else if (op_ == ReshapeOp::Unsqueeze) {
      out = unsqueeze_dims(ctx, in);
    }
    BNFOLD_NODE_CHECK(ctx, product(out) == product(in), "cannot reshape {} into {}",
                      Shape::of(in).str(), Shape::of(out).str());
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    copy_bytes(*in[0], out[0]);
  }

 private:
  static std::vector<int64_t> reshape_dims(InferContext& ctx, const std::vector<int64_t>& in) {
    std::vector<int64_t> shape;
    if (ctx.opset() < 5) shape = ctx.node().attr_ints("shape");
    else shape = ctx.constant_ints(1, "shape");
    const bool allowzero = ctx.opset() >= 14 && ctx.node().attr_int("allowzero") != 0;
    int64_t known = 1, infer_at = -1;
    for (size_t k = 0; k < shape.size(); ++k) {
      if (shape[k] == 0 && !allowzero) {
        BNFOLD_NODE_CHECK(ctx, k < in.size(), "shape entry {} is 0 but the input has rank {}", k, in.size());
        shape[k] = in[k];
      }
      if (shape[k] == -1) {
        BNFOLD_NODE_CHECK(ctx, infer_at < 0, "shape has more than one -1");
        infer_at = static_cast<int64_t>(k);
        continue;
      }
      BNFOLD_NODE_CHECK(ctx, shape[k] >= 0, "invalid shape entry {}", shape[k]);
      known = checked_mul(known, shape[k]);
    }
    if (infer_at >= 0) {
      BNFOLD_NODE_CHECK(ctx, known != 0 && product(in) % known == 0, "cannot reshape {} into {}",
                        Shape::of(in).str(), Shape::of(shape).str());
      shape[static_cast<size_t>(infer_at)] = product(in) / known;
    }
    return shape;
  }

  static std::vector<int64_t> axes_of(InferContext& ctx, bool* given) {
    *given = true;
    if (ctx.opset() >= 13) {
      if (!ctx.has_input(1)) {
        *given = false;
        return {};
      }
      return ctx.constant_ints(1, "axes");
    }
    if (!ctx.node().has_attr("axes")) {
      *given = false;
      return {};
    }
    return ctx.node().attr_ints("axes");
  }

  static std::vector<int64_t> squeeze_dims(InferContext& ctx, const std::vector<int64_t>& in) {
    bool given;
    std::vector<int64_t> axes = axes_of(ctx, &given);
    std::vector<bool> drop(in.size(), false);
    if (!given) {
      for (size_t k = 0; k < in.size(); ++k) drop[k] = in[k] == 1;
    }
    for (int64_t a : axes) {
      const int64_t k = normalize_axis(ctx, a, in.size());
      BNFOLD_NODE_CHECK(ctx, in[static_cast<size_t>(k)] == 1, "cannot squeeze axis {} of size {}", a,
                        in[static_cast<size_t>(k)]);
      drop[static_cast<size_t>(k)] = true;
    }
    std::vector<int64_t> out;
    for (size_t k = 0; k < in.size(); ++k)
      if (!drop[k]) out.push_back(in[k]);
    return out;
  }

  static std::vector<int64_t> unsqueeze_dims(InferContext& ctx, const std::vector<int64_t>& in) {
    bool given;
    const std::vector<int64_t> axes = axes_of(ctx, &given);
    BNFOLD_NODE_CHECK(ctx, given, "axes are required");
    const size_t rank = in.size() + axes.size();
    std::vector<bool> inserted(rank, false);
    for (int64_t a : axes) {
      const int64_t k = normalize_axis(ctx, a, rank);
      BNFOLD_NODE_CHECK(ctx, !inserted[static_cast<size_t>(k)], "axis {} is given twice", a);
      inserted[static_cast<size_t>(k)] = true;
    }
    std::vector<int64_t> out;
    size_t next = 0;
    for (size_t k = 0; k < rank; ++k) out.push_back(inserted[k] ? 1 : in[next++]);
    return out;
  }

  ReshapeOp op_;
};

}  // namespace

std::unique_ptr<OpKernel> make_shape(const Node&, int) { return std::make_unique<ShapeOp>(); }
std::unique_ptr<OpKernel> make_size(const Node&, int) { return std::make_unique<SizeOp>(); }
std::unique_ptr<OpKernel> make_reshaping(const Node&, int variant) {
  return std::make_unique<Reshaping>(static_cast<ReshapeOp>(variant));
}

}  // namespace bnfold::ops
