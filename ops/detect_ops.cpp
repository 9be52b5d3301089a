// Ops of detection heads and spatial transformers, reference kernels in
// double: NonMaxSuppression, RoiAlign, GridSample.
//
// NonMaxSuppression's output size depends on the boxes and scores: where
// they are computed at run time, the plan stops before it and it runs on the
// run's values (runtime/stages.cpp).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ops/op_util.hpp"
#include "ops/ops.hpp"

namespace bnfold::ops {

namespace {

// Greedy suppression over `order` (boxes as corners y1 x1 y2 x2): a box is
// kept unless it overlaps a kept one by more than iou_max. Only boxes that
// intersect can overlap by more than iou_max >= 0, so each candidate is
// checked against the kept boxes sharing a cell of a grid over the boxes'
// extent, not against all of them: a detector's thousands of boxes (27,000 in
// ssdlite's batched NMS) otherwise cost n x kept IoUs.
std::vector<int64_t> keep(const double* c, const std::vector<int64_t>& order, int64_t max_out, double iou_max) {
  const auto box = [&](int64_t i) { return c + i * 4; };
  auto iou = [&](int64_t p, int64_t q) {
    const double* a = box(p);
    const double* b = box(q);
    const double h = std::max(0.0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
    const double w = std::max(0.0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
    const double inter = h * w, uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return inter <= 0 || uni <= 0 ? 0.0 : inter / uni;
  };
  double lo[2] = {HUGE_VAL, HUGE_VAL}, hi[2] = {-HUGE_VAL, -HUGE_VAL};
  for (int64_t i : order)
    for (int a = 0; a < 2; ++a) {
      lo[a] = std::min(lo[a], box(i)[a]);
      hi[a] = std::max(hi[a], box(i)[a + 2]);
    }
  constexpr int64_t kCells = 64;  // per axis
  const bool finite = std::isfinite(lo[0]) && std::isfinite(lo[1]) && std::isfinite(hi[0]) && std::isfinite(hi[1]);
  const double step[2] = {std::max((hi[0] - lo[0]) / kCells, 1e-12), std::max((hi[1] - lo[1]) / kCells, 1e-12)};
  const auto cell = [&](double v, int a) {
    // Clamped as a double: an extent that overflows makes the quotient NaN or infinite.
    const double c = std::floor((v - lo[a]) / step[a]);
    return static_cast<int64_t>(c >= 0 ? std::min(c, static_cast<double>(kCells - 1)) : 0.0);
  };
  std::vector<std::vector<int64_t>> grid(static_cast<size_t>(kCells * kCells));
  std::vector<int64_t> wide;  // kept boxes over many cells (or not finite): checked by every candidate
  std::vector<int64_t> kept;
  for (int64_t i : order) {
    if (static_cast<int64_t>(kept.size()) >= max_out) break;
    const double* bi = box(i);
    const bool on_grid = finite && std::isfinite(bi[0]) && std::isfinite(bi[1]) && std::isfinite(bi[2]) &&
                         std::isfinite(bi[3]);
    int64_t y0 = 0, y1 = kCells - 1, x0 = 0, x1 = kCells - 1;
    if (on_grid) y0 = cell(bi[0], 0), y1 = cell(bi[2], 0), x0 = cell(bi[1], 1), x1 = cell(bi[3], 1);
    bool suppressed = std::any_of(wide.begin(), wide.end(), [&](int64_t j) { return iou(i, j) > iou_max; });
    if (!on_grid) suppressed = suppressed || std::any_of(kept.begin(), kept.end(), [&](int64_t j) { return iou(i, j) > iou_max; });
    for (int64_t y = y0; y <= y1 && on_grid && !suppressed; ++y)
      for (int64_t x = x0; x <= x1 && !suppressed; ++x)
        for (int64_t j : grid[static_cast<size_t>(y * kCells + x)])
          if (iou(i, j) > iou_max) {
            suppressed = true;
            break;
          }
    if (suppressed) continue;
    kept.push_back(i);
    if (!on_grid || (y1 - y0 + 1) * (x1 - x0 + 1) > 16) {
      wide.push_back(i);
      continue;
    }
    for (int64_t y = y0; y <= y1; ++y)
      for (int64_t x = x0; x <= x1; ++x) grid[static_cast<size_t>(y * kCells + x)].push_back(i);
  }
  return kept;
}

class NonMaxSuppression : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const Tensor& boxes = ctx.constant(0, "the boxes, which decide the output's size");
    const Tensor& scores = ctx.constant(1, "the scores, which decide the output's size");
    BNFOLD_NODE_CHECK(ctx, boxes.rank() == 3 && boxes.dims()[2] == 4, "boxes must be [batch, boxes, 4], not {}",
                      boxes.describe());
    BNFOLD_NODE_CHECK(ctx, scores.rank() == 3 && scores.dims()[0] == boxes.dims()[0] &&
                               scores.dims()[2] == boxes.dims()[1],
                      "scores {} must be [batch, classes, boxes] for boxes {}", scores.describe(), boxes.describe());
    for (size_t i = 2; i < 5; ++i)
      if (ctx.has_input(i))
        BNFOLD_NODE_CHECK(ctx, product(ctx.dims(i)) == 1, "input {} must hold one value, not {}", i, product(ctx.dims(i)));
    const int64_t max_out = ctx.has_input(2) ? int_at(ctx.constant(2, "max_output_boxes_per_class"), 0) : 0;
    const double iou_max = ctx.has_input(3) ? ctx.constant(3, "iou_threshold").value_at(0) : 0;
    const bool has_floor = ctx.has_input(4);
    const double floor = has_floor ? ctx.constant(4, "score_threshold").value_at(0) : 0;
    BNFOLD_NODE_CHECK(ctx, iou_max >= 0 && iou_max <= 1, "iou_threshold {} is outside [0, 1]", iou_max);
    const bool center = ctx.node().attr_int("center_point_box") != 0;
    const int64_t batches = boxes.dims()[0], n = boxes.dims()[1], classes = scores.dims()[1];
    // Corners (y1, x1, y2, x2), ordered, per box.
    std::vector<double> c(static_cast<size_t>(batches * n * 4));
    for (int64_t i = 0; i < batches * n; ++i) {
      double a = boxes.value_at(i * 4), b = boxes.value_at(i * 4 + 1), e = boxes.value_at(i * 4 + 2),
             f = boxes.value_at(i * 4 + 3);
      double* corner = &c[static_cast<size_t>(i * 4)];
      if (center) {  // [x_center, y_center, width, height]
        corner[0] = b - f / 2, corner[1] = a - e / 2, corner[2] = b + f / 2, corner[3] = a + e / 2;
      } else {
        corner[0] = std::min(a, e), corner[1] = std::min(b, f), corner[2] = std::max(a, e), corner[3] = std::max(b, f);
      }
    }
    std::vector<int64_t> out;
    std::vector<double> score(static_cast<size_t>(n));
    for (int64_t b = 0; b < batches; ++b)
      for (int64_t k = 0; k < classes; ++k) {
        std::vector<int64_t> order;
        for (int64_t i = 0; i < n; ++i) {
          score[static_cast<size_t>(i)] = scores.value_at((b * classes + k) * n + i);
          if (!has_floor || score[static_cast<size_t>(i)] > floor) order.push_back(i);
        }
        // Highest score first; equal scores in box order (as ONNX Runtime).
        std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
          return score[static_cast<size_t>(p)] > score[static_cast<size_t>(q)];
        });
        for (int64_t i : keep(&c[static_cast<size_t>(b * n * 4)], order, max_out, iou_max))
          out.insert(out.end(), {b, k, i});
      }
    ctx.set_output_value(0, int64_tensor(out, {static_cast<int64_t>(out.size() / 3), 3}));
  }
  void run(const std::vector<const Tensor*>&, const std::vector<Tensor*>&) const override {}
};

// RoiAlign: each box's bins averaged (or maxed) over sampling points, each a
// bilinear read of the feature map, as Mask R-CNN and ONNX Runtime compute it.
class RoiAlign : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    const auto& x = ctx.dims(0);
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)) && x.size() == 4, "X must be a float [N, C, H, W] tensor");
    BNFOLD_NODE_CHECK(ctx, x[2] > 0 && x[3] > 0, "X has an empty feature map ({}x{})", x[2], x[3]);
    BNFOLD_NODE_CHECK(ctx, ctx.dims(1).size() == 2 && ctx.dims(1)[1] == 4, "rois must be [num_rois, 4]");
    BNFOLD_NODE_CHECK(ctx, ctx.dims(2) == std::vector<int64_t>{ctx.dims(1)[0]}, "batch_indices must be [num_rois]");
    const std::string mode = n.attr_string("mode");
    BNFOLD_NODE_CHECK(ctx, mode == "avg" || mode == "max", "mode '{}' (avg or max)", mode);
    max_ = mode == "max";
    half_pixel_ = ctx.opset() >= 16 && n.attr_string("coordinate_transformation_mode") == "half_pixel";
    oh_ = n.attr_int("output_height"), ow_ = n.attr_int("output_width");
    ratio_ = n.attr_int("sampling_ratio");
    scale_ = n.attr_float("spatial_scale");
    BNFOLD_NODE_CHECK(ctx, oh_ > 0 && ow_ > 0 && ratio_ >= 0, "output size {}x{}, sampling_ratio {}", oh_, ow_, ratio_);
    ctx.set_output(0, ctx.dtype(0), {ctx.dims(1)[0], x[1], oh_, ow_});
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    // float32 is read in place; other float types through a float64 copy.
    const bool f32 = in[0]->dtype() == DType::Float32;
    const Tensor x64 = f32 ? Tensor() : to_float64(*in[0]);
    const auto& d = in[0]->dims();
    const int64_t H = d[2], W = d[3];
    Tensor y(DType::Float64, out[0]->dims());
    double* py = y.mutable_data_as<double>();
    const double off = half_pixel_ ? 0.5 : 0;
    // Per box, each bin's samples as 4 corner offsets and weights, the same
    // for every channel: computed once per box, not per channel.
    struct Corner {
      int64_t at[4];
      double w[4];
    };
    std::vector<Corner> corners;
    for (int64_t r = 0; r < out[0]->dims()[0]; ++r) {
      const auto b = int_at(*in[2], r);
      if (b < 0 || b >= d[0]) failf(ErrorCode::InvalidArgument, "RoiAlign: batch index {} outside 0..{}", b, d[0] - 1);
      const double x1 = in[1]->value_at(r * 4) * scale_ - off, y1 = in[1]->value_at(r * 4 + 1) * scale_ - off;
      double rw = in[1]->value_at(r * 4 + 2) * scale_ - off - x1, rh = in[1]->value_at(r * 4 + 3) * scale_ - off - y1;
      if (!half_pixel_) rw = std::max(rw, 1.0), rh = std::max(rh, 1.0);
      const double bh = rh / static_cast<double>(oh_), bw = rw / static_cast<double>(ow_);
      const double ah = ratio_ > 0 ? static_cast<double>(ratio_) : std::ceil(rh / static_cast<double>(oh_));
      const double aw = ratio_ > 0 ? static_cast<double>(ratio_) : std::ceil(rw / static_cast<double>(ow_));
      if (!(ah * aw <= 1e6) && !(ah <= 0 || aw <= 0))  // NaN or astronomically large boxes
        failf(ErrorCode::InvalidArgument, "RoiAlign: box {} needs {} x {} samples per bin", r, ah, aw);
      const auto gh = static_cast<int64_t>(std::max(ah, 0.0)), gw = static_cast<int64_t>(std::max(aw, 0.0));
      const double count = static_cast<double>(std::max<int64_t>(gh * gw, 1));
      corners.clear();
      for (int64_t ph = 0; ph < oh_; ++ph)
        for (int64_t pw = 0; pw < ow_; ++pw)
          for (int64_t iy = 0; iy < gh; ++iy)
            for (int64_t ix = 0; ix < gw; ++ix) {
              double yy = y1 + static_cast<double>(ph) * bh + (static_cast<double>(iy) + 0.5) * bh / static_cast<double>(gh);
              double xx = x1 + static_cast<double>(pw) * bw + (static_cast<double>(ix) + 0.5) * bw / static_cast<double>(gw);
              Corner c{{0, 0, 0, 0}, {0, 0, 0, 0}};
              if (yy >= -1 && yy <= static_cast<double>(H) && xx >= -1 && xx <= static_cast<double>(W)) {
                yy = std::max(yy, 0.0), xx = std::max(xx, 0.0);
                auto yl = static_cast<int64_t>(yy), xl = static_cast<int64_t>(xx);
                int64_t yh = yl + 1, xh = xl + 1;
                if (yl >= H - 1) yh = yl = H - 1, yy = static_cast<double>(yl);
                if (xl >= W - 1) xh = xl = W - 1, xx = static_cast<double>(xl);
                const double ly = yy - static_cast<double>(yl), lx = xx - static_cast<double>(xl);
                const double hy = 1 - ly, hx = 1 - lx;
                c = Corner{{yl * W + xl, yl * W + xh, yh * W + xl, yh * W + xh}, {hy * hx, hy * lx, ly * hx, ly * lx}};
              }
              corners.push_back(c);
            }
      const size_t per_bin = static_cast<size_t>(gh * gw);
      const auto pool = [&](const auto* plane, double* dst) {
        const Corner* c = corners.data();
        for (int64_t bin = 0; bin < oh_ * ow_; ++bin) {
          double acc = max_ ? -INFINITY : 0;
          for (size_t k = 0; k < per_bin; ++k, ++c) {
            const double v[4] = {c->w[0] * plane[c->at[0]], c->w[1] * plane[c->at[1]], c->w[2] * plane[c->at[2]],
                                 c->w[3] * plane[c->at[3]]};
            // max mode: the largest weighted corner, as ONNX Runtime computes it
            if (max_) acc = std::max({acc, v[0], v[1], v[2], v[3]});
            else acc += v[0] + v[1] + v[2] + v[3];
          }
          dst[bin] = max_ ? (per_bin ? acc : 0) : acc / count;
        }
      };
      for (int64_t ch = 0; ch < d[1]; ++ch) {
        const int64_t plane_at = (b * d[1] + ch) * H * W;
        double* dst = py + (r * d[1] + ch) * oh_ * ow_;
        if (f32) pool(in[0]->data_as<float>() + plane_at, dst);
        else pool(x64.data_as<double>() + plane_at, dst);
      }
    }
    cast_into(y, out[0]);
  }

 private:
  bool max_ = false, half_pixel_ = true;
  int64_t oh_ = 1, ow_ = 1, ratio_ = 0;
  double scale_ = 1;
};

// GridSample (4-D), as PyTorch's grid_sample: bilinear, nearest or bicubic
// reads at grid coordinates in [-1, 1], with zeros, border or reflection padding.
class GridSample : public OpKernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    const auto& x = ctx.dims(0);
    const auto& g = ctx.dims(1);
    BNFOLD_NODE_CHECK(ctx, dtype_is_float(ctx.dtype(0)) && x.size() == 4, "X must be a float [N, C, H, W] tensor");
    BNFOLD_NODE_CHECK(ctx, g.size() == 4 && g[0] == x[0] && g[3] == 2, "grid {} must be [N, H_out, W_out, 2]",
                      Shape::of(g).str());
    const std::string mode = n.attr_string("mode"), pad = n.attr_string("padding_mode");
    BNFOLD_NODE_CHECK(ctx, mode == "bilinear" || mode == "nearest" || mode == "bicubic", "mode '{}'", mode);
    BNFOLD_NODE_CHECK(ctx, pad == "zeros" || pad == "border" || pad == "reflection", "padding_mode '{}'", pad);
    mode_ = mode == "bilinear" ? 0 : mode == "nearest" ? 1 : 2;
    pad_ = pad == "zeros" ? 0 : pad == "border" ? 1 : 2;
    align_ = n.attr_int("align_corners") != 0;
    ctx.set_output(0, ctx.dtype(0), {x[0], x[1], g[1], g[2]});
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) const override {
    const Tensor x = to_float64(*in[0]), g = to_float64(*in[1]);
    const auto& d = x.dims();
    const auto& od = out[0]->dims();
    const int64_t H = d[2], W = d[3];
    Tensor y(DType::Float64, od);
    double* py = y.mutable_data_as<double>();
    for (int64_t b = 0; b < d[0]; ++b)
      for (int64_t i = 0; i < od[2] * od[3]; ++i) {
        const double gx = g.data_as<double>()[(b * od[2] * od[3] + i) * 2];
        const double gy = g.data_as<double>()[(b * od[2] * od[3] + i) * 2 + 1];
        const double ix = unnormalize(gx, W), iy = unnormalize(gy, H);
        for (int64_t ch = 0; ch < d[1]; ++ch) {
          const double* plane = x.data_as<double>() + (b * d[1] + ch) * H * W;
          auto at = [&](double cx, double cy) {  // a tap (whole coordinates), through the padding
            cx = pad_coord(cx, W), cy = pad_coord(cy, H);
            return at0(plane, cx, cy, W, H);
          };
          double v = 0;
          if (mode_ == 1) {
            v = at(std::nearbyint(pad_coord(ix, W)), std::nearbyint(pad_coord(iy, H)));
          } else if (mode_ == 0) {
            const double px = pad_coord(ix, W), py_ = pad_coord(iy, H);
            const double x0 = std::floor(px), y0 = std::floor(py_), tx = px - x0, ty = py_ - y0;
            v = at0(plane, x0, y0, W, H) * (1 - tx) * (1 - ty) + at0(plane, x0 + 1, y0, W, H) * tx * (1 - ty) +
                at0(plane, x0, y0 + 1, W, H) * (1 - tx) * ty + at0(plane, x0 + 1, y0 + 1, W, H) * tx * ty;
          } else {  // bicubic: the padding applies to each of the 4x4 taps
            const double x0 = std::floor(ix), y0 = std::floor(iy), tx = ix - x0, ty = iy - y0;
            double rows[4];
            for (int r = 0; r < 4; ++r)
              rows[r] = cubic(at(x0 - 1, y0 - 1 + r), at(x0, y0 - 1 + r), at(x0 + 1, y0 - 1 + r), at(x0 + 2, y0 - 1 + r), tx);
            v = cubic(rows[0], rows[1], rows[2], rows[3], ty);
          }
          py[((b * d[1] + ch) * od[2] * od[3]) + i] = v;
        }
      }
    cast_into(y, out[0]);
  }

 private:
  double unnormalize(double c, int64_t size) const {
    const auto s = static_cast<double>(size);
    return align_ ? (c + 1) / 2 * (s - 1) : ((c + 1) * s - 1) / 2;
  }
  static double reflect(double c, double twice_lo, double twice_hi) {
    if (twice_lo == twice_hi) return 0;
    const double lo = twice_lo / 2, span = (twice_hi - twice_lo) / 2;
    c = std::fabs(c - lo);
    const double extra = std::fmod(c, span);
    return std::fmod(std::floor(c / span), 2.0) == 0 ? extra + lo : span - extra + lo;
  }
  double pad_coord(double c, int64_t size) const {
    const auto s = static_cast<double>(size);
    if (pad_ == 0) return c;
    if (pad_ == 2) c = align_ ? reflect(c, 0, 2 * (s - 1)) : reflect(c, -1, 2 * s - 1);
    return std::min(s - 1, std::max(c, 0.0));
  }
  // The element at whole coordinates (padded already): zero outside, and for NaN.
  static double at0(const double* plane, double cx, double cy, int64_t W, int64_t H) {
    if (!(cx >= 0 && cy >= 0 && cx < static_cast<double>(W) && cy < static_cast<double>(H))) return 0.0;
    return plane[static_cast<int64_t>(cy) * W + static_cast<int64_t>(cx)];
  }
  static double cubic(double a, double b, double c, double e, double t) {
    const double A = -0.75;
    auto near = [&](double s) { return ((A + 2) * s - (A + 3)) * s * s + 1; };
    auto far = [&](double s) { return ((A * s - 5 * A) * s + 8 * A) * s - 4 * A; };
    return a * far(t + 1) + b * near(t) + c * near(1 - t) + e * far(2 - t);
  }
  int mode_ = 0, pad_ = 0;
  bool align_ = false;
};

}  // namespace

std::unique_ptr<OpKernel> make_non_max_suppression(const Node&, int) { return std::make_unique<NonMaxSuppression>(); }
std::unique_ptr<OpKernel> make_roi_align(const Node&, int) { return std::make_unique<RoiAlign>(); }
std::unique_ptr<OpKernel> make_grid_sample(const Node&, int) { return std::make_unique<GridSample>(); }

}  // namespace bnfold::ops
