/*
 * avx512_q5_vnni.c - the Q5_0/Q5_1/IQ4_NL products for AVX-512 CPUs with AVX512_VNNI
 * (vpdpbusd), compiled with -mavx512vnni; the entry point serves them only where CPUID reports
 * VNNI. The kernels are in avx512_q5_impl.h, shared with avx512_q5.c.
 */
#define CALGAE_AVX512_VNNI 1
#include "avx512_q5_impl.h"
