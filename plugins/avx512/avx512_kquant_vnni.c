/*
 * avx512_kquant_vnni.c - the Q4_K/Q6_K products for AVX-512 CPUs with AVX512_VNNI (vpdpwssd),
 * compiled with -mavx512vnni; the kernels are in avx512_kquant_impl.h.
 */
#define CALGAE_AVX512_VNNI 1
#include "avx512_kquant_impl.h"
