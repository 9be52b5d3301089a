// A minimal application: load a model, fold its BatchNormalization, save it,
// and run it on a batch of zeros. Built against the installed package.
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

    bnfold::Session session(std::shared_ptr<const bnfold::Graph>(std::move(graph)), {/*threads=*/2});
    const auto inputs = bnfold::random_inputs(session, /*batch=*/2, /*seed=*/0);
    for (const auto& [name, tensor] : session.run(inputs))
      std::printf("output %s: %s\n", name.c_str(), tensor.describe().c_str());
  } catch (const bnfold::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
