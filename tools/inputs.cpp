#include "tools/inputs.hpp"

#include "tools/arg_check.hpp"
#include "bnfold/graph/tensor_io.hpp"
#include "bnfold/runtime/tensor_tools.hpp"

namespace bnfold::cli {

std::map<std::string, std::string> parse_named_files(const std::vector<std::string>& items,
                                                     const Session& session, const char* option) {
  std::map<std::string, std::string> out;
  for (const std::string& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      BNFOLD_ARG_CHECK(session.inputs().size() == 1 || std::string(option) == "--expect", ErrorCode::InvalidArgument,
                   "{} {}: the model has {} inputs; write {} NAME=PATH", option, item, session.inputs().size(),
                   option);
      const std::string name = std::string(option) == "--expect" ? session.outputs().at(0).name
                                                                 : session.inputs().at(0).name;
      out[name] = item;
    } else {
      out[item.substr(0, eq)] = item.substr(eq + 1);
    }
  }
  return out;
}

std::map<std::string, Tensor> load_or_random_inputs(const Session& session, const std::vector<std::string>& items,
                                                     int64_t batch, uint64_t seed) {
  const auto files = parse_named_files(items, session, "--input");
  std::map<std::string, Tensor> inputs;
  if (files.size() < session.inputs().size()) inputs = random_inputs(session, batch, seed);
  for (const auto& [name, path] : files) {
    bool known = false;
    std::string names;
    for (const auto& spec : session.inputs()) {
      known |= spec.name == name;
      names += (names.empty() ? "'" : ", '") + spec.name + "'";
    }
    BNFOLD_ARG_CHECK(known, ErrorCode::InvalidArgument, "--input {}: the model has no input '{}'; its inputs are {}",
                 name, name, names);
    inputs[name] = load_tensor_file(path);
  }
  return inputs;
}

}  // namespace bnfold::cli
