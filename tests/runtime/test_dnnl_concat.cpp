// oneDNN's Concat against the reference kernel: blocked inputs with odd
// channel counts, inputs computed in their box of the output, and the
// scale-shift after a Concat fused into one pass over each input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "bnfold/runtime/session.hpp"
#include "bnfold/runtime/tensor_tools.hpp"
#include "tests/model_builder.hpp"
#include "tests/runtime/dnnl_case.hpp"

using namespace bnfold;
using namespace bnfold::test;

TEST_CASE("Concat of blocked tensors with odd channel counts", "[kernels][concat]") {
  Case t;
  Value* x = t.input("x", {2, 8, 6, 6});
  Value* a = t.node("Conv", {x, t.weight("w1", {5, 8, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
  Value* b = t.node("Conv", {x, t.weight("w2", {11, 8, 1, 1})});
  t.output(t.node("Concat", {a, b, x}, {{"axis", one(1)}}));
  CHECK(contains(t.check(), "Concat (oneDNN)"));
}

TEST_CASE("Concat copies each input into its box of the output", "[kernels][concat]") {
  {  // googlenet's pattern: conv branches in mixed layouts (nChw16c from a Winograd conv on AVX-512, nhwc)
    Case t;
    Value* x = t.input("x", {3, 32, 16, 15});
    Value* a = t.node("Conv", {x, t.weight("w1", {48, 32, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
    Value* b = t.node("Conv", {x, t.weight("w2", {16, 32, 1, 1})});
    Value* c = t.node("Conv", {x, t.weight("w3", {32, 32, 1, 1})});
    t.output(t.node("Concat", {a, b, c}, {{"axis", one(1)}}));
    // Sums of 288 products of N(0,1) values. Copies or the primitive, by the layouts oneDNN picks.
    CHECK(contains(t.check(1e-4, 1e-4), "Concat (oneDNN)"));
  }
  {  // plain inputs along H: one copy each
    Case t;
    t.output(t.node("Concat", {t.input("a", {2, 3, 4, 5}), t.input("b", {2, 3, 1, 5}), t.input("c", {2, 3, 4, 5})},
                    {{"axis", one(2)}}));
    CHECK(contains(t.check(0, 0), "Concat (oneDNN) (input 1 of 3)"));
  }
  {  // along the innermost axis (negative): small, oneDNN's concat primitive
    Case t;
    t.output(t.node("Concat", {t.input("a", {2, 3, 4, 5}), t.input("b", {2, 3, 4, 2})}, {{"axis", one(-1)}}));
    const auto steps = t.check(0, 0);
    CHECK(contains(steps, "Concat (oneDNN)"));
    CHECK_FALSE(contains(steps, "(input 1 of"));
  }
  {  // along the innermost axis, 4 MB and more: copies
    Case t;
    t.output(t.node("Concat", {t.input("a", {8, 64, 64, 40}), t.input("b", {8, 64, 64, 24})}, {{"axis", one(3)}}));
    CHECK(contains(t.check(0, 0), "Concat (oneDNN) (input 2 of 2)"));
  }
}

TEST_CASE("a Concat input whose box of the output is laid out as the input is computed there, without a copy",
          "[kernels][concat]") {
  const auto copies = [](const std::vector<std::string>& steps) {
    return std::count_if(steps.begin(), steps.end(),
                         [](const std::string& s) { return s.find("Concat (oneDNN)") != std::string::npos; });
  };
  for (const int64_t batch : {1, 2}) {
    INFO("batch " << batch);
    // One sample in NCHW: each channel box is contiguous. Relu's output is
    // also read through a view (Flatten) and twice by the Concat; a graph
    // input cannot move.
    Case t;
    Value* x = t.input("x", {batch, 5, 4, 3});
    Value* a = t.node("Relu", {x});
    Value* b = t.node("Sigmoid", {x});
    t.output(t.node("Concat", {a, b, a, x}, {{"axis", one(1)}}));
    t.output(t.node("Tanh", {t.node("Flatten", {a})}));
    const auto steps = t.check();  // oneDNN's Sigmoid and Tanh are within 1.2e-7 of the reference's
    // Batch 1: a and b computed in their boxes; the second a and x copied.
    CHECK(copies(steps) == (batch == 1 ? 2 : 4));
  }
  {  // googlenet's inception at batch 1: 1x1 and 3x3 conv branches, a MaxPool, channels in multiples of 16
    Case t;
    Value* x = t.node("Relu", {t.input("x", {1, 32, 14, 13})});
    Value* a = t.node("Conv", {x, t.weight("w1", {16, 32, 1, 1})});
    Value* b = t.node("Conv", {x, t.weight("w2", {32, 32, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
    Value* p = t.node("MaxPool", {x}, {{"kernel_shape", ints({3, 3})}, {"pads", ints({1, 1, 1, 1})}});
    Value* c = t.node("Conv", {p, t.weight("w3", {48, 32, 1, 1})});
    t.output(t.node("Relu", {t.node("Concat", {a, b, c}, {{"axis", one(1)}})}));
    t.check(1e-4, 1e-4);  // whichever boxes oneDNN's layouts allow
  }
}

TEST_CASE("Concat and the scale-shift after it as one pass over each input, where it lies", "[kernels][concat]") {
  auto scale_shift_relu = [](Case& t, Value* cat, int64_t c) {
    Value* m = t.node("Mul", {cat, t.weight("s", {1, c, 1, 1}, 0.5f, 2.0f)});
    return t.node("Relu", {t.node("Add", {m, t.weight("t", {c, 1, 1}, -1.0f, 1.0f)})});
  };
  {  // plain inputs (planar)
    Case t;
    Value* cat = t.node("Concat", {t.input("a", {2, 5, 3, 4}), t.input("b", {2, 7, 3, 4})}, {{"axis", one(1)}});
    t.output(scale_shift_relu(t, cat, 12));
    const auto steps = t.check(0, 1e-6);
    CHECK(contains(steps, "Concat (bnfold) + Mul + Add + Relu"));
    CHECK(steps.size() == 1);
  }
  {  // densenet's pattern: conv outputs in oneDNN's layouts (nhwc, nChw16c or 8c: by the CPU), one of one input
    for (int64_t n : {1, 3}) {
      CAPTURE(n);
      Case t;
      Value* x = t.input("x", {n, 32, 14, 15});
      Value* a = t.node("Conv", {x, t.weight("w1", {64, 32, 1, 1})});
      Value* b = t.node("Conv", {x, t.weight("w2", {32, 32, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
      Value* c = t.node("Conv", {x, t.weight("w3", {48, 32, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
      // Winograd on AVX-512: nChw16c first, so the output is too
      Value* d = t.node("Conv", {x, t.weight("w4", {64, 32, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
      Value* cat = t.node("Concat", {a, b, c}, {{"axis", one(1)}});
      Value* alone = t.node("Concat", {a}, {{"axis", one(1)}});
      Value* blocked = t.node("Concat", {d, c, a}, {{"axis", one(1)}});
      Value* mixed = t.node("Concat", {a, d}, {{"axis", one(1)}});  // nChw16c read into nhwc
      t.output(scale_shift_relu(t, cat, 144));
      t.output(t.node("Relu", {alone}));
      t.output(t.node("Relu", {blocked}));
      t.output(t.node("Relu", {mixed}));
      const auto steps = t.check(1e-4, 1e-4);
      CHECK(contains(steps, "Concat (bnfold) + Mul + Add + Relu"));
      CHECK(contains(steps, "Concat (bnfold) + Relu"));
      CHECK_FALSE(contains(steps, "Mul (oneDNN)"));
    }
  }
  {  // a plain input first, a conv's output second: the output plain, the conv's reordered to it
    Case t;
    Value* x = t.input("x", {2, 16, 6, 7});
    Value* cat = t.node("Concat", {x, t.node("Conv", {x, t.weight("w", {32, 16, 1, 1})})}, {{"axis", one(1)}});
    t.output(scale_shift_relu(t, cat, 48));
    CHECK(contains(t.check(1e-4, 1e-5), "Concat (bnfold)"));
  }
  {  // [N, C]; Sub and Div by constants, then Clip
    Case t;
    Value* cat = t.node("Concat", {t.input("a", {3, 5}), t.input("b", {3, 9})}, {{"axis", one(-1)}});
    Value* d = t.node("Div", {t.node("Sub", {cat, t.weight("k", {1})}), t.weight("v", {14}, 0.5f, 2.0f)});
    Value* lo = t.weight("lo", {}, -0.5f, -0.5f);
    Value* hi = t.weight("hi", {}, 0.5f, 0.5f);
    t.output(t.node("Clip", {d, lo, hi}));
    const auto steps = t.check(1e-6, 1e-6);
    CHECK(contains(steps, "Concat (bnfold) + Sub + Div + Clip"));
  }
  {  // not an affine of each channel, or not the Concat's only use: no fusion
    Case t;
    Value* cat = t.node("Concat", {t.input("a", {2, 4, 3, 5}), t.input("b", {2, 4, 3, 5})}, {{"axis", one(1)}});
    t.output(t.node("Mul", {cat, t.weight("w", {1, 1, 1, 5})}));
    Value* cat2 = t.node("Concat", {t.input("c", {2, 3, 4}), t.input("d", {2, 3, 4})}, {{"axis", one(1)}});
    t.output(cat2);
    t.output(t.node("Relu", {cat2}));
    const auto steps = t.check(0, 1e-6);
    CHECK_FALSE(contains(steps, "Concat (bnfold)"));
  }
  {  // channel blocks that a count not a multiple of the block cuts: oneDNN's concat, then the binary step
    Case t;
    Value* x = t.input("x", {1, 32, 14, 14});
    Value* a = t.node("Conv", {x, t.weight("w1", {64, 32, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
    Value* b = t.node("Conv", {x, t.weight("w2", {20, 32, 3, 3})}, {{"pads", ints({1, 1, 1, 1})}});
    t.output(scale_shift_relu(t, t.node("Concat", {a, b}, {{"axis", one(1)}}), 84));
    t.check(1e-4, 1e-4);  // whichever path the layouts allow, the same numbers
  }
}
