// Element types. The numeric values are ONNX's TensorProto.DataType codes, so
// conversion to and from ONNX is a range check, not a table.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace bnfold BNFOLD_API {

enum class DType : int32_t {
  Undefined = 0,
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,  // only as a value's type; bnfold holds no string tensors
  Bool = 9,
  Float16 = 10,
  Float64 = 11,
  UInt32 = 12,
  UInt64 = 13,
  Complex64 = 14,
  Complex128 = 15,
  BFloat16 = 16,
};

// Bytes per element; 0 for Undefined and String.
size_t dtype_size(DType t);
// Short lower-case name: "float32", "int64", "bool", ...
const char* dtype_name(DType t);
bool dtype_is_float(DType t);  // float16, bfloat16, float32, float64
// True for the codes ONNX 1.12 defines (0 excluded).
bool dtype_is_known(int32_t onnx_code);

// IEEE half and bfloat16 conversions (round to nearest even).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t b);
uint16_t float_to_bfloat16(float f);

}  // namespace bnfold
