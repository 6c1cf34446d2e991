/*
 * avx512_isa.h - where the AVX-512 kernels get their intrinsics from.
 *
 * The kernels are written once, with Intel's names (_mm512_*, __m512). The native plugin
 * compiles them against <immintrin.h> with -mavx512f -mavx512bw -mf16c (and -mavx512vnni for
 * the VNNI variant); the test-only emulated plugin (CALGAE_AVX512_SIMDE) compiles the very same
 * source against SIMDe's portable implementations, so the kernels can be tested on a machine
 * without AVX-512. SIMDe 0.7.4 (Debian 12) lacks or mis-declares a few of the intrinsics used
 * here; avx512_simde_shim.h fills those in, for the emulated build only.
 *
 * The scalar fp32 -> fp16 conversion of the quantizer's block scales differs too: F16C (one
 * instruction) natively, calgae_plugin.h's C conversion when emulated. Both round to nearest
 * even, so they agree bit for bit. (Scales going the other way are widened 16 at a time with
 * vcvtph2ps, see avx512_quant_impl.h.)
 */
#ifndef CALGAE_AVX512_ISA_H
#define CALGAE_AVX512_ISA_H

#include "calgae_plugin.h"

#ifdef CALGAE_AVX512_SIMDE
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include "avx512_simde_shim.h"

#define FP32_TO_FP16(f) calgae_fp32_to_fp16(f)
#define FP16_TO_FP32(h) calgae_fp16_to_fp32(h)
#else
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__F16C__)
#error "the native AVX-512 kernels need -mavx512f -mavx512bw -mf16c (plugins/avx512/CMakeLists.txt)"
#endif
#include <immintrin.h>

#define FP32_TO_FP16(f) ((calgae_fp16)_cvtss_sh((f), _MM_FROUND_TO_NEAREST_INT))
#define FP16_TO_FP32(h) _cvtsh_ss(h)
#endif

/* The hot helpers must be inlined into each kernel so that a constant token count unrolls. */
#define AVX512_INLINE static inline __attribute__((always_inline))

#endif /* CALGAE_AVX512_ISA_H */
