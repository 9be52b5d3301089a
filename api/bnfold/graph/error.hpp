// The one error type of the library. Everything that goes wrong inside bnfold
// (a bad model, an unsupported op, a failed I/O, a broken invariant) is thrown as
// a bnfold::Error; foreign errors (protobuf, ONNX checker, oneDNN) are translated
// into it at the boundary. The library never exits or aborts.
#pragma once

#include "bnfold/graph/export.hpp"

#include <stdexcept>
#include <string>

namespace bnfold BNFOLD_API {

enum class ErrorCode {
  InvalidModel,     // the model file or graph is malformed
  Unsupported,      // valid ONNX, but not something bnfold handles
  InvalidArgument,  // a caller passed something wrong (name, shape, option)
  Io,               // a file could not be read or written
  Internal,         // a bnfold invariant broke: a bug
  // A shape in the model depends on the value of an input that is not known
  // yet (a Reshape whose shape is fed at run time): the plan can only be
  // built when a run brings that value.
  NeedsInputValue,
  // A tensor or plan would take the memory in use past the limit
  // (graph/memory.hpp), or the system refused the memory.
  ResourceLimit,
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace bnfold
