// Synthetic corruptions of images, the shifts real sites have (lighting,
// camera, optics, compression), at severities 1-5 in the manner of
// ImageNet-C (Hendrycks & Dietterich 2019). They act in pixel space, values
// in [0, 1] laid out [N, C, H, W], before the model's mean/std
// normalization, and clip to [0, 1] as a sensor does. Sizes (blur widths,
// motion length) are fractions of the image's shorter side, so that a family
// means the same on 32x32 and on 224x224 images. Every random draw comes
// from the seed, the family, the severity and the sample's index in the data
// set, never from the batch it arrives in: the same sample corrupts the same
// way in any batch, on any machine.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include "bnfold/graph/tensor.hpp"

namespace bnfold BNFOLD_API {

struct CorruptionFamily {
  const char* name;         // "brightness", ... (what --families takes)
  const char* description;  // one line: what it models
  const char* parameter;    // what the severity sets, with its five values
};
// In a fixed order: brightness, contrast, tint, gaussian_noise, shot_noise,
// gaussian_blur, motion_blur, jpeg, pixelate, haze.
const std::vector<CorruptionFamily>& corruption_families();
// Throws InvalidArgument listing the families when `name` is none of them.
const CorruptionFamily& corruption_family(const std::string& name);
// Whether a family can act on images of `channels` channels (tint needs 2 or
// more; JPEG takes 1 or 3, other counts are compressed channel by channel).
bool corruption_applies(const std::string& family, int64_t channels);

// Corrupts `pixels` ([N, C, H, W] float32, values in [0, 1]) in place.
// `first` is the index of the batch's first sample in the data set. Throws
// for a severity outside 1-5, an unknown family, other layouts.
void corrupt(Tensor& pixels, const std::string& family, int severity, uint64_t seed, int64_t first);

}  // namespace bnfold
