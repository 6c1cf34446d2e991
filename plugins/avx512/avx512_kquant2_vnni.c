/*
 * avx512_kquant2_vnni.c - the Q5_K/Q3_K/Q2_K/IQ4_XS products for AVX-512 CPUs with AVX512_VNNI
 * (vpdpwssd), compiled with -mavx512vnni; the kernels are in avx512_kquant2_impl.h.
 */
#define CALGAE_AVX512_VNNI 1
#include "avx512_kquant2_impl.h"
