#include "runtime/step_threads.hpp"

#include <fmt/format.h>

#include "ops/op_util.hpp"
#include "runtime/dnnl/dnnl_util.hpp"

namespace bnfold::rt {

namespace {

// Estimated microseconds of one thread's work on the step's data, on the
// slow side: FLOPs at 100 GFLOP/s plus every input's and output's bytes at
// 20 GB/s.
double work_us(const ops::InferContext& ctx, double flops) {
  double bytes = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i)) bytes += 4.0 * static_cast<double>(ops::product(ctx.dims(i)));
  for (const auto& o : ctx.outputs())
    if (o.present) bytes += 4.0 * static_cast<double>(ops::product(o.dims));
  return flops / 1e5 + bytes / 2e4;
}

// A step shares its work among the threads only where it is worth more than
// this many parallel regions. Swept on the zoo at batch 1 and 8 (2-core VM,
// 3.5 us a region): 12 took mobilenet_v3_small's batch 1 from 1.06x ORT's
// time to 0.75x (its squeeze-excite steps work on 576 values) and left the
// other nets within noise; 24 and more began to slow mnasnet0_5.
constexpr double kRegionsWorthSharing = 12;

}  // namespace

bool one_thread_work(const ops::InferContext& ctx, double flops, std::string* why) {
  const double work = work_us(ctx, flops);
  const double region = parallel_region_us();
  if (region <= 0 || work >= kRegionsWorthSharing * region) return false;
  *why = fmt::format("one thread: about {:.1f} us of work, under {:g} parallel regions ({:.1f} us each here)", work,
                     kRegionsWorthSharing, region);
  return true;
}

}  // namespace bnfold::rt
