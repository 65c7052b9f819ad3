#ifndef RUNNER_CZSTD_SHIM_H
#define RUNNER_CZSTD_SHIM_H
// zstd (libzstd-dev): compression of literal data in deltas.
#include <zstd.h>
#endif
