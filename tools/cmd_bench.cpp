// bnfold bench MODEL: session creation time, latency and throughput per batch
// size, achieved GFLOP/s, peak memory; --per-op lists the slowest steps.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <numeric>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/arg_check.hpp"
#include "tools/commands.hpp"
#include "bnfold/graph/numbers.hpp"
#include "tools/inputs.hpp"
#include "tools/text.hpp"
#include "tools/timing.hpp"

namespace bnfold::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string model;
  std::string batches = "1";
  int warmup = 3;
  int iterations = 0;
  double seconds = 5;
  int threads = 0;
  bool reference = false;
  bool no_winograd = false;
  bool json = false;
  bool plan = false;
  int per_op = 0;
  int64_t monitor = 0;
  std::string against;
  std::string precision = "fp32", against_precision;
};

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The process's peak resident memory. VmHWM belongs to this program's
// memory map; getrusage's ru_maxrss would include the parent's peak from
// before exec (a benchmark driver's, say).
uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) {
      std::string_view v(line);
      v.remove_prefix(6);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      size_t used = 0;
      if (const auto kb = parse_uint64(v, &used)) return *kb * 1024;
    }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;
}

// Every step of the plan: what runs it and, for oneDNN, which implementation.
nlohmann::json plan_steps(const Session::PlanStats& stats) {
  nlohmann::json steps = nlohmann::json::array();
  for (size_t i = 0; i < stats.step_descriptions.size(); ++i)
    steps.push_back({{"step", stats.step_descriptions[i]},
                     {"implementation", stats.step_implementations[i]},
                     {"node", stats.step_nodes[i]},
                     {"why", stats.step_choices[i]}});
  return steps;
}

// The plain and the monitoring session timed in alternating pairs, so that
// the machine's noise falls on both alike: medians and the overhead.
nlohmann::json monitor_overhead(const Session& plain, const Session& watched,
                                const std::map<std::string, Tensor>& inputs, const BenchArgs& a) {
  for (int i = 0; i < std::max(a.warmup, a.monitor > 0 ? static_cast<int>(a.monitor) : 1); ++i) {
    plain.run(inputs);
    watched.run(inputs);
  }
  watched.reset_monitor();
  TimingPlan plan;
  plan.warmup = 0;
  plan.iterations = a.iterations;
  plan.seconds = a.seconds;
  const PairedTiming t = time_pairs([&] { plain.run(inputs); }, [&] { watched.run(inputs); }, plan);
  const auto mean = [](const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  };
  return {{"monitor_every", a.monitor},
          {"pairs", t.a_ms.size()},
          {"median_ms", t.median_a},
          {"monitored_median_ms", t.median_b},
          {"median_overhead", 1.0 / t.speedup - 1.0},
          {"overhead_low", 1.0 / t.high - 1.0},
          {"overhead_high", 1.0 / t.low - 1.0},
          {"too_noisy", t.too_noisy()},
          {"mean_overhead", mean(t.b_ms) / mean(t.a_ms) - 1.0},
          {"sampled_runs", watched.monitor().sampled_runs}};
}

// MODEL and --against OTHER timed in alternating pairs on the same inputs.
nlohmann::json compare(const Session& model, const Session& other, const std::map<std::string, Tensor>& inputs,
                       const BenchArgs& a) {
  TimingPlan plan;
  plan.warmup = a.warmup;
  plan.iterations = a.iterations;
  plan.seconds = a.seconds;
  plan.min_runs = 7;
  const PairedTiming t = time_pairs([&] { model.run(inputs); }, [&] { other.run(inputs); }, plan);
  return {{"pairs", t.a_ms.size()},   {"median_ms", t.median_a},   {"against_median_ms", t.median_b},
          {"speedup", t.speedup},     {"speedup_low", t.low},      {"speedup_high", t.high},
          {"too_noisy", t.too_noisy()}, {"summary", t.describe()}};
}

nlohmann::json bench_batch(const Session& session, int64_t batch, const BenchArgs& a,
                           const Session* watched = nullptr, const Session* other = nullptr) {
  const auto inputs = load_or_random_inputs(session, {}, batch, 0);
  const auto t0 = Clock::now();
  const Session::PlanStats stats = session.plan_stats(inputs);  // compiles the plan for this batch
  const double compile_ms = ms_since(t0);
  if (a.plan)
    return {{"batch", batch},
            {"plan_ms", compile_ms},
            {"steps", stats.steps},
            {"onednn_steps", stats.onednn_steps},
            {"native_steps", stats.native_steps},
            {"reference_steps", stats.reference_steps},
            {"reorders", stats.reorders},
            {"activation_bytes", stats.activation_bytes},
            {"stops", stats.stops},
            {"plan", plan_steps(stats)}};
  if (watched || other) {
    nlohmann::json m = watched ? monitor_overhead(session, *watched, inputs, a) : compare(session, *other, inputs, a);
    m["batch"] = batch;
    return m;
  }
  TimingPlan plan;
  plan.warmup = a.warmup;
  plan.iterations = a.iterations;
  plan.seconds = a.seconds;
  const std::vector<double> times = time_runs([&] { session.run(inputs); }, plan);
  const double median = percentile(times, 0.5);
  nlohmann::json j = {
      {"batch", batch},
      {"plan_ms", compile_ms},
      {"iterations", times.size()},
      {"median_ms", median},
      {"p90_ms", percentile(times, 0.9)},
      {"min_ms", *std::min_element(times.begin(), times.end())},
      {"samples_per_s", static_cast<double>(batch) * 1000.0 / median},
      {"gflop", stats.flops / 1e9},
      {"gflops_per_s", stats.flops / 1e6 / median},
      {"activation_bytes", stats.activation_bytes},
      {"steps", stats.steps},
      {"onednn_steps", stats.onednn_steps},
      {"native_steps", stats.native_steps},
      {"reference_steps", stats.reference_steps},
      {"reorders", stats.reorders},
  };
  if (a.per_op > 0) {
    auto prof = session.profile(inputs, std::max(3, std::min(a.warmup + 3, 20)));
    std::stable_sort(prof.begin(), prof.end(), [](const auto& x, const auto& y) { return x.ms > y.ms; });
    nlohmann::json ops = nlohmann::json::array();
    for (size_t i = 0; i < prof.size() && static_cast<int>(i) < a.per_op; ++i)
      ops.push_back({{"step", prof[i].what},
                     {"node", prof[i].node},
                     {"implementation", prof[i].implementation},
                     {"ms", prof[i].ms},
                     {"gflops_per_s", prof[i].ms > 0 ? prof[i].flops / 1e6 / prof[i].ms : 0.0}});
    j["slowest_steps"] = ops;
  }
  return j;
}

// The steps' node names as the last column, after `others` characters of the
// other columns (at least 20 wide; rows kept apart by fit_names).
std::vector<std::string> node_column(const nlohmann::json& steps, size_t others) {
  std::vector<std::string> nodes;
  for (const auto& s : steps) nodes.push_back(s["node"].get<std::string>());
  return fit_names(nodes, std::max<size_t>(20, terminal_width() > others ? terminal_width() - others : 20));
}

void print_plan(const nlohmann::json& r) {
  fmt::print("{}\n  session creation {:.1f} ms, threads {}, {}, {}\n", r["model"].get<std::string>(),
             r["session_ms"].get<double>(), r["threads"].get<int>(), r["kernels"].get<std::string>(),
             r["precision"].get<std::string>());
  for (const auto& b : r["batches"]) {
    fmt::print(
        "\n  plan at batch {}: {} steps ({} oneDNN, {} vectorized, {} reference, {} reorders), {} of "
        "activations\n",
        b["batch"].get<int64_t>(), b["steps"].get<size_t>(), b["onednn_steps"].get<size_t>(),
        b["native_steps"].get<size_t>(), b["reference_steps"].get<size_t>(), b["reorders"].get<size_t>(),
        human_bytes(b["activation_bytes"].get<uint64_t>()));
    const std::vector<std::string> nodes = node_column(b["plan"], 68);
    size_t row = 0;
    for (const auto& s : b["plan"]) {
      fmt::print("  {:<40} {:<24} {}\n", fit(s["step"].get<std::string>(), 40),
                 fit(s["implementation"].get<std::string>(), 24), nodes[row++]);
      if (!s["why"].get<std::string>().empty()) fmt::print("      why: {}\n", s["why"].get<std::string>());
    }
    std::string stops;
    for (const auto& [op, count] : b["stops"].items())
      stops += fmt::format("{}{} x{}", stops.empty() ? "" : ", ", op, count.get<size_t>());
    if (!stops.empty())
      fmt::print("  then the plan stops before {}: their output sizes depend on the run's values, so they run on\n"
                 "  each run's data and the plans after them are built per shape (the newest 16 kept)\n",
                 stops);
  }
}

void print_monitor(const nlohmann::json& r) {
  fmt::print("{}\n  monitoring one run in {}: the same session with and without, run for run\n",
             r["model"].get<std::string>(), r["batches"][0]["monitor_every"].get<int64_t>());
  fmt::print("  {:>5} {:>6} {:>12} {:>12} {:>10} {:>17} {:>8}\n", "batch", "pairs", "median off", "median on",
             "overhead", "(95% interval)", "sampled");
  for (const auto& b : r["batches"])
    fmt::print("  {:>5} {:>6} {:>9.3f} ms {:>9.3f} ms {:>9.2f}% {:>7.2f}% to {:.2f}% {:>5}{}\n",
               b["batch"].get<int64_t>(), b["pairs"].get<size_t>(), b["median_ms"].get<double>(),
               b["monitored_median_ms"].get<double>(), 100 * b["median_overhead"].get<double>(),
               100 * b["overhead_low"].get<double>(), 100 * b["overhead_high"].get<double>(),
               b["sampled_runs"].get<int64_t>(), b["too_noisy"].get<bool>() ? "  (too noisy to quote)" : "");
}

void print_compare(const nlohmann::json& r) {
  fmt::print("{} ({}) against {} ({})\n  in alternating pairs on the same inputs, threads {}\n",
             r["model"].get<std::string>(), r["precision"].get<std::string>(), r["against"].get<std::string>(),
             r["against_precision"].get<std::string>(), r["threads"].get<int>());
  fmt::print("  {:>5} {:>12} {:>12}   {}\n", "batch", "MODEL", "--against", "--against's speedup (median of pairs)");
  for (const auto& b : r["batches"])
    fmt::print("  {:>5} {:>9.3f} ms {:>9.3f} ms   {}\n", b["batch"].get<int64_t>(), b["median_ms"].get<double>(),
               b["against_median_ms"].get<double>(), b["summary"].get<std::string>());
}

void print_text(const nlohmann::json& r) {
  fmt::print("{}\n  session creation {:.1f} ms, threads {}, {}, {}\n", r["model"].get<std::string>(),
             r["session_ms"].get<double>(), r["threads"].get<int>(), r["kernels"].get<std::string>(),
             r["precision"].get<std::string>());
  fmt::print("  {:>5} {:>9} {:>9} {:>9} {:>10} {:>8} {:>9} {:>8}\n", "batch", "median", "p90", "min", "samples/s",
             "GFLOP/s", "act. mem", "plan");
  for (const auto& b : r["batches"]) {
    fmt::print("  {:>5} {:>6.2f} ms {:>6.2f} ms {:>6.2f} ms {:>10.1f} {:>8.1f} {:>9} {:>5.0f} ms\n",
               b["batch"].get<int64_t>(), b["median_ms"].get<double>(), b["p90_ms"].get<double>(),
               b["min_ms"].get<double>(), b["samples_per_s"].get<double>(), b["gflops_per_s"].get<double>(),
               human_bytes(b["activation_bytes"].get<uint64_t>()), b["plan_ms"].get<double>());
  }
  const auto& first = r["batches"][0];
  fmt::print("  {:.2f} GFLOP per sample; plan: {} steps ({} oneDNN, {} vectorized, {} reference, {} reorders)\n",
             first["gflop"].get<double>() / static_cast<double>(first["batch"].get<int64_t>()),
             first["steps"].get<size_t>(), first["onednn_steps"].get<size_t>(), first["native_steps"].get<size_t>(),
             first["reference_steps"].get<size_t>(), first["reorders"].get<size_t>());
  fmt::print("  peak resident memory {}\n", human_bytes(r["peak_rss_bytes"].get<uint64_t>()));
  for (const auto& b : r["batches"]) {
    if (!b.contains("slowest_steps")) continue;
    fmt::print("\n  slowest steps at batch {}:\n", b["batch"].get<int64_t>());
    const std::vector<std::string> nodes = node_column(b["slowest_steps"], 88);
    size_t row = 0;
    for (const auto& s : b["slowest_steps"])
      fmt::print("  {:>8.3f} ms {:>7.1f} GFLOP/s  {} {} {}\n", s["ms"].get<double>(),
                 s["gflops_per_s"].get<double>(), fit(s["step"].get<std::string>(), 36),
                 fit(s["implementation"].get<std::string>(), 22), nodes[row++]);
  }
}

}  // namespace

void add_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure a model's latency and throughput per batch size.");
  cmd->add_option("MODEL", a->model, "ONNX model file")->required();
  cmd->add_option("-b,--batch", a->batches, "Batch sizes, comma-separated")->capture_default_str();
  in_range(cmd->add_option("--warmup", a->warmup, "Untimed runs first (first runs are slow)")->capture_default_str(),
           0, 1e6);
  in_range(cmd->add_option("-n,--iterations", a->iterations, "Timed runs per batch size (0: use --seconds)"), 0,
           1e9);
  in_range(cmd->add_option("-s,--seconds", a->seconds, "Time budget per batch size, up to an hour")
               ->capture_default_str(),
           0, 3600);
  add_threads_option(cmd, a->threads);
  in_range(cmd->add_option("--per-op", a->per_op, "Also list the N slowest steps with their GFLOP/s"), 0, 1e9);
  in_range(cmd->add_option("--monitor", a->monitor,
                           "Time a session monitoring BN statistics in one run of K against one that does not, "
                           "run for run (the overhead of SessionOptions::monitor_every = K)"),
           0, 1e9);
  cmd->add_option("--against", a->against,
                  "Time this second model (the same inputs) against MODEL in alternating pairs and report the "
                  "median speedup over pairs with its 95% interval: a folded model against its original, "
                  "say")
      ->check(CLI::ExistingFile);
  add_precision_option(cmd, a->precision);
  cmd->add_option("--against-precision", a->against_precision,
                  "Run the --against session (MODEL itself when --against is not given) in this precision: "
                  "bf16 against fp32 in alternating pairs, say")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_flag("--reference", a->reference, "Use the plain reference kernels (the oracle; slow)");
  cmd->add_flag("--no-winograd", a->no_winograd,
                "Direct convolution everywhere (by default dense 3x3 stride-1 convolutions use oneDNN's "
                "Winograd kernels where the CPU has them: AVX-512)");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->add_flag("--plan", a->plan,
                "Print each batch size's plan instead of timing it: every step, what runs it (oneDNN "
                "and its implementation, a reference kernel, a reorder), the node it computes and, where the plan had a choice, why it took "
                "this one (a fusion taken or not for what oneDNN offers, Winograd, a layout kept, a depthwise "
                "kernel timed against the other one oneDNN offers, one thread for a step with little work)");
  cmd->footer(
      "Inputs are random (N(0,1)), with the model's free batch dim set per run.\n"
      "Latency is per run (the whole batch); throughput = batch / median latency.\n"
      "GFLOP/s counts Conv, ConvTranspose, Gemm and MatMul (2 per multiply-add).\n"
      "On a shared machine, compare numbers from the same invocation.\n"
      "--per-op and --plan name oneDNN's implementation of each step: one starting\n"
      "with 'ref' is oneDNN's slow reference path; '(reference)' is bnfold's own\n"
      "plain kernel; 'bnfold:simd' is bnfold's own vectorized loop ('vectorized' in\n"
      "the step counts: a Concat with the scale-shift after it).\n\n"
      "Examples:\n"
      "  bnfold bench models/tiny_resnet.onnx --batch 1,8,32\n"
      "  bnfold bench resnet50.onnx --batch 32 --threads 2 --per-op 10\n"
      "  bnfold bench model.onnx --plan          (with why each fusion was or was not taken)\n"
      "  bnfold bench resnet18.onnx --batch 1 --threads 2 --monitor 16\n"
      "  bnfold bench model.onnx --against folded.onnx --batch 1,8\n"
      "  bnfold bench model.onnx --against-precision bf16 --batch 8   (bf16's speedup over fp32)");
  cmd->callback([a] {
    SessionOptions opts;
    opts.threads = a->threads;
    opts.use_onednn = !a->reference;
    opts.winograd = !a->no_winograd;
    opts.precision = parse_precision(a->precision);
    BNFOLD_ARG_CHECK(!a->reference || (opts.precision == Precision::Float32 && a->against_precision != "bf16"),
                     ErrorCode::InvalidArgument, "bf16 runs on oneDNN's kernels: not with --reference");
    const auto t0 = Clock::now();
    Session session(a->model, opts);
    nlohmann::json r = {{"model", a->model},
                        {"session_ms", ms_since(t0)},
                        {"threads", a->threads},
                        {"kernels", a->reference ? "reference kernels" : "oneDNN kernels"},
                        {"precision", a->precision}};
    BNFOLD_ARG_CHECK(a->monitor == 0 || (a->against.empty() && a->against_precision.empty()),
                     ErrorCode::InvalidArgument,
                     "--monitor and --against (or --against-precision) each compare two sessions: give one of them");
    std::unique_ptr<Session> watched, other;
    if (!a->against.empty() || !a->against_precision.empty()) {
      SessionOptions ao = opts;
      if (!a->against_precision.empty()) ao.precision = parse_precision(a->against_precision);
      const std::string& path = a->against.empty() ? a->model : a->against;
      other = std::make_unique<Session>(path, ao);
      r["against"] = path;
      r["against_precision"] = precision_name(ao.precision);
    }
    if (a->monitor > 0) {
      SessionOptions mo = opts;
      mo.monitor_every = a->monitor;
      watched = std::make_unique<Session>(a->model, mo);
    }
    nlohmann::json batches = nlohmann::json::array();
    for (int64_t b : parse_int_list(a->batches, "--batch"))
      batches.push_back(
          bench_batch(session, b, *a, a->plan ? nullptr : watched.get(), a->plan ? nullptr : other.get()));
    r["batches"] = batches;
    r["peak_rss_bytes"] = peak_rss_bytes();
    if (a->json) std::cout << r.dump(2) << "\n";
    else if (a->plan) print_plan(r);
    else if (watched) print_monitor(r);
    else if (other) print_compare(r);
    else print_text(r);
  });
}

}  // namespace bnfold::cli
