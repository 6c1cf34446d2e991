/*
 * avx512_quant_vnni.c - the Q8_0/Q4_0 products for AVX-512 CPUs with AVX512_VNNI (vpdpbusd),
 * compiled with -mavx512vnni; the entry point serves them only where CPUID reports VNNI.
 * The kernels are in avx512_quant_impl.h, shared with avx512_quant.c.
 */
#define CALGAE_AVX512_VNNI 1
#include "avx512_quant_impl.h"
