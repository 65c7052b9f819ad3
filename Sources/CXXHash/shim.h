#ifndef RUNNER_CXXHASH_SHIM_H
#define RUNNER_CXXHASH_SHIM_H
// xxHash (libxxhash-dev): XXH3-128 for strong block sums and whole-file sums. The
// static-linking-only part has XXH3_generateSecret_fromSeed and _withSecretandSeed:
// a seeded hash without deriving the secret again for every block.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#endif
