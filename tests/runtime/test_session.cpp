// The Session API: errors at run time name what was expected and given,
// unsupported ops are named at creation, plans are cached per batch size,
// batches are invariant, threads can share a session.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <omp.h>
#include <thread>

#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/runtime/session.hpp"
#include "bnfold/runtime/tensor_tools.hpp"

using namespace bnfold;
using Catch::Matchers::Contains;

namespace {

const std::string kModels = BNFOLD_MODELS_DIR;

Tensor sample(const Tensor& batch, int64_t i) {
  std::vector<int64_t> dims = batch.dims();
  dims[0] = 1;
  Tensor t(batch.dtype(), dims);
  const size_t bytes = t.nbytes();
  std::memcpy(t.mutable_data(), static_cast<const char*>(batch.data()) + static_cast<size_t>(i) * bytes, bytes);
  return t;
}

}  // namespace

TEST_CASE("run-time input errors name expected and given", "[session][errors]") {
  Session s(kModels + "/tiny_resnet.onnx");
  CHECK_THROWS_WITH(s.run({{"image", Tensor(DType::Float32, {1, 3, 32, 32})}}),
                    Contains("unknown input 'image'; the model's inputs are 'input'"));
  CHECK_THROWS_WITH(s.run({}), Contains("missing input 'input' (float32[N,3,32,32])"));
  CHECK_THROWS_WITH(s.run({{"input", Tensor(DType::Float64, {1, 3, 32, 32})}}),
                    Contains("input 'input' must be float32, got float64"));
  CHECK_THROWS_WITH(s.run({{"input", Tensor(DType::Float32, {3, 32, 32})}}),
                    Contains("input 'input' must have rank 4 ([N,3,32,32]), got 3 ([3,32,32])"));
  CHECK_THROWS_WITH(s.run({{"input", Tensor(DType::Float32, {1, 4, 32, 32})}}),
                    Contains("input 'input' dim 1 must be 3 (shape [N,3,32,32]), got 4"));
}

TEST_CASE("an op without a kernel is named when the session is created", "[session][errors]") {
  auto g = std::make_shared<Graph>();
  g->info.opsets[""] = 13;
  Value* x = g->add_input("x", DType::Float32, Shape::of({2}));
  Node* n = g->add_node("Bernoulli", {x}, {"y"}, "coin");
  g->add_output(n->output(0));
  CHECK_THROWS_WITH(Session(g), Contains("node #0 'coin' (Bernoulli): bnfold has no kernel for Bernoulli"));
}

TEST_CASE("a symbolic dim is unknown until the inputs arrive", "[session][errors]") {
  // [N, 3, H, W] with an unpadded 3x3 convolution: fine at 8x8, impossible at
  // 2x2; creating the session must not guess H = W = 1 and refuse it.
  auto g = std::make_shared<Graph>();
  g->info.opsets[""] = 13;
  Shape shape;
  shape.rank_known = true;
  shape.dims = {Dim::symbolic("N"), Dim::fixed(3), Dim::symbolic("H"), Dim::symbolic("W")};
  Value* x = g->add_input("x", DType::Float32, shape);
  Value* w = g->add_constant("w", Tensor(DType::Float32, {4, 3, 3, 3}));
  Node* conv = g->add_node("Conv", {x, w}, {"y"});
  g->add_output(conv->output(0));
  Session s(g);
  CHECK(s.run({{"x", Tensor(DType::Float32, {2, 3, 8, 8})}}).at(conv->output(0)->name()).dims() ==
        std::vector<int64_t>{2, 4, 6, 6});
  CHECK_THROWS_WITH(s.run({{"x", Tensor(DType::Float32, {1, 3, 2, 2})}}),
                    Contains("the window (3) is larger than the padded input (2)"));
}

TEST_CASE("NaN and Inf pass through without crashing", "[session]") {
  Session s(kModels + "/tiny_resnet.onnx");
  Tensor x(DType::Float32, {2, 3, 32, 32});
  float* p = x.mutable_data_as<float>();
  p[0] = std::numeric_limits<float>::quiet_NaN();
  p[5000] = std::numeric_limits<float>::infinity();
  const Tensor y = s.run({{"input", x}}).at("output");
  CHECK(tensor_stats(y).nan > 0);  // poisoned sample 0
}

TEST_CASE("one plan per batch size, reused", "[session]") {
  Session s(kModels + "/tiny_resnet.onnx");
  const size_t at_start = s.compiled_plans();  // batch 1 is compiled at creation
  for (int64_t b : {1, 4, 4, 2, 1}) s.run(random_inputs(s, b, 7));
  CHECK(s.compiled_plans() == at_start + 2);
}

TEST_CASE("batch invariance: a sample alone equals the same sample in a batch", "[session]") {
  for (const char* model : {"tiny_resnet.onnx", "mlp_bn.onnx", "deconv_bn.onnx"}) {
    Session s(kModels + "/" + model);
    const auto inputs = random_inputs(s, 8, 3);
    const std::string in = s.inputs()[0].name, out = s.outputs()[0].name;
    const Tensor batch_out = s.run(inputs).at(out);
    for (int64_t i = 0; i < 8; ++i) {
      const Tensor alone = s.run({{in, sample(inputs.at(in), i)}}).at(out);
      const TensorDiff d = compare_tensors(sample(batch_out, i), alone, 1e-5, 1e-7);
      INFO(model << " sample " << i << ": max abs " << d.max_abs << ", max rel " << d.max_rel);
      CHECK(d.mismatches == 0);
    }
  }
}

TEST_CASE("several threads share one session", "[session][threads]") {
  Session s(kModels + "/tiny_resnet.onnx");
  const auto inputs = random_inputs(s, 3, 11);
  const Tensor want = s.run(inputs).at("output");
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) ok[static_cast<size_t>(t)] += s.run(inputs).at("output").same_as(want);
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == std::vector<int>(4, 10));
}

TEST_CASE("8 threads x 100 runs on one session give identical outputs", "[session][threads]") {
  SessionOptions o;
  o.threads = 1;  // the threads here are the callers'; the TSan build checks this case
  Session s(kModels + "/mlp_bn.onnx", o);
  const auto inputs = random_inputs(s, 4, 12);
  const Tensor want = s.run(inputs).at("output");
  std::vector<std::thread> threads;
  std::vector<int> same(8, 0);
  for (size_t t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) same[t] += s.run(inputs).at("output").same_as(want);
    });
  for (auto& th : threads) th.join();
  CHECK(same == std::vector<int>(8, 100));
}

TEST_CASE("borrowed input buffers are read in place", "[session]") {
  Session s(kModels + "/mlp_bn.onnx");
  std::vector<float> buffer(2 * 20, 0.5f);
  const Tensor x = Tensor::borrow(DType::Float32, {2, 20}, buffer.data());
  const Tensor y = s.run({{"input", x}}).at("output");
  CHECK(y.describe() == "float32[2,5]");
  CHECK(y.owns_data());
}

TEST_CASE("the plan fuses and folds what a real export needs", "[session][plan]") {
  Session s(kModels + "/tiny_resnet.onnx");
  const auto stats = s.plan_stats(random_inputs(s, 4, 1));
  CHECK(stats.reference_steps <= 1);  // Flatten only
  CHECK(stats.onednn_steps >= 20);
  CHECK(stats.flops > 0);
  CHECK(stats.activation_bytes > 0);
}

TEST_CASE("a session runs on its own thread count whichever thread calls it, and leaves the caller's", "[session]") {
  // OpenMP's count is per thread: made here, run on another thread, the
  // session once ran with that thread's count (a server's --threads 1 ran on
  // every core). The hook runs inside the run, on the calling thread.
  SessionOptions o;
  o.threads = 1;
  Session s(kModels + "/mlp_bn.onnx", o);
  const auto inputs = random_inputs(s, 2, 5);
  int inside = -1, before = -1, after = -1;
  std::thread worker([&] {
    before = omp_get_max_threads();
    s.run(inputs, [&](const BnStats&) { inside = omp_get_max_threads(); });
    after = omp_get_max_threads();
  });
  worker.join();
  CHECK(inside == 1);
  CHECK(after == before);
}

// A Range whose limit is computed (Cast, Add) from a small graph input: the
// session plans per value of that input, as for a Reshape's shape input; from
// a large input (an image) the same value stays a run-time value, refused.
TEST_CASE("a shape computed from a small input is known when the plan is built", "[session][shapes]") {
  auto range_graph = [](std::vector<int64_t> size_dims) {
    auto g = std::make_shared<Graph>();
    g->info.opsets[""] = 13;
    Value* size = g->add_input("size", DType::Int64, Shape::of(size_dims));
    Value* flat = g->add_node("ReduceMax", {size}, {"largest"}, "largest")->output(0);
    flat->set_dtype(DType::Int64);
    Tensor one(DType::Float32, {}), zero(DType::Float32, {});
    one.mutable_data_as<float>()[0] = 1.5f;
    zero.mutable_data_as<float>()[0] = 0.0f;
    Node* cast = g->add_node("Cast", {flat}, {"as_float"}, "cast");
    cast->set_attr("to", Attribute::of_int(static_cast<int64_t>(DType::Float32)));
    Node* add = g->add_node("Add", {cast->output(0), g->add_constant("half", one)}, {"limit"}, "add");
    Node* range = g->add_node("Range", {g->add_constant("zero", zero), add->output(0), g->add_constant("step", one)},
                              {"y"}, "range");
    g->add_output(range->output(0));
    return g;
  };
  Session small(range_graph({1}));
  for (int64_t n : {3, 7, 3}) {
    Tensor size(DType::Int64, {1});
    size.mutable_data_as<int64_t>()[0] = n;
    const Tensor y = small.run({{"size", size}}).at("y");
    // 0, 1.5, ... below n + 1.5
    REQUIRE(y.numel() == static_cast<int64_t>(std::ceil((static_cast<double>(n) + 1.5) / 1.5)));
    CHECK(y.data_as<float>()[y.numel() - 1] == Approx(1.5 * static_cast<double>(y.numel() - 1)));
  }
  // A stream of distinct values rebuilds plans instead of growing the cache.
  for (int64_t n = 10; n < 50; ++n) {
    Tensor size(DType::Int64, {1});
    size.mutable_data_as<int64_t>()[0] = n;
    CHECK(small.run({{"size", size}}).at("y").numel() == static_cast<int64_t>(std::ceil((static_cast<double>(n) + 1.5) / 1.5)));
  }
  CHECK(small.compiled_plans() == 16);  // the newest 16, each keyed by a value
  // From a large input the limit is a run-time value: the plan stops before
  // the Range, which runs on each run's value (runtime/stages.cpp).
  Session big(range_graph({1000}));
  for (int64_t n : {3, 7, 3}) {
    Tensor size(DType::Int64, {1000});
    for (int64_t i = 0; i < 1000; ++i) size.mutable_data_as<int64_t>()[i] = i % n;
    CHECK(big.run({{"size", size}}).at("y").numel() == static_cast<int64_t>(std::ceil((static_cast<double>(n) - 1 + 1.5) / 1.5)));
  }
  CHECK(big.compiled_plans() == 1);  // the plan before the Range, for every value
}
