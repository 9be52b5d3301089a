// The memory limit: every tensor and every plan arena is allocated through
// allocate(), which refuses an allocation that would take the bytes in use
// past the limit, with an error that says so, before touching any memory.
// One limit per process (sessions share the machine's memory).
#pragma once

#include "bnfold/graph/export.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace bnfold BNFOLD_API {

// The default: 3/4 of the smallest of physical memory, RLIMIT_AS and the
// cgroup's memory.max.
size_t default_memory_limit();
size_t memory_limit();
// 0 restores the default.
void set_memory_limit(size_t bytes);
// Bytes of tensors and arenas alive now.
size_t memory_in_use();
// "512M", "4G", "1.5GiB", "1000000": bytes; throws naming `what` otherwise.
size_t parse_memory_size(const std::string& text, const char* what);

// `bytes` (rounded up to 64), 64-byte aligned, zero-filled when asked; freed
// when the last owner goes. what() names it in the error (called only then).
std::shared_ptr<void> allocate(size_t bytes, bool zero, const std::function<std::string()>& what);
// Memory allocated elsewhere (a parsed model's raw_data, taken over by a
// tensor) counted against the limit as long as the returned owner lives;
// throws, counting nothing, when it would go past the limit.
std::shared_ptr<void> account(std::shared_ptr<void> owner, size_t bytes, const std::function<std::string()>& what);

}  // namespace bnfold
