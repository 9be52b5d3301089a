// Small helpers shared by the CLI commands: formatting their text output,
// and parsing the comma-separated lists of their options.
#pragma once

#include "bnfold/graph/names.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace bnfold::cli {

std::string human_bytes(uint64_t bytes);   // "44.7 MB"
std::string human_count(int64_t count);    // "11.7 M"
std::string fit(const std::string& s, size_t width);       // keeps the head: "abc~"
std::string short_number(double v);        // "0.0123", "3.41e+05"
// stdout's width when it is a terminal, else $COLUMNS, else 80.
size_t terminal_width();
// The width of a column of these names: the longest, but no more than the
// terminal leaves after `others` characters of other columns, and at least `least`.
size_t column_width(const std::vector<std::string>& names, size_t others, size_t least = 12);
// Words of text in lines of at most `width` characters (a longer word stays
// whole), each line after the first starting with `indent`.
std::string wrap(const std::string& text, size_t width, const std::string& indent);

// "a,b,,c" -> {"a", "b", "c"}
std::vector<std::string> split_list(const std::string& s);
// "1,8,32" -> {1, 8, 32}: positive integers; throws naming the option.
std::vector<int64_t> parse_int_list(const std::string& s, const char* option);
// "0.485,0.456,0.406" -> floats; throws naming the option.
std::vector<float> parse_float_list(const std::string& s, const char* option);
// "224x224" -> {224, 224}
std::vector<int64_t> parse_size(const std::string& s, const char* option);

}  // namespace bnfold::cli
