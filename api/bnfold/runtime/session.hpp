// Running a model. A Session compiles its graph into a plan once per
// input-shape signature (a new batch size makes a new plan, cached) and then
// only executes. run() may be called from several threads at once: each call
// gets its own activation memory.
#pragma once

#include "bnfold/graph/export.hpp"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bnfold/graph/graph.hpp"
#include "bnfold/graph/tensor.hpp"
#include "bnfold/runtime/moments.hpp"

namespace bnfold BNFOLD_API {

// How BatchNormalization nodes (in inference mode) normalize.
enum class BnMode {
  Inference,        // with the running statistics stored in the model
  BatchStatistics,  // with the statistics of the current batch (biased
                    // variance), as a model left in train mode does
};

// The arithmetic of the kernels between the model's inputs and outputs.
enum class Precision {
  Float32,   // every kernel in float32
  BFloat16,  // convolutions, Gemm and MatMul (and the steps between them) in
             // bfloat16 with float32 accumulation; float32 at the model's edges
             // and in every step oneDNN does not run. Needs a CPU with
             // AVX512-BF16 or AMX (bfloat16_support()).
};
// "fp32" / "bf16", and back (throws InvalidArgument naming the choices).
const char* precision_name(Precision p);
Precision parse_precision(const std::string& name);
// Whether this CPU runs bfloat16 kernels natively (AVX512-BF16 or AMX, as
// oneDNN sees it: ONEDNN_MAX_CPU_ISA counts), and if not, why.
bool bfloat16_support(std::string* why = nullptr);

// The largest thread count a Session takes on this machine, and the check
// every entry point that takes a thread count runs (throws InvalidArgument).
int max_thread_count();
void check_thread_count(int threads);

struct SessionOptions {
  // Worker threads for the kernels; 0 means one per core. At most
  // max_thread_count() (4 per core, 64 at least): Session refuses more.
  int threads = 0;
  // Use oneDNN kernels where they apply (false: the plain reference kernels,
  // the oracle the tests compare against).
  bool use_onednn = true;
  // Dense 3x3 stride-1 convolutions with enough channels and outputs use
  // oneDNN's Winograd kernels where the CPU has them (AVX-512): 1.1-2.8x
  // faster there, with the direct kernel's float32 accuracy (measured; see
  // runtime/dnnl/dnnl_conv.cpp). false: direct convolution everywhere.
  bool winograd = true;
  BnMode bn_mode = BnMode::Inference;
  // BNs (by node_name) that normalize with batch statistics whatever bn_mode
  // says: the audit's ablation puts one BN at a time in train mode.
  std::vector<std::string> batch_statistics_bns;
  // Compile plans that measure every BN input's per-channel statistics
  // (plan_stats and profile show them). A run with a BnStatsHook measures
  // whatever this says, in a second plan kept beside the plain one.
  bool collect_bn_stats = false;
  // When non-zero, sets the memory limit (graph/memory.hpp) for tensors and
  // plans. The limit is the process's, shared by its sessions: the machine's
  // memory is. 0 keeps the current one (default 3/4 of physical memory).
  size_t max_memory = 0;
  // Monitoring while serving: every monitor_every-th run (1: each, 16: one
  // in 16; 0: off) accumulates the per-channel statistics of every BN input,
  // measured in place (outputs unchanged), folded BNs included; the other
  // runs execute the plain plan. Session::monitor() reads them.
  int64_t monitor_every = 0;
  // BFloat16: see Precision; Session refuses it where bfloat16_support() is
  // false, and with use_onednn = false (the reference kernels are float32).
  Precision precision = Precision::Float32;
};

// What a monitoring session has seen: the statistics of every BN input over
// the sampled runs, merged (Chan). analysis/bn_moments.hpp turns it into the
// statistics object `drift --save-stats` writes.
struct MonitorSnapshot : BnMoments {  // samples: batch items in the measured runs
  int64_t runs = 0, sampled_runs = 0;  // runs since the session began, and those measured
};

// The statistics of one BatchNormalization's input in one run.
struct BnStats {
  std::string bn;      // the BN node's name, or its output's name when unnamed
  int64_t count = 0;   // values per channel (batch x spatial size)
  std::vector<double> mean, var;  // per channel; var is the biased (population) variance
};
using BnStatsHook = std::function<void(const BnStats&)>;

struct TensorSpec {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;  // may hold symbolic dims such as a batch "N"
};

class Session {
 public:
  explicit Session(const std::string& model_path, SessionOptions options = {});
  explicit Session(std::shared_ptr<const Graph> graph, SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Inputs the caller must feed, in the model's order; then the outputs.
  const std::vector<TensorSpec>& inputs() const;
  const std::vector<TensorSpec>& outputs() const;
  const Graph& graph() const;

  // Runs the model. Inputs are plain row-major tensors (owned or borrowed;
  // borrowed ones are read in place). Returns every graph output by name.
  // Throws bnfold::Error for an unknown or missing input, or a wrong dtype,
  // rank or dim (naming expected and given).
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) const;
  // The same, calling `hook` with each BN input's statistics: of each
  // BatchNormalization node, and of each BN a `fold` removed (measured on the
  // value the folded model's metadata names, mapped back exactly; see
  // graph/folded_bns.hpp). The hook runs on the calling thread, in plan order.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs, const BnStatsHook& hook) const;

  // A copy of what monitoring has gathered so far (empty when monitor_every
  // is 0); safe while other threads run. reset_monitor() starts over.
  MonitorSnapshot monitor() const;
  void reset_monitor() const;

  // What the plan for these inputs holds (compiles it if needed).
  struct PlanStats {
    size_t steps = 0, onednn_steps = 0, reference_steps = 0, reorders = 0;
    size_t native_steps = 0;      // bnfold's own vectorized loops (a Concat with its scale-shift)
    size_t statistics_steps = 0;  // BN input statistics measured in place (collect_bn_stats)
    size_t activation_bytes = 0;  // peak: one arena per run
    double flops = 0;             // Conv/ConvTranspose/Gemm/MatMul, 2 per multiply-add
    std::vector<std::string> step_descriptions;  // "Conv (oneDNN) + Add + Relu", ...
    // oneDNN's implementation of each step ("brg:avx512_core", "ref:any"); "" for plain kernels.
    std::vector<std::string> step_implementations;
    std::vector<std::string> step_nodes;  // the node each step computes (node_name()), "" for reorders
    // Why each step has its form where the plan had a choice (Step::why), "" where it had none.
    std::vector<std::string> step_choices;
    // The nodes the plan stops before (their output sizes depend on run-time
    // values: NonZero on data, an If...), by op: "NonZero" x 180. They run on
    // each run's values, and plans for the rest follow, kept by shape.
    std::map<std::string, size_t> stops;
  };
  PlanStats plan_stats(const std::map<std::string, Tensor>& inputs) const;

  // Runs `iterations` times, timing every step; returns each step's mean ms.
  struct StepTime {
    std::string what, node;
    std::string implementation;  // oneDNN's, "" for plain kernels
    double ms = 0, flops = 0;
  };
  std::vector<StepTime> profile(const std::map<std::string, Tensor>& inputs, int iterations) const;
  // How many distinct input-shape signatures have been compiled.
  size_t compiled_plans() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bnfold
