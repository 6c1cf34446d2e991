/*
 * avx512_x16.c - products on the x16 layout for AVX-512 CPUs without VNNI (vpmaddubsw +
 * vpmaddwd). The kernels are in avx512_x16_impl.h, shared with avx512_x16_vnni.c.
 */
#define CALGAE_AVX512_VNNI 0
#include "avx512_x16_impl.h"
