// The eval-mode pass (fold --eval-mode): a BatchNormalization in training
// mode becomes one in inference mode with the same inputs and output name,
// and then computes what an inference-mode BN with those running statistics
// computes; one whose running-statistics outputs the model reads stays, with
// the reason in the report.
#include <catch2/catch.hpp>

#include "bnfold/analysis/fold_workflow.hpp"
#include "bnfold/graph/batchnorm.hpp"
#include "bnfold/passes/pipeline.hpp"
#include "bnfold/runtime/session.hpp"
#include "tests/model_builder.hpp"

using namespace bnfold;
using Catch::Matchers::Contains;

namespace {

// Conv -> BN -> Relu on [3, 4, 5, 5]; the BN in training mode with its three
// outputs (as PyTorch exports TrainingMode.TRAINING) when `training`.
test::TestModel conv_bn(bool training, bool read_running_mean = false) {
  test::TestModel m(15);
  Value* c = m.node("Conv", {m.input("x", {3, 4, 5, 5}), m.weight("w", {6, 4, 3, 3})}, "c");
  Value* y = m.bn(c, 6, training ? "y_inference" : "y");
  if (training) {
    Node* inference = y->producer();
    std::vector<Value*> in(inference->inputs().begin(), inference->inputs().end());
    const auto attrs = inference->attrs();  // epsilon
    m.g->erase_node(inference);
    Node* t = m.g->add_node("BatchNormalization", in, {"y", "running_mean", "running_var"}, "bn");
    for (const auto& [k, a] : attrs) t->set_attr(k, a);
    t->set_attr("training_mode", Attribute::of_int(1));
    t->set_attr("momentum", Attribute::of_float(0.9f));
    y = t->output(0);
    if (read_running_mean) m.output(t->output(1));
  }
  m.output(m.node("Relu", {y}, "out"));
  return m;
}

std::map<std::string, Tensor> run(const std::shared_ptr<Graph>& g, const std::map<std::string, Tensor>& inputs) {
  return Session(g).run(inputs);
}

}  // namespace

TEST_CASE("eval-mode turns a training-mode BN into the inference-mode BN of the same statistics", "[passes][eval_mode]") {
  test::TestModel training = conv_bn(true), inference = conv_bn(false);
  const auto before = run(training.g, training.inputs);
  FoldReport report;
  auto pass = make_pass("eval-mode");
  pass->set_report(&report);
  REQUIRE(pass->run(*training.g));
  training.g->verify();
  CHECK(test::count_ops(*training.g, "BatchNormalization") == 1);
  const Node* bn = training.g->find_value("y")->producer();
  REQUIRE(bn != nullptr);
  CHECK(bn->op_type() == "BatchNormalization");
  CHECK(bn->outputs().size() == 1);
  CHECK_FALSE(batchnorm_attrs(*bn).training);
  CHECK(bn->name() == "bn");
  const auto after = run(training.g, training.inputs);
  test::check_same_outputs(after, run(inference.g, inference.inputs), 1e-6, 1e-6);
  // Batch statistics gave something else: the pass changed what the model computes, as asked.
  double diff = 0;
  for (int64_t i = 0; i < after.at("out").numel(); ++i)
    diff = std::max(diff, std::abs(after.at("out").value_at(i) - before.at("out").value_at(i)));
  CHECK(diff > 1e-2);
  CHECK_FALSE(make_pass("eval-mode")->run(*training.g));  // nothing left to convert
}

TEST_CASE("eval-mode leaves a BN whose running statistics the model reads, and says why", "[passes][eval_mode]") {
  test::TestModel m = conv_bn(true, true);
  FoldReport report;
  auto pass = make_pass("eval-mode");
  pass->set_report(&report);
  CHECK_FALSE(pass->run(*m.g));
  CHECK(batchnorm_attrs(*m.g->find_value("y")->producer()).training);
  REQUIRE(report.find("y") != nullptr);
  CHECK_THAT(report.find("y")->describe(), Contains("stays in training mode: its output 1 ('running_mean')"));
}

TEST_CASE("eval-mode before opset 7: is_test=0 (the default) becomes is_test=1", "[passes][eval_mode]") {
  test::TestModel m(6), ref(6);
  for (test::TestModel* t : {&m, &ref}) {
    Value* c = t->node("Conv", {t->input("x", {2, 3, 4, 4}), t->weight("w", {5, 3, 3, 3})}, "c");
    t->output(t->bn(c, 5, "y"));
  }
  REQUIRE(batchnorm_attrs(*m.g->find_value("y")->producer()).training);  // is_test absent: training
  ref.g->find_value("y")->producer()->set_attr("is_test", Attribute::of_int(1));
  REQUIRE(make_pass("eval-mode")->run(*m.g));
  const Node* bn = m.g->find_value("y")->producer();
  CHECK(bn->attr_int("is_test") == 1);
  test::check_same_outputs(run(m.g, m.inputs), run(ref.g, ref.inputs), 1e-6, 1e-6);
}

TEST_CASE("fold --eval-mode: converted, folded, and verified against the converted model", "[passes][eval_mode]") {
  test::TestModel m = conv_bn(true), ref = conv_bn(false);
  FoldModelOptions o;
  o.eval_mode = true;
  o.verify = true;
  const FoldResult r = fold_model(*m.g, o);
  CHECK(r.converted == std::vector<std::string>{"y"});
  CHECK(r.report.folded() == 1);
  REQUIRE(r.verification);
  CHECK(r.verification->ok);
  CHECK(test::count_ops(*r.model, "BatchNormalization") == 0);
  test::check_same_outputs(run(r.model, m.inputs), run(ref.g, ref.inputs), 1e-5, 1e-5);
  // Without it the BN stays, in training mode.
  const FoldResult plain = fold_model(*m.g, {});
  CHECK(plain.converted.empty());
  CHECK(test::count_ops(*plain.model, "BatchNormalization") == 1);
}
