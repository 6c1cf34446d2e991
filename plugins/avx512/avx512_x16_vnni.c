/*
 * avx512_x16_vnni.c - products on the x16 layout for AVX-512 CPUs with AVX512_VNNI (vpdpbusd),
 * compiled with -mavx512vnni; the entry point serves them only where CPUID reports VNNI.
 * The kernels are in avx512_x16_impl.h, shared with avx512_x16.c.
 */
#define CALGAE_AVX512_VNNI 1
#include "avx512_x16_impl.h"
