#include "bnfold/runtime/session.hpp"

#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "bnfold/graph/memory.hpp"

#include <mutex>
#include <thread>

#include "graph/check.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/ops/load.hpp"
#include "runtime/dnnl/dnnl_util.hpp"
#include "runtime/dnnl/weight_cache.hpp"
#include "ops/ops.hpp"
#include "runtime/plan.hpp"
#include "runtime/stages.hpp"

namespace bnfold {

struct Session::Impl {
  std::shared_ptr<const Graph> graph;
  SessionOptions options;
  std::shared_ptr<rt::WeightCache> weights = std::make_shared<rt::WeightCache>();  // shared by the plans
  std::vector<TensorSpec> inputs, outputs;
  std::vector<const Value*> fed;  // every graph input a run may feed (required, then overridable)

  // Monitoring: the run counter decides which runs are measured; the
  // measured runs merge into `seen` under its own lock.
  mutable std::atomic<int64_t> runs{0};
  // Bumped by reset_monitor: a measured run that began before a reset drops
  // its statistics instead of merging them into the new count.
  mutable std::atomic<int64_t> epoch{0};
  mutable std::mutex monitor_mutex;
  mutable MonitorSnapshot seen;
  // Plans by signature: the dims of every fed input, plus the values of the
  // inputs that decide shapes (a Reshape's shape fed as a graph input).
  mutable rt::PlanCache plans;

  // values: the tensors of a run (may be null when only dims are known).
  // measured: the plan with statistics steps (collect_bn_stats, or a
  // monitored run); a monitoring session keeps both, so its unmeasured runs
  // run the plain plan, fusions and all.
  std::shared_ptr<const rt::Stage> plan_for(const std::vector<std::vector<int64_t>>& dims,
                                            const std::vector<const Tensor*>& values, bool measured) const {
    std::vector<rt::Plan::Input> in;
    for (size_t i = 0; i < fed.size(); ++i) in.push_back({fed[i], dims[i]});
    return plans.find(*graph, options, measured, weights, in, values);
  }

  // Validates the inputs of a run and returns the plan for them; tensors
  // receives the tensor to read for every fed input.
  std::shared_ptr<const rt::Stage> prepare(const std::map<std::string, Tensor>& given,
                                           std::vector<const Tensor*>* tensors, bool measured = false) const;
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs, const BnStatsHook* hook) const;

  void check_kernels() const {
    for (const Node* n : graph->nodes()) {
      BNFOLD_CHECK(ops::find_op(*n) != nullptr, ErrorCode::Unsupported, "{}: {}", n->label(),
                   ops::why_unsupported(*n));
    }
  }

  // Checks one input against the model's declaration; records symbolic dims.
  void check_input(const Value* v, const Tensor& t, std::map<std::string, int64_t>* symbols) const {
    BNFOLD_CHECK(t.dtype() == v->dtype(), ErrorCode::InvalidArgument,
                 "input '{}' must be {}, got {}", v->name(), dtype_name(v->dtype()), dtype_name(t.dtype()));
    const Shape& s = v->shape();
    if (!s.rank_known) return;
    BNFOLD_CHECK(t.rank() == s.rank(), ErrorCode::InvalidArgument,
                 "input '{}' must have rank {} ({}), got {} ({})", v->name(), s.rank(), s.str(), t.rank(),
                 Shape::of(t.dims()).str());
    for (size_t k = 0; k < s.rank(); ++k) {
      const Dim& d = s.dims[k];
      const int64_t given = t.dims()[k];
      if (d.known()) {
        BNFOLD_CHECK(given == d.value, ErrorCode::InvalidArgument,
                     "input '{}' dim {} must be {} (shape {}), got {}", v->name(), k, d.value, s.str(), given);
      } else if (d.is_symbolic()) {
        auto [it, fresh] = symbols->emplace(d.symbol, given);
        BNFOLD_CHECK(fresh || it->second == given, ErrorCode::InvalidArgument,
                     "input '{}' dim {} ('{}') is {}, but another input has '{}' = {}", v->name(), k, d.symbol,
                     given, d.symbol, it->second);
      }
    }
  }
};

namespace {

TensorSpec spec_of(const Value* v) { return TensorSpec{v->name(), v->dtype(), v->shape()}; }

}  // namespace

namespace {
// The memory limit applies to the model's own tensors too: set it first.
std::shared_ptr<const Graph> load_within_limit(const std::string& path, const SessionOptions& options) {
  if (options.max_memory) set_memory_limit(options.max_memory);
  return std::shared_ptr<const Graph>(load_onnx(path));
}
}  // namespace

int max_thread_count() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(64, 4 * cores);
}

namespace {

// OMP_STACKSIZE as libgomp reads it: a number with an optional B, K, M or G
// (K when none); 0 when unset or unreadable.
size_t omp_stack_size() {
  const char* text = std::getenv("OMP_STACKSIZE");
  if (!text) return 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  const char unit = end && *end ? static_cast<char>(std::toupper(static_cast<unsigned char>(*end))) : 'K';
  const int shift = unit == 'B' ? 0 : unit == 'K' ? 10 : unit == 'M' ? 20 : unit == 'G' ? 30 : -1;
  return shift < 0 ? 0 : static_cast<size_t>(v) << shift;
}

// A field of /proc/self/statm (0: the size in pages) or /proc/self/status ("Threads:").
uint64_t proc_number(const char* file, const char* key) {
  std::ifstream in(file);
  if (!key) {
    uint64_t pages = 0;
    in >> pages;
    return pages;
  }
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::strtoull(line.c_str() + std::strlen(key), nullptr, 10);
  return 0;
}

// glibc gives each thread that allocates its own malloc arena (up to 8 per
// core), and a new arena reserves 64 MiB of address space, 128 MiB while it
// aligns. Under an address-space limit the workers' arenas would take the room
// kept for the run itself, and oneDNN ends the process (SIGSEGV) when it then
// cannot map a JIT kernel. So only as many arenas as the spare room holds;
// past that the threads share the existing ones, as glibc does anyway once a
// reservation fails.
void cap_malloc_arenas(uint64_t spare) {
#ifdef M_ARENA_MAX
  constexpr uint64_t kArena = uint64_t{128} << 20;
  mallopt(M_ARENA_MAX, static_cast<int>(std::min<uint64_t>(1 + spare / kArena, 1024)));
#else
  (void)spare;
#endif
}

// Each OpenMP worker reserves a stack of address space. Under an
// address-space limit (ulimit -v) too many of them make libgomp end the
// process ("Thread creation failed"), killing a Python or C caller with no
// error to catch: refuse first, saying how many fit.
void check_thread_stacks(int threads) {
  rlimit as{};
  if (getrlimit(RLIMIT_AS, &as) != 0 || as.rlim_cur == RLIM_INFINITY) return;
  size_t stack = omp_stack_size();
  if (stack == 0) {
    pthread_attr_t attr;
    if (pthread_getattr_default_np(&attr) != 0) return;
    pthread_attr_getstacksize(&attr, &stack);
    pthread_attr_destroy(&attr);
  }
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t used = proc_number("/proc/self/statm", nullptr) * page;
  const uint64_t running = std::max<uint64_t>(1, proc_number("/proc/self/status", "Threads:"));
  const int wanted = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const uint64_t each = stack + page;  // and a guard page
  const uint64_t need = wanted > static_cast<int64_t>(running) ? (wanted - running) * each : 0;
  constexpr uint64_t kWork = uint64_t{64} << 20;  // room for the run's own allocations
  const uint64_t left = as.rlim_cur > used + kWork ? as.rlim_cur - used - kWork : 0;
  if (need <= left) {
    cap_malloc_arenas(left - need);
    return;
  }
  const uint64_t fit = running + left / each;
  failf(ErrorCode::ResourceLimit,
        "{} threads need {} MiB of address space for their stacks ({} MiB each); under the address-space limit "
        "(ulimit -v) of {} MiB, {} MiB are left: use {} threads or fewer{}, or a smaller OMP_STACKSIZE",
        wanted, need >> 20, each >> 20, as.rlim_cur >> 20, left >> 20, fit, threads > 0 ? "" : " (--threads)");
}

}  // namespace

void check_thread_count(int threads) {
  // OpenMP starts that many workers at the first parallel region; where it
  // cannot (thousands of them, or a memory ulimit), libgomp ends the process
  // with its own message, no exception reaching the caller. So an absurd count
  // is refused here, for every front end; up to 4 per core (64 at least) stays
  // allowed for deliberate oversubscription.
  const int most = max_thread_count();
  BNFOLD_CHECK(threads >= 0 && threads <= most, ErrorCode::InvalidArgument,
               "threads {} is outside [0, {}] (4 per core on this machine, 64 at least); 0 uses one per core",
               threads, most);
  check_thread_stacks(threads);
}

Session::Session(const std::string& model_path, SessionOptions options)
    : Session(load_within_limit(model_path, options), options) {}

Session::Session(std::shared_ptr<const Graph> graph, SessionOptions options) : impl_(std::make_unique<Impl>()) {
  BNFOLD_CHECK(graph != nullptr, ErrorCode::InvalidArgument, "Session needs a graph");
  impl_->graph = std::move(graph);
  BNFOLD_CHECK(options.monitor_every >= 0, ErrorCode::InvalidArgument, "monitor_every {} is negative",
               options.monitor_every);
  check_thread_count(options.threads);
  if (options.precision == Precision::BFloat16) {
    BNFOLD_CHECK(options.use_onednn, ErrorCode::InvalidArgument,
                 "bf16 runs on oneDNN's kernels; the reference kernels are float32 only");
    std::string why;
    BNFOLD_CHECK(bfloat16_support(&why), ErrorCode::Unsupported, "bf16: {}; use fp32", why);
  }
  impl_->options = options;
  if (options.max_memory) set_memory_limit(options.max_memory);
  if (options.use_onednn) rt::set_dnnl_threads(options.threads);
  const Graph& g = *impl_->graph;
  for (const Value* v : g.required_inputs()) {
    impl_->inputs.push_back(spec_of(v));
    impl_->fed.push_back(v);
  }
  for (const Value* v : g.inputs())
    if (v->is_overridable()) impl_->fed.push_back(v);
  for (const Value* v : g.outputs()) impl_->outputs.push_back(spec_of(v));
  // Unsupported ops are named now, not in the middle of a run.
  impl_->check_kernels();
  // Compile for the declared shapes so that attribute and shape errors
  // surface at creation. A symbolic dim is unknown until the inputs arrive:
  // it is tried as 1 (the plan then serves batch-1 runs), but an error of
  // that guess is not the model's (a dynamic-H/W model whose first
  // convolution has no padding is fine at its real sizes); run() checks
  // the real shapes.
  std::vector<std::vector<int64_t>> dims;
  std::vector<const Tensor*> values;
  bool guessed = false;
  for (const Value* v : impl_->fed) {
    values.push_back(v->has_data() ? &v->data() : nullptr);
    if (v->has_data()) {
      dims.push_back(v->data().dims());
      continue;
    }
    if (!v->shape().rank_known) return;  // nothing to compile against yet
    std::vector<int64_t> d;
    for (const Dim& x : v->shape().dims) {
      if (!x.known() && !x.is_symbolic()) return;
      guessed |= !x.known();
      d.push_back(x.known() ? x.value : 1);
    }
    dims.push_back(d);
  }
  try {
    impl_->plan_for(dims, values, false);
  } catch (const Error& e) {
    // A shape decided by an input's value can only be planned at run time.
    if (e.code() != ErrorCode::NeedsInputValue && !guessed) throw;
  }
}

Session::~Session() = default;

const std::vector<TensorSpec>& Session::inputs() const { return impl_->inputs; }
const std::vector<TensorSpec>& Session::outputs() const { return impl_->outputs; }
const Graph& Session::graph() const { return *impl_->graph; }

std::shared_ptr<const rt::Stage> Session::Impl::prepare(const std::map<std::string, Tensor>& given,
                                                         std::vector<const Tensor*>* tensors, bool measured) const {
  for (const auto& [name, t] : given) {
    bool known = false;
    for (const Value* v : fed) known |= v->name() == name;
    if (!known) {
      std::string expected;
      for (const auto& s : inputs) expected += (expected.empty() ? "'" : ", '") + s.name + "'";
      failf(ErrorCode::InvalidArgument, "unknown input '{}'; the model's inputs are {}", name, expected);
    }
  }
  std::vector<std::vector<int64_t>> dims;
  std::map<std::string, int64_t> symbols;
  for (const Value* v : fed) {
    auto it = given.find(v->name());
    const Tensor* t = nullptr;
    if (it != given.end()) {
      t = &it->second;
    } else {
      BNFOLD_CHECK(v->has_data(), ErrorCode::InvalidArgument, "missing input '{}' ({}{})", v->name(),
                   dtype_name(v->dtype()), v->shape().str());
      t = &v->data();
    }
    BNFOLD_CHECK(t->numel() == 0 || t->data() != nullptr, ErrorCode::InvalidArgument, "input '{}' has no data",
                 v->name());
    check_input(v, *t, &symbols);
    tensors->push_back(t);
    dims.push_back(t->dims());
  }
  return plan_for(dims, *tensors, measured);
}

std::map<std::string, Tensor> Session::Impl::run(const std::map<std::string, Tensor>& inputs,
                                                 const BnStatsHook* hook) const {
  const rt::ThreadCountScope threads(options.threads);
  std::vector<const Tensor*> tensors;
  const auto stage = prepare(inputs, &tensors, hook != nullptr);
  std::vector<Tensor> results = rt::run_stages(*stage, tensors, hook);
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < results.size(); ++i) out[outputs[i].name] = std::move(results[i]);
  return out;
}

std::map<std::string, Tensor> Session::run(const std::map<std::string, Tensor>& inputs) const {
  const int64_t every = impl_->options.monitor_every;
  if (every <= 0) return impl_->run(inputs, nullptr);
  const int64_t epoch = impl_->epoch.load();
  const int64_t n = impl_->runs.fetch_add(1);
  if (n % every != 0) return impl_->run(inputs, nullptr);
  // A measured run: its own accumulators, merged once at the end.
  BnMoments mine;
  const BnStatsHook hook = [&mine](const BnStats& st) { mine.add(st.bn, st.count, st.mean, st.var); };
  auto out = impl_->run(inputs, &hook);
  int64_t batch = 1;
  if (!impl_->inputs.empty()) {
    auto it = inputs.find(impl_->inputs[0].name);
    if (it != inputs.end() && it->second.rank() > 0) batch = it->second.dims()[0];
  }
  std::lock_guard<std::mutex> lock(impl_->monitor_mutex);
  if (impl_->epoch.load() != epoch) return out;  // reset while it ran: not part of the new count
  MonitorSnapshot& seen = impl_->seen;
  seen.merge_moments(mine);
  ++seen.sampled_runs;
  seen.samples += batch;
  return out;
}

MonitorSnapshot Session::monitor() const {
  std::lock_guard<std::mutex> lock(impl_->monitor_mutex);
  MonitorSnapshot s = impl_->seen;
  s.runs = impl_->runs.load();
  return s;
}

void Session::reset_monitor() const {
  std::lock_guard<std::mutex> lock(impl_->monitor_mutex);
  impl_->seen = MonitorSnapshot();
  impl_->runs = 0;
  ++impl_->epoch;
}

std::map<std::string, Tensor> Session::run(const std::map<std::string, Tensor>& inputs,
                                           const BnStatsHook& hook) const {
  return impl_->run(inputs, hook ? &hook : nullptr);
}

Session::PlanStats Session::plan_stats(const std::map<std::string, Tensor>& inputs) const {
  const rt::ThreadCountScope threads(impl_->options.threads);
  std::vector<const Tensor*> tensors;
  const auto plan = impl_->prepare(inputs, &tensors)->plan;
  PlanStats s;
  s.activation_bytes = plan->arena_bytes();
  for (const auto& step : plan->steps()) {
    ++s.steps;
    switch (step->kind()) {
      case rt::StepKind::Reorder: ++s.reorders; break;
      case rt::StepKind::OneDnn: ++s.onednn_steps; break;
      case rt::StepKind::Native: ++s.native_steps; break;
      case rt::StepKind::Reference:
      case rt::StepKind::BnStatistics: ++s.reference_steps; break;
      case rt::StepKind::Statistics: ++s.statistics_steps; break;
    }
    s.flops += step->flops;
    s.step_descriptions.push_back(step->describe());
    s.step_implementations.push_back(step->implementation());
    s.step_nodes.push_back(step->node ? node_name(*step->node) : "");
    s.step_choices.push_back(step->why);
  }
  for (const Node* n : plan->stops()) ++s.stops[n->op_type()];
  return s;
}

std::vector<Session::StepTime> Session::profile(const std::map<std::string, Tensor>& inputs,
                                                int iterations) const {
  BNFOLD_CHECK(iterations >= 1, ErrorCode::InvalidArgument, "profile needs at least 1 iteration, got {}",
               iterations);
  const rt::ThreadCountScope threads(impl_->options.threads);
  std::vector<const Tensor*> tensors;
  const auto plan = impl_->prepare(inputs, &tensors)->plan;
  std::vector<double> ms;
  for (int i = 0; i < iterations; ++i) plan->run(tensors, &ms);
  std::vector<StepTime> out;
  for (size_t i = 0; i < plan->steps().size(); ++i) {
    const auto& step = plan->steps()[i];
    out.push_back({step->describe(), step->node ? step->node->name() : "", step->implementation(),
                   ms[i] / std::max(1, iterations), step->flops});
  }
  return out;
}

size_t Session::compiled_plans() const { return impl_->plans.size(); }

}  // namespace bnfold
