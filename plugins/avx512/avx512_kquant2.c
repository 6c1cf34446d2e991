/*
 * avx512_kquant2.c - the Q5_K/Q3_K/Q2_K/IQ4_XS products for AVX-512 CPUs without AVX512_VNNI
 * (vpmaddwd + vpaddd); the kernels are in avx512_kquant2_impl.h, shared with
 * avx512_kquant2_vnni.c.
 */
#define CALGAE_AVX512_VNNI 0
#include "avx512_kquant2_impl.h"
