#ifndef RUNNER_CXXHASH_SHIM_H
#define RUNNER_CXXHASH_SHIM_H
// xxHash (libxxhash-dev): XXH3-128 for strong block sums and whole-file sums.
#include <xxhash.h>
#endif
