#include "passes/layer_folds.hpp"

#include <fmt/format.h>

#include "passes/graph_surgery.hpp"

namespace bnfold {

bool is_foldable_layer(const Node* n) {
  if (!n || !n->domain().empty()) return false;
  const std::string& op = n->op_type();
  return op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "MatMul";
}

namespace {

// How messages name a node.
std::string who(const Node* n) { return node_name(*n); }

std::string float_weights(const Node* n, const Tensor* w) {
  if (!w) return fmt::format("the weights of {} are not constant", who(n));
  if (!dtype_is_float(w->dtype())) return fmt::format("the weights of {} are {}; folding needs float weights",
                                                      who(n), dtype_name(w->dtype()));
  return "";
}

// A conv's constant float weight and its constant bias (nullptr when it has
// none); "" or why not.
std::string conv_params(const Node* conv, const Tensor** w, const Tensor** b) {
  *w = constant_input(conv, 1);
  if (auto why = float_weights(conv, *w); !why.empty()) return why;
  *b = conv->input(2) ? constant_input(conv, 2) : nullptr;
  if (conv->input(2) && !*b) return fmt::format("the bias of {} is not constant", who(conv));
  return "";
}

// Zero padding? (explicit pads all zero, auto_pad NOTSET or VALID)
bool unpadded(const Node* conv) {
  const std::string pad = conv->has_attr("auto_pad") ? conv->attr_string("auto_pad") : "NOTSET";
  if (pad == "VALID") return true;
  if (pad != "NOTSET") return false;
  if (!conv->has_attr("pads")) return true;
  for (int64_t p : conv->attr_ints("pads"))
    if (p != 0) return false;
  return true;
}

std::string fold_conv(Graph& g, Node* conv, const ChannelAffine& a, bool transposed) {
  const Tensor *w = nullptr, *b = nullptr;
  if (auto why = conv_params(conv, &w, &b); !why.empty()) return why;
  const auto& d = w->dims();
  const int64_t group = conv->attr_int("group");
  const int64_t out_channels = transposed ? d[1] * group : d[0];
  if (out_channels != static_cast<int64_t>(a.channels()))
    return fmt::format("BN has {} channels, {} has {} output channels", a.channels(), who(conv), out_channels);
  int64_t inner = 1;
  for (size_t k = 2; k < d.size(); ++k) inner *= d[k];
  // The output channel of each weight element: axis 0 for Conv; for
  // ConvTranspose ([C_in, M/g, k...]) axis 1 within the element's group.
  const int64_t in_per_group = transposed ? d[0] / group : 0;
  auto channel_of = [&](size_t i) -> int64_t {
    const auto e = static_cast<int64_t>(i);
    if (!transposed) return e / (d[1] * inner);
    const int64_t c_in = e / (d[1] * inner), j = (e / inner) % d[1];
    return (c_in / in_per_group) * d[1] + j;
  };
  std::vector<double> wv = doubles(*w);
  for (size_t i = 0; i < wv.size(); ++i) wv[i] *= a.scale[static_cast<size_t>(channel_of(i))];
  std::vector<double> bv(a.channels(), 0.0);
  if (b) bv = doubles(*b);
  for (size_t c = 0; c < bv.size(); ++c) bv[c] = bv[c] * a.scale[c] + a.shift[c];
  Tensor nw, nb;
  if (auto why = store_weights(w->dtype(), d, wv, &nw, channel_of); !why.empty()) return why;
  if (auto why = store_weights(b ? b->dtype() : w->dtype(), {out_channels}, bv, &nb, [](size_t i) { return static_cast<int64_t>(i); });
      !why.empty())
    return why;
  install(g, conv, std::move(nw), std::move(nb));
  return "";
}

// C' for a Gemm whose output columns are scaled: beta * C * s + t, shaped as
// the broadcast of C with [N].
std::string gemm_bias(const Node* gemm, const ChannelAffine& a, const std::vector<double>& extra, double c_scale,
                      bool scale_c, Tensor* out, DType dtype) {
  const auto n = static_cast<int64_t>(a.channels());
  const Tensor* c = gemm->input(2) ? constant_input(gemm, 2) : nullptr;
  if (gemm->input(2) && !c) return fmt::format("C of {} is not constant", who(gemm));
  std::vector<int64_t> dims = {n};
  if (c && c->rank() == 2) dims = {c->dims()[0], n};
  const int64_t rows = dims.size() == 2 ? dims[0] : 1;
  std::vector<double> v(static_cast<size_t>(rows * n));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double cv = 0;
      if (c) {
        // Element (r, j) of C broadcast to [rows, N].
        const auto& cd = c->dims();
        const int64_t cr = cd.size() == 2 && cd[0] > 1 ? r : 0;
        const int64_t cc = !cd.empty() && cd.back() > 1 ? j : 0;
        cv = c->value_at(cd.size() == 2 ? cr * cd[1] + cc : cc);
      }
      const auto uj = static_cast<size_t>(j);
      v[static_cast<size_t>(r * n + j)] = scale_c ? c_scale * cv * a.scale[uj] + a.shift[uj] : c_scale * cv + extra[uj];
    }
  return store_weights(c ? c->dtype() : dtype, dims, v, out, [n](size_t i) { return static_cast<int64_t>(i) % n; });
}

std::string fold_gemm(Graph& g, Node* gemm, const ChannelAffine& a) {
  const Tensor* w = constant_input(gemm, 1);
  if (auto why = float_weights(gemm, w); !why.empty()) return why;
  const bool trans_b = gemm->attr_int("transB") != 0;
  const auto& d = w->dims();
  const int64_t n = trans_b ? d[0] : d[1];
  if (n != static_cast<int64_t>(a.channels()))
    return fmt::format("BN has {} channels, {} has {} outputs", a.channels(), who(gemm), n);
  auto channel_of = [&](size_t i) { return trans_b ? static_cast<int64_t>(i) / d[1] : static_cast<int64_t>(i) % d[1]; };
  std::vector<double> wv = doubles(*w);
  for (size_t i = 0; i < wv.size(); ++i) wv[i] *= a.scale[static_cast<size_t>(channel_of(i))];
  Tensor nw, nc;
  if (auto why = store_weights(w->dtype(), d, wv, &nw, channel_of); !why.empty()) return why;
  if (auto why = gemm_bias(gemm, a, {}, gemm->attr_float("beta"), true, &nc, w->dtype()); !why.empty()) return why;
  install(g, gemm, std::move(nw), std::move(nc));
  gemm->set_attr("beta", Attribute::of_float(1.0f));
  return "";
}

std::string fold_consumer_conv(Graph& g, Node* conv, Value* x, const ChannelAffine& a) {
  if (!unpadded(conv)) return "zero padding makes the fold inexact";
  const Tensor *w = nullptr, *b = nullptr;
  if (auto why = conv_params(conv, &w, &b); !why.empty()) return why;
  const auto& d = w->dims();
  const int64_t group = conv->attr_int("group");
  const int64_t m = d[0], cg = d[1];
  if (cg * group != static_cast<int64_t>(a.channels()))
    return fmt::format("BN has {} channels, {} has {} input channels", a.channels(), who(conv), cg * group);
  int64_t inner = 1;
  for (size_t k = 2; k < d.size(); ++k) inner *= d[k];
  const int64_t mg = m / group;
  // Input channel of weight element (o, i, k...): group(o) * cg + i.
  auto in_channel = [&](int64_t e) { return (e / (cg * inner)) / mg * cg + (e / inner) % cg; };
  std::vector<double> wv = doubles(*w);
  std::vector<double> bv(static_cast<size_t>(m), 0.0);
  if (b) bv = doubles(*b);
  for (size_t i = 0; i < wv.size(); ++i) {
    const auto c = static_cast<size_t>(in_channel(static_cast<int64_t>(i)));
    bv[i / static_cast<size_t>(cg * inner)] += wv[i] * a.shift[c];  // W . t, exact without padding
    wv[i] *= a.scale[c];
  }
  Tensor nw, nb;
  if (auto why = store_weights(w->dtype(), d, wv, &nw, [&](size_t i) { return in_channel(static_cast<int64_t>(i)); });
      !why.empty())
    return why;
  if (auto why = store_weights(b ? b->dtype() : w->dtype(), {m}, bv, &nb, [](size_t i) { return static_cast<int64_t>(i); });
      !why.empty())
    return why;
  g.set_input(conv, 0, x);
  install(g, conv, std::move(nw), std::move(nb));
  return "";
}

std::string fold_consumer_gemm(Graph& g, Node* gemm, Value* x, const ChannelAffine& a) {
  if (gemm->attr_int("transA") != 0) return fmt::format("{} has transA=1: BN's channels are its rows", who(gemm));
  const Tensor* w = constant_input(gemm, 1);
  if (auto why = float_weights(gemm, w); !why.empty()) return why;
  const bool trans_b = gemm->attr_int("transB") != 0;
  const auto& d = w->dims();
  const int64_t k = trans_b ? d[1] : d[0], n = trans_b ? d[0] : d[1];
  if (k != static_cast<int64_t>(a.channels()))
    return fmt::format("BN has {} channels, {} has {} inputs", a.channels(), who(gemm), k);
  auto row_of = [&](size_t i) { return trans_b ? static_cast<int64_t>(i) % d[1] : static_cast<int64_t>(i) / d[1]; };
  std::vector<double> wv = doubles(*w);
  std::vector<double> tb(static_cast<size_t>(n), 0.0);  // alpha * (t . B)
  const double alpha = gemm->attr_float("alpha");
  for (size_t i = 0; i < wv.size(); ++i) {
    const auto kk = static_cast<size_t>(row_of(i));
    const auto col = static_cast<size_t>(trans_b ? static_cast<int64_t>(i) / d[1] : static_cast<int64_t>(i) % d[1]);
    tb[col] += alpha * wv[i] * a.shift[kk];
    wv[i] *= a.scale[kk];
  }
  ChannelAffine cols;  // the new C: beta * C + alpha * (t . B)
  cols.scale.assign(static_cast<size_t>(n), 1.0);
  cols.shift = tb;
  Tensor nw, nc;
  if (auto why = store_weights(w->dtype(), d, wv, &nw, row_of); !why.empty()) return why;
  if (auto why = gemm_bias(gemm, cols, tb, gemm->attr_float("beta"), false, &nc, w->dtype()); !why.empty())
    return why;
  g.set_input(gemm, 0, x);
  install(g, gemm, std::move(nw), std::move(nc));
  gemm->set_attr("beta", Attribute::of_float(1.0f));
  return "";
}

}  // namespace

std::string fold_into_producer(Graph& g, Node* producer, const ChannelAffine& a, Value** result) {
  const std::string& op = producer->op_type();
  if (!producer->domain().empty()) return "producer is " + op;
  if (op == "Conv" || op == "ConvTranspose") {
    const std::string why = fold_conv(g, producer, a, op == "ConvTranspose");
    if (why.empty()) *result = producer->output(0);
    return why;
  }
  if (op == "Gemm") {
    const std::string why = fold_gemm(g, producer, a);
    if (why.empty()) *result = producer->output(0);
    return why;
  }
  if (op == "MatMul") {
    std::string why;
    Node* gemm = matmul_as_gemm(g, producer, &why);
    if (!gemm) return why;
    why = fold_gemm(g, gemm, a);
    if (!why.empty()) {  // leave the graph as it was
      g.erase_node(gemm);
      return why;
    }
    g.replace_all_uses(producer->output(0), gemm->output(0));
    *result = gemm->output(0);
    g.erase_node(producer);
    return "";
  }
  return "producer is " + op;
}

std::string fold_into_consumer(Graph& g, Node* consumer, Value* x, const ChannelAffine& a, Node** layer) {
  const std::string& op = consumer->op_type();
  if (!consumer->domain().empty()) return "consumer is " + op;
  *layer = consumer;
  if (op == "Conv") return fold_consumer_conv(g, consumer, x, a);
  if (op == "Gemm") return fold_consumer_gemm(g, consumer, x, a);
  if (op == "MatMul") {
    if (!x->shape().rank_known || x->shape().rank() != 2)
      return fmt::format("the input of {} is not 2-D ({})", who(consumer), x->shape().str());
    std::string why;
    Node* gemm = matmul_as_gemm(g, consumer, &why);
    if (!gemm) return why;
    why = fold_consumer_gemm(g, gemm, x, a);
    if (!why.empty()) {
      g.erase_node(gemm);
      return why;
    }
    Value* old = consumer->output(0);
    const std::string name = old->name();
    g.replace_all_uses(old, gemm->output(0));
    for (size_t i = 0; i < g.outputs().size(); ++i)
      if (g.outputs()[i] == old) g.replace_output(i, gemm->output(0));
    g.erase_node(consumer);
    g.rename_value(gemm->output(0), name);
    *layer = gemm;
    return "";
  }
  return "consumer is " + op;
}

}  // namespace bnfold
