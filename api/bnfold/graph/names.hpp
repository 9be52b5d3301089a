// Layer names fitted to a width (a terminal table's column, a chart's label
// column): cut where they are alike, never so that two read the same.
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace bnfold BNFOLD_API {

// A table column of names, each cut to `width` in the middle
// ("/layer2/sk~skip.0/Conv") where longer, so that head and tail (where
// names differ) stay; rows that would read the same keep more until they
// differ. Names that fit are kept whole.
std::vector<std::string> fit_names(const std::vector<std::string>& names, size_t width);
// The same with a width per row.
std::vector<std::string> fit_names(const std::vector<std::string>& names, std::vector<size_t> widths);
// Removes the last path segment every name shares ("/BatchNormalization"),
// when there is one and no name becomes empty; returns it ("" otherwise), for
// the column's header: "BN (~/BatchNormalization)".
std::string strip_shared_suffix(std::vector<std::string>& names);

}  // namespace bnfold
