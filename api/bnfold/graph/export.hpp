// Symbol visibility: the library is built with hidden symbols; the public
// headers open namespace bnfold with BNFOLD_API, so exactly what they declare
// is exported (internal code lives in headers that never do).
#pragma once

#if defined(__GNUC__) && !defined(BNFOLD_STATIC)
#define BNFOLD_API __attribute__((visibility("default")))
#else
#define BNFOLD_API
#endif
