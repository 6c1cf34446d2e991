/*
 * wp_utf8.c - what Frama-C/WP reads for the UTF-8 proofs: the contracts, then the real
 * core/base/utf8.c (found through -I, proofs/run). Not part of the build.
 */
#include "utf8_contracts.h"
#include "utf8.c"
