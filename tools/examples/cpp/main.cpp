// A minimal application: load a model, fold its BatchNormalization, save it,
// and run it on random inputs of the shape the model declares (a symbolic
// batch dim taken as 2), watching its BN statistics. Built against the
// installed package.
#include <bnfold/bnfold.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL.onnx FOLDED.onnx\n", argv[0]);
    return 2;
  }
  try {
    auto graph = bnfold::load_onnx(argv[1]);
    const bnfold::FoldReport report = bnfold::fold_batchnorms(*graph);
    std::printf("bnfold %s: folded %zu of %zu BatchNormalization\n", BNFOLD_VERSION_STRING,
                report.folded(), report.rows().size());
    bnfold::save_onnx(*graph, argv[2]);

    bnfold::SessionOptions options;
    options.threads = 2;
    options.monitor_every = 1;  // every run measures the BN inputs (a server would say 16)
    bnfold::Session session(std::shared_ptr<const bnfold::Graph>(std::move(graph)), options);
    for (const bnfold::TensorSpec& in : session.inputs())
      std::printf("input %s: %s%s\n", in.name.c_str(), bnfold::dtype_name(in.dtype), in.shape.str().c_str());
    const auto inputs = bnfold::random_inputs(session, /*batch=*/2, /*seed=*/0);
    for (const auto& [name, tensor] : session.run(inputs))
      std::printf("output %s: %s\n", name.c_str(), tensor.describe().c_str());
    const bnfold::BnInputStats seen = bnfold::stats_from_monitor(session.monitor(), argv[2]);
    std::printf("monitored %lld samples of %zu BatchNormalization inputs\n", static_cast<long long>(seen.samples),
                seen.per_bn.size());
  } catch (const bnfold::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
