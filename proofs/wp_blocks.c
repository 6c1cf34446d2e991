/*
 * wp_blocks.c - what Frama-C/WP reads: the contracts, then the real quant/blocks.c (and through
 * it plugin-api/calgae_plugin.h's activation quantizer). Not part of the build.
 */
#include "blocks_contracts.h"
#include "blocks.c" /* quant/blocks.c, found through -I (proofs/run) */
