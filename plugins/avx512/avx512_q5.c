/*
 * avx512_q5.c - the Q5_0/Q5_1/IQ4_NL products for AVX-512 CPUs without VNNI (vpmaddubsw +
 * vpmaddwd). The kernels are in avx512_q5_impl.h, shared with avx512_q5_vnni.c.
 */
#define CALGAE_AVX512_VNNI 0
#include "avx512_q5_impl.h"
