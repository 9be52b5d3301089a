// Internal: the factories of every pass (one file each), used by the
// pipeline's name->factory table.
#pragma once

#include <fmt/format.h>

#include <memory>

#include "bnfold/passes/pass.hpp"

namespace bnfold {

std::unique_ptr<Pass> make_eliminate_identity();
std::unique_ptr<Pass> make_constant_folding();
std::unique_ptr<Pass> make_dead_code();
std::unique_ptr<Pass> make_matmul_add_to_gemm();
std::unique_ptr<Pass> make_fold_bn_into_producer();
std::unique_ptr<Pass> make_fold_bn_into_consumer();
std::unique_ptr<Pass> make_bn_to_scale_shift();
std::unique_ptr<Pass> make_fold_affine_into_producer();
std::unique_ptr<Pass> make_eval_mode();
std::unique_ptr<Pass> make_equalize();

}  // namespace bnfold
