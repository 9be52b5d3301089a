// The front ends' check of what a user passed: throws the library's public
// bnfold::Error, so a front end needs nothing of the library's internals
// (graph/check.hpp is the library's own, with the same shape).
#pragma once

#include <fmt/format.h>

#include "bnfold/graph/error.hpp"

#define BNFOLD_ARG_CHECK(cond, code, ...) \
  do {                                    \
    if (!(cond)) throw ::bnfold::Error((code), fmt::format(__VA_ARGS__)); \
  } while (0)
