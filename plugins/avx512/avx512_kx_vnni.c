/*
 * avx512_kx_vnni.c - the Q4_K/Q6_K products on the kx layout for AVX-512 CPUs with AVX512_VNNI
 * (vpdpbusd, vpdpwssd), compiled with -mavx512vnni; the kernels are in avx512_kx_impl.h.
 */
#define CALGAE_AVX512_VNNI 1
#include "avx512_kx_impl.h"
