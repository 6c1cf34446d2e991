/*
 * wp_scalar.c - what Frama-C/WP reads for the scalar plugin's block dot products: the
 * contracts, then the real plugins/scalar/scalar.c (found through -I, proofs/run). Only the
 * block_dot_* functions are proved (-wp-fct). Not part of the build.
 */
#include "scalar_contracts.h"
#include "scalar.c"
