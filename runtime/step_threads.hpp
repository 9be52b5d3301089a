// Internal: whether a step's work is worth sharing among the threads. Waking
// a team and meeting at its barrier costs 0.3-1 us a step on bare metal and
// 3-5 on a 2-core VM; a network of small steps at batch 1 (squeeze-excite
// blocks, 7x7 layers) pays it dozens of times a run.
#pragma once

#include <string>

#include "ops/kernel.hpp"

namespace bnfold::rt {

// Whether the node `ctx` describes, with `flops` (Conv/Gemm/MatMul), is too
// little work to share among the calling thread's OpenMP team; then `why`
// says how much, against what a parallel region costs here.
bool one_thread_work(const ops::InferContext& ctx, double flops, std::string* why);

}  // namespace bnfold::rt
