// Verification against float64: the reference kernels keep double precision
// on float64 data, the input statistics come back out of a BN's running
// statistics, each fold is measured alone, and a broken fold is caught.
#include <catch2/catch.hpp>

#include <cmath>

#include "bnfold/analysis/float64.hpp"
#include "bnfold/analysis/verify_fold.hpp"
#include "analysis/verify_inputs.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "tests/model_builder.hpp"
#include "bnfold/passes/fold.hpp"
#include "bnfold/runtime/session.hpp"

using namespace bnfold;
using test::ints;

namespace {

Attribute real(float v) { return Attribute::of_float(v); }

std::shared_ptr<Graph> copy_of(const Graph& g) {
  const std::string bytes = serialize_onnx(g);
  return load_onnx_bytes(bytes.data(), bytes.size(), "copy");
}

}  // namespace

TEST_CASE("the reference kernels compute in double on float64 data", "[verify][float64]") {
  // A chain of float ops that are each the identity here: in double the
  // output is the input to the last bit; through float32, 1 + 1e-12 is 1.
  test::TestModel t;
  Value* x = t.input("x", {1, 2, 3, 3});
  auto ones = [&](const std::string& name, std::vector<int64_t> dims) {
    Tensor w(DType::Float32, dims);
    for (int64_t i = 0; i < w.numel(); ++i) w.mutable_data_as<float>()[i] = 1.0f;
    return t.g->add_constant(name, w);
  };
  auto diag = [&](const std::string& name) {  // a 1x1 conv weight that maps channel c to c
    Tensor w(DType::Float32, {2, 2, 1, 1});
    for (int64_t i = 0; i < 4; ++i) w.mutable_data_as<float>()[i] = i % 3 == 0 ? 1.0f : 0.0f;
    return t.g->add_constant(name, w);
  };
  Tensor zero(DType::Float32, {2});
  Value* v = t.node("Conv", {x, diag("w1")});
  v = t.node("ConvTranspose", {v, diag("w2")});
  v = t.node("MaxPool", {v}, {{"kernel_shape", ints({1, 1})}});
  v = t.node("AveragePool", {v}, {{"kernel_shape", ints({1, 1})}});
  v = t.node("BatchNormalization",
             {v, ones("g", {2}), t.g->add_constant("b", zero), t.g->add_constant("m", zero), ones("var", {2})},
             "", {{"epsilon", real(0.0f)}});
  v = t.node("LRN", {v}, {{"size", Attribute::of_int(1)}, {"alpha", real(0.0f)}, {"bias", real(1.0f)}});
  v = t.node("Mean", {v, v});
  t.output(v);
  std::shared_ptr<Graph> d = as_float64(*t.g);
  CHECK(d->find_value("w1")->data().dtype() == DType::Float64);
  Tensor in(DType::Float64, {1, 2, 3, 3});
  for (int64_t i = 0; i < in.numel(); ++i) in.mutable_data_as<double>()[i] = 1.0 + static_cast<double>(i + 1) * 1e-12;
  SessionOptions ref;
  ref.use_onednn = false;
  const Tensor y = Session(d, ref).run({{"x", in}}).at(v->name());
  REQUIRE(y.dtype() == DType::Float64);
  for (int64_t i = 0; i < in.numel(); ++i) CHECK(y.data_as<double>()[i] == in.data_as<double>()[i]);
  // Softmax: a / (a + b) in double.
  test::TestModel s;
  s.output(s.node("Softmax", {s.input("x", {1, 2})}, "p", {{"axis", Attribute::of_int(1)}}));
  Tensor logits(DType::Float64, {1, 2});
  logits.mutable_data_as<double>()[0] = std::log(1.0);
  logits.mutable_data_as<double>()[1] = std::log(3.0);
  const Tensor p = Session(as_float64(*s.g), ref).run({{"x", logits}}).at("p");
  CHECK(std::fabs(p.data_as<double>()[0] - 0.25) < 1e-15);
}

TEST_CASE("input statistics come back out of the first BN's running statistics", "[verify][inputs]") {
  // Conv W, b on inputs of channel means m and stds s: the BN's running mean
  // and var are what such data gives; the estimate must return m and s.
  test::TestModel t;
  const std::vector<double> m = {0.4, -0.2, 1.0}, s = {0.5, 2.0, 1.2};
  Value* w = t.weight("w", {6, 3, 3, 3});
  Value* b = t.weight("b", {6});
  Value* c = t.node("Conv", {t.input("x", {1, 3, 64, 64}), w, b});
  Tensor mean(DType::Float32, {6}), var(DType::Float32, {6});
  for (int64_t o = 0; o < 6; ++o) {
    double mu = b->data().value_at(o), v = 0;
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t k = 0; k < 9; ++k) {
        const double wk = w->data().value_at((o * 3 + ch) * 9 + k);
        mu += m[static_cast<size_t>(ch)] * wk;
        v += s[static_cast<size_t>(ch)] * s[static_cast<size_t>(ch)] * wk * wk;
      }
    mean.mutable_data_as<float>()[o] = static_cast<float>(mu);
    var.mutable_data_as<float>()[o] = static_cast<float>(v);
  }
  t.output(t.node("BatchNormalization", {c, t.positive("g", {6}), t.weight("beta", {6}),
                                         t.g->add_constant("mean", mean), t.g->add_constant("var", var)},
                  "y"));
  const InputEstimate e = estimate_input_statistics(*t.g, "x");
  REQUIRE(e.found);
  for (size_t ch = 0; ch < 3; ++ch) {
    CHECK(e.mean[ch] == Approx(m[ch]).epsilon(1e-5));
    CHECK(e.std[ch] == Approx(s[ch]).epsilon(1e-5));
  }
  CHECK(e.fit_residual < 1e-6);
  const DataLikeInputs in = data_like_inputs(*t.g, Session(t.g), {}, 1, 3);
  CHECK(in.description.find("estimated from BN") != std::string::npos);
  // 64 x 64 samples per channel: the drawn data has about those moments.
  const Tensor& x = in.inputs.at("x");
  for (int64_t ch = 0; ch < 3; ++ch) {
    double sum = 0, sq = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < x.numel(); ++i)
      if (i / 4096 % 3 == ch) sum += x.value_at(i), sq += x.value_at(i) * x.value_at(i), ++n;
    const double mu = sum / static_cast<double>(n);
    CHECK(mu == Approx(m[static_cast<size_t>(ch)]).margin(0.1));
    CHECK(std::sqrt(sq / static_cast<double>(n) - mu * mu) == Approx(s[static_cast<size_t>(ch)]).epsilon(0.05));
  }
  // Without a Conv -> BN at the input there is no estimate.
  test::TestModel plain;
  plain.output(plain.node("Relu", {plain.input("x", {1, 3, 4, 4})}));
  CHECK_FALSE(estimate_input_statistics(*plain.g, "x").found);
}

TEST_CASE("each fold is measured alone too, and a broken fold fails where it is", "[verify][fold]") {
  test::TestModel t(15);
  Value* c1 = t.node("Conv", {t.input("x", {2, 3, 6, 6}), t.weight("w1", {4, 3, 3, 3})}, "c1");
  Value* r1 = t.node("Relu", {t.bn(c1, 4, "b1")}, "r1");                        // folds into c1
  Value* c2 = t.node("Conv", {t.bn(r1, 4, "b2"), t.weight("w2", {4, 4, 1, 1})}, "c2");  // folds forward into c2
  Value* r2 = t.node("Relu", {c2}, "r2");
  t.output(t.node("Conv", {t.bn(r2, 4, "b3"), t.weight("w3", {2, 4, 3, 3})}, "y",  // padded: a scale-shift
                  {{"pads", ints({1, 1, 1, 1})}}));
  std::shared_ptr<Graph> folded = copy_of(*t.g);
  FoldReport report = fold_batchnorms(*folded);
  REQUIRE(report.count(FoldAction::Folded) == 1);
  REQUIRE(report.count(FoldAction::FoldedForward) == 1);
  REQUIRE(report.count(FoldAction::ScaleShift) == 1);
  VerifyOptions o;
  o.inputs = t.inputs;
  const VerifyResult v = verify_fold(*t.g, *folded, &report, o);
  CHECK(v.ok);
  CHECK(v.reference.find("float64") != std::string::npos);
  CHECK(v.inputs_given);
  CHECK(v.inputs == "given");
  REQUIRE(v.folds.size() == 3);
  for (const ValueCheck& c : v.folds) {
    INFO(c.name);
    CHECK(c.ok);
    CHECK(c.noise >= 0);
    CHECK(c.isolated >= 0);
    CHECK(c.isolated < 1e-5);
  }
  for (const BnFoldRow& row : report.rows()) CHECK(row.isolated_error >= 0);

  // b1's scale off by 1%: its folded conv's weights scaled by 1.01.
  std::shared_ptr<Graph> broken = copy_of(*folded);
  Value* w = broken->find_value("b1")->producer()->input(1);
  Tensor scaled(DType::Float32, w->data().dims());
  for (int64_t i = 0; i < scaled.numel(); ++i)
    scaled.mutable_data_as<float>()[i] = static_cast<float>(w->data().value_at(i) * 1.01);
  broken->set_constant_data(w, scaled);
  const VerifyResult bad = verify_fold(*t.g, *broken, nullptr, o);
  CHECK_FALSE(bad.ok);
  bool b1_failed = false;
  for (const ValueCheck& c : bad.folds) {
    if (c.name != "b1") continue;
    b1_failed = !c.ok;
    CHECK(c.isolated > 1e-3);  // the broken layer alone shows it
  }
  CHECK(b1_failed);
}

TEST_CASE("an all-zero reference gets an absolute tolerance floor, and non-finite errors never pass", "[verify]") {
  // The original's output is exactly 0 (x * 0); a rewrite that leaves 1e-30
  // of rounding there passes within kAtolFloor, one that leaves 1e-3 fails.
  auto model = [](float factor) {
    test::TestModel t;
    Tensor k(DType::Float32, {1});
    k.mutable_data_as<float>()[0] = factor;
    t.output(t.node("Mul", {t.input("x", {2, 3}), t.g->add_constant("k", k)}, "y"));
    return t;
  };
  test::TestModel original = model(0.0f);
  VerifyOptions o;
  o.inputs = original.inputs;
  const VerifyResult tiny = verify_fold(*original.g, *model(1e-30f).g, nullptr, o);
  CHECK(tiny.ok);
  CHECK(tiny.outputs[0].atol == kAtolFloor);
  CHECK_FALSE(verify_fold(*original.g, *model(1e-3f).g, nullptr, o).ok);
  // The original overflows to +inf against a finite float64 reference (its
  // noise is inf); a rewrite giving -inf there has an infinite error, which
  // must not pass as "within 4 x inf".
  test::TestModel big = model(3.4e38f), negative = model(-3.4e38f);
  Tensor ten(DType::Float32, {2, 3});
  for (int64_t i = 0; i < 6; ++i) ten.mutable_data_as<float>()[i] = 10.0f;
  o.inputs.at("x") = ten;
  const VerifyResult inf = verify_fold(*big.g, *negative.g, nullptr, o);
  REQUIRE(inf.outputs.size() == 1);
  CHECK(std::isinf(inf.outputs[0].noise));
  CHECK_FALSE(inf.ok);
  // The same model on both sides is identical to the original: it passes.
  CHECK(verify_fold(*big.g, *model(3.4e38f).g, nullptr, o).ok);
}
