#include "graph/attr_rules.hpp"

#include <algorithm>
#include <set>

#include "graph/check.hpp"

namespace bnfold {

namespace {

bool one_of(const std::string& op, std::initializer_list<const char*> ops) {
  for (const char* o : ops)
    if (op == o) return true;
  return false;
}

std::string list(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return "[" + s + "]";
}

const std::vector<int64_t>* ints(const Node& n, const char* name) {
  auto it = n.attrs().find(name);
  if (it == n.attrs().end()) return nullptr;
  return it->second.kind == AttrKind::Ints ? &it->second.ints : nullptr;
}

const int64_t* one_int(const Node& n, const char* name) {
  auto it = n.attrs().find(name);
  if (it == n.attrs().end()) return nullptr;
  return it->second.kind == AttrKind::Int ? &it->second.i : nullptr;
}

void each_at_least(const Node& n, const char* name, int64_t lo, const char* rule, const std::string& where) {
  if (const auto* v = ints(n, name))
    for (int64_t x : *v)
      BNFOLD_CHECK(x >= lo, ErrorCode::InvalidModel, "{}: {} must be {}, got {}", where, name, rule, list(*v));
  if (const auto* v = one_int(n, name))
    BNFOLD_CHECK(*v >= lo, ErrorCode::InvalidModel, "{}: {} must be {}, got {}", where, name, rule, *v);
}

}  // namespace

void check_attributes(const Node& n, const std::string& where) {
  const std::string& op = n.op_type();
  const bool windowed = one_of(op, {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "MaxPool",
                                    "AveragePool", "LpPool", "MaxUnpool"});
  const bool pool = one_of(op, {"MaxPool", "AveragePool", "LpPool"});
  if (windowed) {
    for (const char* name : {"strides", "dilations", "kernel_shape"}) each_at_least(n, name, 1, "positive", where);
    // ONNX's shape inference computes sizes in int64 without overflow checks.
    for (const char* name : {"strides", "dilations", "kernel_shape", "pads", "output_padding", "output_shape"})
      if (const auto* v = ints(n, name))
        for (int64_t x : *v)
          BNFOLD_CHECK(x < (int64_t{1} << 31) && x > -(int64_t{1} << 31), ErrorCode::InvalidModel,
                       "{}: {} {} overflow the shape arithmetic (each must be below 2^31)", where, name, list(*v));
    if (pool) each_at_least(n, "pads", 0, "non-negative", where);
    const auto* kernel = ints(n, "kernel_shape");
    const auto* pads = ints(n, "pads");
    if (kernel) {
      const size_t r = kernel->size();
      for (const char* name : {"strides", "dilations"})
        if (const auto* v = ints(n, name))
          BNFOLD_CHECK(v->size() == r, ErrorCode::InvalidModel, "{}: {} has {} values for a {}-D kernel_shape",
                       where, name, v->size(), r);
      if (pads) {
        BNFOLD_CHECK(pads->size() == 2 * r, ErrorCode::InvalidModel,
                     "{}: pads has {} values; a {}-D kernel_shape needs {}", where, pads->size(), r, 2 * r);
        // ONNX Runtime refuses a pad as large as the window: it would make
        // windows of padding only.
        if (pool)
          for (size_t k = 0; k < 2 * r; ++k)
            BNFOLD_CHECK((*pads)[k] < (*kernel)[k % r], ErrorCode::InvalidModel,
                         "{}: pads {} must be smaller than kernel_shape {}", where, list(*pads), list(*kernel));
      }
    }
    // "pads ... cannot be used simultaneously with auto_pad" (the spec);
    // all-zero pads beside auto_pad are what some exporters write: harmless.
    auto ap = n.attrs().find("auto_pad");
    if (ap != n.attrs().end() && ap->second.kind == AttrKind::String && ap->second.s != "NOTSET" && pads)
      BNFOLD_CHECK(std::all_of(pads->begin(), pads->end(), [](int64_t p) { return p == 0; }), ErrorCode::InvalidModel,
                   "{}: explicit pads {} cannot be used together with auto_pad {}", where, list(*pads), ap->second.s);
  }
  if (one_of(op, {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv"})) each_at_least(n, "group", 1, "positive", where);
  if (op == "ConvTranspose") {
    each_at_least(n, "output_padding", 0, "non-negative", where);
    if (const auto* op_pad = ints(n, "output_padding")) {
      const auto* s = ints(n, "strides");
      const auto* d = ints(n, "dilations");
      for (size_t k = 0; k < op_pad->size(); ++k) {
        const int64_t stride = s && k < s->size() ? (*s)[k] : 1, dilation = d && k < d->size() ? (*d)[k] : 1;
        // PyTorch's rule, which ONNX's shape relation assumes: each extra
        // output row must lie within one stride (or dilation).
        BNFOLD_CHECK((*op_pad)[k] < std::max(stride, dilation), ErrorCode::InvalidModel,
                     "{}: output_padding {} must be smaller than the stride or the dilation on axis {}", where,
                     list(*op_pad), k);
      }
    }
  }
  if (one_of(op, {"DepthToSpace", "SpaceToDepth"})) each_at_least(n, "blocksize", 1, "positive", where);
  if (op == "LRN") each_at_least(n, "size", 1, "positive", where);
  if (op == "Split") {
    each_at_least(n, "split", 0, "non-negative", where);
    each_at_least(n, "num_outputs", 1, "positive", where);
  }
  if (op == "TopK") each_at_least(n, "k", 0, "non-negative", where);
  // Every op's `axes` and Transpose's `perm` name each axis once.
  for (const char* name : {"axes", "perm"})
    if (const auto* v = ints(n, name)) {
      const std::set<int64_t> seen(v->begin(), v->end());
      BNFOLD_CHECK(seen.size() == v->size(), ErrorCode::InvalidModel, "{}: {} {} repeats an axis", where, name,
                   list(*v));
    }
  if (op == "Upsample")
    if (auto it = n.attrs().find("scales"); it != n.attrs().end() && it->second.kind == AttrKind::Floats)
      for (float s : it->second.floats)
        BNFOLD_CHECK(s > 0 && s < 1e6f, ErrorCode::InvalidModel, "{}: scales must be positive (and below 1e6), got {}",
                     where, s);
}

void check_input_ranks(const Node& n) {
  if (!n.domain().empty()) return;
  auto rank = [&](size_t i) -> int64_t {
    const Value* v = n.input(i);
    if (!v) return -1;
    if (v->has_data()) return static_cast<int64_t>(v->data().rank());
    return v->shape().rank_known ? static_cast<int64_t>(v->shape().rank()) : -1;
  };
  const std::string& op = n.op_type();
  if (op == "Gemm")
    for (size_t i = 0; i < 2; ++i)
      BNFOLD_CHECK(rank(i) < 0 || rank(i) == 2, ErrorCode::InvalidModel, "{}: Gemm's input {} has rank {}; A and B are 2-D",
                   n.label(), i, rank(i));
  if (op == "MatMul")
    for (size_t i = 0; i < 2; ++i)
      BNFOLD_CHECK(rank(i) != 0, ErrorCode::InvalidModel, "{}: MatMul's input {} is a scalar", n.label(), i);
  // QLinearConv's ONNX inference reads its weight (input 3) as Conv's reads input 1.
  if (op == "MaxUnpool")
    BNFOLD_CHECK(rank(0) < 0 || rank(1) < 0 || rank(1) == rank(0), ErrorCode::InvalidModel,
                 "{}: the indices have rank {}, X rank {}; they must agree", n.label(), rank(1), rank(0));
  const bool conv = one_of(op, {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv"});
  const bool pool = one_of(op, {"MaxPool", "AveragePool", "LpPool", "MaxUnpool"});
  if (!conv && !pool) return;
  const int64_t x = rank(0);
  BNFOLD_CHECK(x < 0 || x >= 3, ErrorCode::InvalidModel, "{}: X has rank {}; {} needs [N, C, spatial...]", n.label(), x,
               op);
  if (conv) {
    const int64_t w = rank(op == "QLinearConv" ? 3 : 1);
    BNFOLD_CHECK(w < 0 || w >= 3, ErrorCode::InvalidModel, "{}: W has rank {}; it needs [M, C/group, kernel...]",
                 n.label(), w);
    BNFOLD_CHECK(x < 0 || w < 0 || x == w, ErrorCode::InvalidModel, "{}: X has rank {} and W rank {}; they must agree",
                 n.label(), x, w);
  }
  if (x < 0) return;
  const auto spatial = static_cast<size_t>(x - 2);
  for (const char* name : {"kernel_shape", "strides", "dilations", "output_padding"})
    if (const auto* v = ints(n, name))
      BNFOLD_CHECK(v->size() == spatial, ErrorCode::InvalidModel, "{}: {} has {} values for {} spatial axes",
                   n.label(), name, v->size(), spatial);
  if (const auto* v = ints(n, "pads"))
    BNFOLD_CHECK(v->size() == 2 * spatial, ErrorCode::InvalidModel, "{}: pads has {} values for {} spatial axes",
                 n.label(), v->size(), spatial);
}

}  // namespace bnfold
