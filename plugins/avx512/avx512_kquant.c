/*
 * avx512_kquant.c - the Q4_K/Q6_K products for AVX-512 CPUs without AVX512_VNNI (vpmaddwd +
 * vpaddd); the kernels are in avx512_kquant_impl.h, shared with avx512_kquant_vnni.c.
 */
#define CALGAE_AVX512_VNNI 0
#include "avx512_kquant_impl.h"
