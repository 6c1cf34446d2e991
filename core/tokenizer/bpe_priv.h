/*
 * bpe_priv.h - what bpe.c (loading) and bpe_encode.c (encoding) share of a byte-level BPE
 * vocabulary: its tables and the two lookups encoding runs in its inner loop, inline so that
 * splitting the files costs no call. Internal to core/tokenizer/.
 */
#ifndef CALGAE_BPE_PRIV_H
#define CALGAE_BPE_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bpe.h"
#include "bpe_regex.h"

/* A merge: the id pair (left, right) gives id at rank; rank < 0 marks an empty slot. */
typedef struct merge_slot {
    int32_t left, right, rank, id;
} merge_slot;

struct calgae_bpe {
    calgae_regex *re;
    int ignore_merges;
    int32_t byte_tok[256]; /* the token of each byte's character */
    char *keys;            /* the bytes each token stands for, back to back */
    uint32_t *key_off;     /* [n_vocab + 1]; key_len ~0u: not written in the byte alphabet */
    uint32_t *key_len;
    int32_t *tok_slot; /* open addressing on the key bytes: id, or -1 */
    size_t tok_mask;
    merge_slot *merges;
    size_t merge_mask;
    /* the file's own words, for writing the vocabulary again (convert, quantize) */
    const char *pre;   /* tokenizer.ggml.pre */
    char *texts;       /* token texts as the file wrote them, NUL-terminated, back to back */
    uint32_t *text_off;
    int32_t (*listed)[2]; /* tokenizer.ggml.merges in order, as id pairs */
    size_t n_listed;
};

static inline uint64_t bpe_hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3u;
    return h ^ h >> 29;
}

static inline uint64_t bpe_hash_pair(int32_t a, int32_t b)
{
    uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    k *= 0x9E3779B97F4A7C15u;
    return k ^ k >> 31;
}

/* The token whose bytes are s[0..n), or -1. */
static inline int32_t bpe_lookup(const calgae_bpe *b, const char *s, size_t n)
{
    for (size_t i = bpe_hash_bytes(s, n) & b->tok_mask;; i = (i + 1) & b->tok_mask) {
        int32_t id = b->tok_slot[i];
        if (id < 0)
            return -1;
        if (b->key_len[id] == n && memcmp(b->keys + b->key_off[id], s, n) == 0)
            return id;
    }
}

static inline const merge_slot *bpe_find_merge(const calgae_bpe *b, int32_t left, int32_t right)
{
    for (size_t i = bpe_hash_pair(left, right) & b->merge_mask;; i = (i + 1) & b->merge_mask) {
        const merge_slot *m = &b->merges[i];
        if (m->rank < 0)
            return NULL;
        if (m->left == left && m->right == right)
            return m;
    }
}

#endif
