#include "bnfold/graph/error.hpp"

namespace bnfold {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidModel: return "invalid model";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::Io: return "I/O error";
    case ErrorCode::Internal: return "internal error";
    case ErrorCode::NeedsInputValue: return "needs an input value";
    case ErrorCode::ResourceLimit: return "memory limit";
  }
  return "error";
}

}  // namespace bnfold
