// Internal: conversions between ONNX protobuf messages and bnfold's Tensor and
// Attribute. Only graph/onnx_*.cpp include this (and so protobuf).
#pragma once

#include <onnx/onnx_pb.h>

#include <memory>
#include <string>

#include "bnfold/graph/attribute.hpp"
#include "bnfold/graph/onnx_io.hpp"
#include "bnfold/graph/tensor.hpp"

namespace bnfold {

// model_dir: the folder external data is resolved against ("" = none allowed).
// what: how messages name the tensor ("initializer 'W'").
Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& model_dir,
                         const std::string& what);
// The same, taking the proto's raw_data bytes over instead of copying them
// (the proto is left without them): loading touches each weight byte once.
Tensor take_tensor_from_proto(onnx::TensorProto* proto, const std::string& model_dir, const std::string& what);
Tensor sparse_tensor_from_proto(const onnx::SparseTensorProto& proto, const std::string& what);
// Writes data as raw_data (name and dims included).
void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* proto);

Attribute attribute_from_proto(const onnx::AttributeProto& proto, const std::string& model_dir,
                               const std::string& where);
void attribute_to_proto(const std::string& name, const Attribute& a, onnx::AttributeProto* proto);

// Imports a model held in memory, as import_onnx_bytes would its serialized
// bytes, taking its weights' raw_data over (the model is left without them).
// name: how messages name the model; no external data is allowed.
std::unique_ptr<Graph> import_onnx_model(onnx::ModelProto* model, const std::string& name,
                                         const ImportOptions& options);

}  // namespace bnfold
