/*
 * avx512_quant.c - the Q8_0/Q4_0 products for AVX-512 CPUs without VNNI (vpmaddubsw +
 * vpmaddwd). The kernels are in avx512_quant_impl.h, shared with avx512_quant_vnni.c.
 */
#define CALGAE_AVX512_VNNI 0
#include "avx512_quant_impl.h"
