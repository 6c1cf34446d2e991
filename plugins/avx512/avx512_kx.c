/*
 * avx512_kx.c - the Q4_K/Q6_K products on the kx layout for AVX-512 CPUs without AVX512_VNNI
 * (vpmaddubsw + vpmaddwd); the kernels are in avx512_kx_impl.h.
 */
#define CALGAE_AVX512_VNNI 0
#include "avx512_kx_impl.h"
