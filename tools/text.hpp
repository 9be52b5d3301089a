// Small formatting helpers shared by the CLI commands' text output.
#pragma once

#include <cstdint>
#include <string>

namespace bnfold::cli {

std::string human_bytes(uint64_t bytes);   // "44.7 MB"
std::string human_count(int64_t count);    // "11.7 M"
std::string fit(const std::string& s, size_t width);       // keeps the head: "abc~"
std::string fit_left(const std::string& s, size_t width);  // keeps the tail: "~xyz"
std::string short_number(double v);        // "0.0123", "3.41e+05"

}  // namespace bnfold::cli
