/*
 * test_tokenizer.c - the tokenizer against llama.cpp's 47 Llama-vocabulary test vectors (from
 * the vocab-only GGUF and from llama2.c's tokenizer.bin), tok512 ids derived independently,
 * decoding, the UTF-8 stream, and hostile vocabulary files that must fail cleanly.
 *
 * Needs CALGAE_MODELS (the shared models folder) and CALGAE_TEST_TMP (a scratch folder).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gguf.h"
#include "tokenizer.h"

#define N_VECTORS 47

static const char *env_dir(const char *name)
{
    const char *d = getenv(name);
    if (!d)
        fail_msg("%s is not set", name);
    return d;
}

static void model_path(char *out, size_t n, const char *file)
{
    snprintf(out, n, "%s/%s", env_dir("CALGAE_MODELS"), file);
}

static void tmp_path(char *out, size_t n, const char *file)
{
    snprintf(out, n, "%s/%s", env_dir("CALGAE_TEST_TMP"), file);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* ---- the 47 vectors ---- */

typedef struct vectors {
    char *inp, *out;             /* file contents, cut up in place */
    const char *text[N_VECTORS]; /* inputs, separated in the file by "\n__ggml_vocab_test__\n" */
    size_t text_len[N_VECTORS];
    const char *ids[N_VECTORS]; /* lines of the .out file: space-separated ids */
} vectors;

/* The .inp file ends with a separator too, so splitting gives 47 pieces, the last one empty
 * (as is the last of the 47 .out lines): the 47th vector is the empty text. */
static void load_vectors(vectors *v)
{
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char path[1024];
    size_t len;
    model_path(path, sizeof path, "ggml-vocab-llama-spm.gguf.inp");
    v->inp = read_all(path, &len);
    model_path(path, sizeof path, "ggml-vocab-llama-spm.gguf.out");
    v->out = read_all(path, &len);

    char *p = v->inp;
    int n = 0;
    for (char *s; (s = strstr(p, sep)) != NULL && n < N_VECTORS; p = s + strlen(sep)) {
        *s = '\0';
        v->text[n] = p;
        v->text_len[n++] = (size_t)(s - p);
    }
    assert_true(n < N_VECTORS && *p == '\0');
    v->text[n] = p;
    v->text_len[n++] = 0;
    assert_int_equal(n, N_VECTORS);

    p = v->out;
    for (n = 0; n < N_VECTORS; n++) {
        char *nl = strchr(p, '\n');
        v->ids[n] = p;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    assert_int_equal(n, N_VECTORS - 1);
    assert_string_equal(v->ids[N_VECTORS - 1], "");
}

static void free_vectors(vectors *v)
{
    free(v->inp);
    free(v->out);
}

/* Returns 0 if text encodes to exactly the ids listed in want, else prints both. */
static int check_vector(const calgae_tokenizer *t, const vectors *v, int i, const char *label)
{
    char err[CALGAE_ERR_LEN];
    int32_t *ids;
    size_t n;
    assert_int_equal(calgae_tokenizer_encode(t, v->text[i], v->text_len[i], 0, &ids, &n, err,
                                             sizeof err),
                     0);
    int ok = 1;
    size_t k = 0;
    const char *p = v->ids[i];
    char *end;
    for (long id = strtol(p, &end, 10); end != p; id = strtol(p, &end, 10)) {
        ok &= k < n && ids[k] == id;
        k++;
        p = end;
    }
    ok &= k == n;
    if (!ok) {
        printf("%s: vector %d (\"%s\") mismatch\n  want:%s\n  got: ", label, i, v->text[i],
               v->ids[i]);
        for (size_t j = 0; j < n; j++)
            printf(" %d", ids[j]);
        printf("\n");
    }
    free(ids);
    return ok ? 0 : -1;
}

static void check_all_vectors(const calgae_tokenizer *t, const char *label)
{
    vectors v;
    load_vectors(&v);
    int failed = 0;
    for (int i = 0; i < N_VECTORS; i++)
        failed += check_vector(t, &v, i, label) != 0;
    free_vectors(&v);
    if (failed)
        fail_msg("%s: %d of %d vectors differ (listed above)", label, failed, N_VECTORS);
}

static void load_llama_bin(calgae_tokenizer *t, int32_t n_vocab)
{
    char path[1024], err[CALGAE_ERR_LEN];
    model_path(path, sizeof path, "tokenizer.bin");
    if (calgae_tokenizer_load_bin(t, path, n_vocab, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(t->n_vocab, 32000);
}

static void test_vectors_gguf(void **state)
{
    (void)state;
    char path[1024], err[CALGAE_ERR_LEN];
    model_path(path, sizeof path, "ggml-vocab-llama-spm.gguf");
    calgae_gguf g;
    if (calgae_gguf_open(&g, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    calgae_tokenizer t;
    if (calgae_tokenizer_load_gguf(&t, &g, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    calgae_gguf_close(&g); /* the tokenizer keeps copies, not pointers into the map */
    assert_int_equal(t.n_vocab, 32000);
    assert_int_equal(t.bos_id, 1);
    assert_int_equal(t.eos_id, 2);
    assert_int_equal(t.unk_id, 0);
    assert_int_equal(t.byte_ids[0x0A], 13);
    assert_string_equal(t.pieces[15043], " Hello");
    check_all_vectors(&t, "gguf");
    calgae_tokenizer_free(&t);
}

static void test_vectors_bin(void **state)
{
    (void)state;
    calgae_tokenizer t;
    load_llama_bin(&t, 32000);
    check_all_vectors(&t, "tokenizer.bin n_vocab=32000");
    calgae_tokenizer_free(&t);
    load_llama_bin(&t, 0);
    check_all_vectors(&t, "tokenizer.bin to EOF");
    calgae_tokenizer_free(&t);
}

/* Raw text that spells control or byte pieces must stay plain characters, and whatever the
 * text, the decoded tokens give back exactly the text with the dummy prefix. */
static void test_raw_text_round_trip(void **state)
{
    (void)state;
    static const char text[] = "<s></s><unk><0x41> \xE2\x96\x81x\xFF\xC0\xAF\xE2\x82 end";
    calgae_tokenizer t;
    load_llama_bin(&t, 32000);
    char err[CALGAE_ERR_LEN];
    int32_t *ids;
    size_t n;
    size_t len = 256 * 1024; /* also a long input, which must not take quadratic time */
    char *big = malloc(len + 2);
    assert_non_null(big);
    static const char filler[] = "Once upon a time, 3.14 \xF0\x9F\x98\x81\n\t  x";
    for (size_t i = 0; i < len; i++)
        big[i] = i < sizeof text - 1 ? text[i] : filler[i % (sizeof filler - 1)];
    for (int pass = 0; pass < 2; pass++) {
        size_t in_len = pass == 0 ? sizeof text - 1 : len;
        assert_int_equal(calgae_tokenizer_encode(&t, big, in_len, 0, &ids, &n, err, sizeof err),
                         0);
        char *back = malloc(in_len + 2);
        size_t o = 0;
        for (size_t k = 0; k < n; k++) {
            assert_true(ids[k] != 0 && ids[k] != 1 && ids[k] != 2);
            assert_true(ids[k] != t.byte_ids['A']);
            const char *piece;
            size_t pl = calgae_tokenizer_decode(&t, -1, ids[k], &piece);
            assert_true(o + pl <= in_len + 1);
            memcpy(back + o, piece, pl);
            o += pl;
        }
        assert_int_equal(o, in_len + 1);
        assert_int_equal(back[0], ' ');
        assert_memory_equal(back + 1, big, in_len);
        free(back);
        free(ids);
    }
    free(big);

    assert_int_equal(calgae_tokenizer_encode(&t, "", 0, 1, &ids, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    free(ids);
    calgae_tokenizer_free(&t);
}

static void test_tok512(void **state)
{
    (void)state;
    char path[1024], err[CALGAE_ERR_LEN];
    model_path(path, sizeof path, "tok512.bin");
    calgae_tokenizer t;
    if (calgae_tokenizer_load_bin(&t, path, 512, err, sizeof err) != 0)
        fail_msg("%s", err);
    /* Derived independently of this code: a Python re-implementation of llama2.c's encode()
     * (read tok512.bin, dummy-prefix " ", repeatedly merge the best-scoring adjacent pair,
     * leftmost on ties) gives [1, 403, 407, 261, 378] = BOS " Once" " upon" " a" " time". */
    static const int32_t want[] = {1, 403, 407, 261, 378};
    int32_t *ids;
    size_t n;
    const char *text = "Once upon a time";
    assert_int_equal(calgae_tokenizer_encode(&t, text, strlen(text), 1, &ids, &n, err,
                                             sizeof err),
                     0);
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    free(ids);
    calgae_tokenizer_free(&t);
}

static void test_decode(void **state)
{
    (void)state;
    calgae_tokenizer t;
    load_llama_bin(&t, 32000);
    const char *p;
    assert_int_equal(calgae_tokenizer_decode(&t, 1, 15043, &p), 5); /* " Hello" after BOS */
    assert_memory_equal(p, "Hello", 5);
    assert_int_equal(calgae_tokenizer_decode(&t, 15043, 15043, &p), 6);
    assert_memory_equal(p, " Hello", 6);
    assert_int_equal(calgae_tokenizer_decode(&t, 1, 13, &p), 1); /* <0x0A> */
    assert_int_equal(p[0], '\n');
    assert_int_equal(calgae_tokenizer_decode(&t, 1, t.byte_ids[' '], &p), 1); /* kept */
    assert_int_equal(p[0], ' ');
    assert_int_equal(calgae_tokenizer_decode(&t, 5, 3, &p), 1); /* <0x00> */
    assert_int_equal(p[0], '\0');
    assert_int_equal(calgae_tokenizer_decode(&t, 5, 0xF0 + 3, &p), 1);
    assert_int_equal((unsigned char)p[0], 0xF0);
    assert_int_equal(calgae_tokenizer_decode(&t, 1, -1, &p), 0);
    assert_int_equal(calgae_tokenizer_decode(&t, 1, 32000, &p), 0);
    calgae_tokenizer_free(&t);
}

static size_t push(calgae_utf8_stream *s, const char *bytes, size_t n, char *out)
{
    return calgae_utf8_stream_push(s, bytes, n, out);
}

static void test_utf8_stream(void **state)
{
    (void)state;
    calgae_utf8_stream s = {0};
    char out[64];
    /* U+1F601 split 1 + 2 + 1: nothing until the last byte. */
    assert_int_equal(push(&s, "\xF0", 1, out), 0);
    assert_int_equal(push(&s, "\x9F\x98", 2, out), 0);
    assert_int_equal(push(&s, "\x81!", 2, out), 5);
    assert_memory_equal(out, "\xF0\x9F\x98\x81!", 5);
    /* Stray continuation, bad leads, overlong, surrogate and a sequence cut by ASCII. */
    const char bad[] = "a\x80" "b\xFF" "c\xC0\xAF" "d\xED\xA0\x80" "e\xE2\x82" "f";
    size_t n = push(&s, bad, sizeof bad - 1, out);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "abcdef", 6);
    /* Controls go, whitespace stays; C1 controls (U+0085) go too. */
    const char ctl[] = "x\x01\x1B[0m\n\ty\x7F\r\xC2\x85z\xC3\xA9";
    n = push(&s, ctl, sizeof ctl - 1, out);
    assert_int_equal(n, 11);
    assert_memory_equal(out, "x[0m\n\ty\rz\xC3\xA9", 11);
    /* A pending sequence broken by the next push's first byte is dropped, the byte kept. */
    assert_int_equal(push(&s, "\xE2\x96", 2, out), 0);
    assert_int_equal(push(&s, "q", 1, out), 1);
    assert_int_equal(out[0], 'q');
    assert_int_equal(s.n_pending, 0);
}

/* ---- hostile tokenizer.bin files ---- */

typedef struct bin_writer {
    uint8_t buf[4096];
    size_t n;
} bin_writer;

static void put(bin_writer *w, const void *p, size_t n)
{
    assert_true(w->n + n <= sizeof w->buf);
    memcpy(w->buf + w->n, p, n);
    w->n += n;
}

static void put_i32(bin_writer *w, int32_t v)
{
    put(w, &v, 4); /* the test hosts are little-endian, like the format */
}

static void put_token(bin_writer *w, float score, const char *piece)
{
    put(w, &score, 4);
    put_i32(w, (int32_t)strlen(piece));
    put(w, piece, strlen(piece));
}

/* A good 4-token file: max_token_length 8, <unk>, <s>, </s>, " a". */
static void good_bin(bin_writer *w)
{
    w->n = 0;
    put_i32(w, 8);
    put_token(w, 0, "<unk>");
    put_token(w, 0, "\n<s>\n");
    put_token(w, 0, "\n</s>\n");
    put_token(w, -1.0f, " a");
}

/* Writes w (first n bytes) and expects loading with n_vocab to fail naming the file and
 * containing what. */
static void expect_bin_error(const bin_writer *w, size_t n, int32_t n_vocab, const char *what)
{
    char path[1024], err[CALGAE_ERR_LEN] = "";
    tmp_path(path, sizeof path, "hostile_tokenizer.bin");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(w->buf, 1, n, f), n);
    fclose(f);
    calgae_tokenizer t;
    memset(&t, 0xAB, sizeof t); /* whatever the caller had must not matter */
    int rc = calgae_tokenizer_load_bin(&t, path, n_vocab, err, sizeof err);
    if (rc != -1 || !strstr(err, path) || !strstr(err, what))
        fail_msg("want -1 and '%s' with the path, got %d '%s'", what, rc, err);
    assert_null(t.pieces);
    calgae_tokenizer_free(&t);
    calgae_tokenizer_free(&t);
}

static void test_hostile_bin(void **state)
{
    (void)state;
    bin_writer w;
    good_bin(&w);
    expect_bin_error(&w, 0, 0, "empty");
    expect_bin_error(&w, 2, 0, "truncated");
    expect_bin_error(&w, w.n - 1, 0, "runs past the end");   /* inside the last piece */
    expect_bin_error(&w, w.n - 2 - 6, 0, "truncated record"); /* inside the last score */
    expect_bin_error(&w, w.n, 5, "has only 4 tokens");
    expect_bin_error(&w, 4, 0, "no tokens");

    w.n = 0;
    put_i32(&w, 8);
    put_token(&w, 0, "<unk>");
    put_i32(&w, 0);
    put_i32(&w, -5);
    expect_bin_error(&w, w.n, 0, "negative length");

    w.n = 0;
    put_i32(&w, 4);
    put_token(&w, 0, "<unk>");
    expect_bin_error(&w, w.n, 0, "exceeds max_token_length");

    w.n = 0;
    put_i32(&w, 1 << 30);
    put_i32(&w, 0);
    put_i32(&w, 1 << 29);
    put(&w, "abc", 3);
    expect_bin_error(&w, w.n, 0, "runs past the end");

    w.n = 0;
    put_i32(&w, -1);
    put_token(&w, 0, "a");
    expect_bin_error(&w, w.n, 0, "max_token_length");

    good_bin(&w);
    put_token(&w, 0, "b\xC3(");
    expect_bin_error(&w, w.n, 0, "token 4: piece is not valid UTF-8");

    /* Trailing garbage past the n_vocab tokens asked for is not our business. */
    good_bin(&w);
    put(&w, "\x01\x02\x03", 3);
    char path[1024], err[CALGAE_ERR_LEN];
    tmp_path(path, sizeof path, "trailing_tokenizer.bin");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(w.buf, 1, w.n, f);
    fclose(f);
    calgae_tokenizer t;
    if (calgae_tokenizer_load_bin(&t, path, 4, err, sizeof err) != 0)
        fail_msg("%s", err);
    int32_t *ids;
    size_t n;
    /* " a" merges; "b" has no token and no byte tokens exist, so it is unk. */
    assert_int_equal(calgae_tokenizer_encode(&t, "ab", 2, 1, &ids, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 0);
    free(ids);
    calgae_tokenizer_free(&t);
    assert_int_equal(calgae_tokenizer_load_bin(&t, path, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
}

/* ---- hostile GGUF vocabularies ---- */

enum { BAD_NONE, BAD_BOS, BAD_SCORES, BAD_TOKENS, BAD_MODEL, BAD_UTF8, BAD_TYPE };

static void write_vocab_gguf(const char *path, int bad)
{
    const char *tokens[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b",
                            "\xE2\x96\x81" "a", "ab", "\xE2\x96\x81" "ab", "<0x63>", "cd"};
    const float scores[] = {0, 0, 0, -5, -6, -7, -1, -2, -3, 0, 0};
    const int32_t types[] = {2, 3, 3, 1, 1, 1, 1, 1, 1, bad == BAD_TYPE ? 9 : 6, 3};
    const uint64_t n = 11;
    if (bad == BAD_UTF8)
        tokens[5] = "b\xF8";
    calgae_gguf_writer *w = calgae_gguf_writer_new();
    assert_non_null(w);
    assert_int_equal(calgae_gguf_add_str(w, "general.architecture", "llama"), 0);
    assert_int_equal(calgae_gguf_add_str(w, "tokenizer.ggml.model",
                                         bad == BAD_MODEL ? "t5" : "llama"),
                     0);
    if (bad == BAD_TOKENS)
        assert_int_equal(calgae_gguf_add_arr_f32(w, "tokenizer.ggml.tokens", scores, n), 0);
    else
        assert_int_equal(calgae_gguf_add_arr_str(w, "tokenizer.ggml.tokens", tokens, n), 0);
    assert_int_equal(
        calgae_gguf_add_arr_f32(w, "tokenizer.ggml.scores", scores, bad == BAD_SCORES ? 7 : n),
        0);
    assert_int_equal(calgae_gguf_add_arr_i32(w, "tokenizer.ggml.token_type", types, n), 0);
    assert_int_equal(
        calgae_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", bad == BAD_BOS ? 11 : 1), 0);
    assert_int_equal(calgae_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", 2), 0);
    char err[CALGAE_ERR_LEN];
    if (calgae_gguf_write(w, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    calgae_gguf_writer_free(w);
}

/* Loads the vocabulary from a file written with defect bad; returns the load's result. */
static int load_vocab_gguf(int bad, calgae_tokenizer *t, char *path, size_t path_len, char *err)
{
    tmp_path(path, path_len, "vocab_test.gguf");
    write_vocab_gguf(path, bad);
    calgae_gguf g;
    if (calgae_gguf_open(&g, path, err, CALGAE_ERR_LEN) != 0)
        fail_msg("%s", err);
    int rc = calgae_tokenizer_load_gguf(t, &g, path, err, CALGAE_ERR_LEN);
    calgae_gguf_close(&g);
    return rc;
}

static void test_small_gguf(void **state)
{
    (void)state;
    char path[1024], err[CALGAE_ERR_LEN];
    calgae_tokenizer t;
    if (load_vocab_gguf(BAD_NONE, &t, path, sizeof path, err) != 0)
        fail_msg("%s", err);
    assert_string_equal(t.pieces[3], " ");
    assert_string_equal(t.pieces[8], " ab");
    assert_int_equal(t.byte_ids['c'], 9);
    assert_int_equal(t.byte_ids['d'], -1);
    int32_t *ids;
    size_t n;
    /* " a" (-1) beats "ab" (-2), then " ab"; "cd" is a control token, which text never
     * becomes, so "c" falls back to its byte token and "d", with neither a token nor a byte
     * token, is unk. */
    static const int32_t want[] = {1, 8, 9, 0};
    assert_int_equal(calgae_tokenizer_encode(&t, "abcd", 4, 1, &ids, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(ids, want, sizeof want);
    free(ids);
    calgae_tokenizer_free(&t);
}

static void expect_gguf_error(int bad, const char *what)
{
    char path[1024], err[CALGAE_ERR_LEN] = "";
    calgae_tokenizer t;
    int rc = load_vocab_gguf(bad, &t, path, sizeof path, err);
    if (rc != -1 || !strstr(err, path) || !strstr(err, what))
        fail_msg("want -1 and '%s' with the path, got %d '%s'", what, rc, err);
    assert_null(t.pieces);
    calgae_tokenizer_free(&t);
}

static void test_hostile_gguf(void **state)
{
    (void)state;
    expect_gguf_error(BAD_BOS, "tokenizer.ggml.bos_token_id = 11 is out of range (11 tokens)");
    expect_gguf_error(BAD_SCORES, "tokenizer.ggml.scores has 7 entries");
    expect_gguf_error(BAD_TOKENS, "tokenizer.ggml.tokens is not an array of strings");
    expect_gguf_error(BAD_MODEL, "unsupported tokenizer model t5");
    expect_gguf_error(BAD_UTF8, "token 5 is not valid UTF-8");
    expect_gguf_error(BAD_TYPE, "token 9 has unknown token_type 9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_gguf),
        cmocka_unit_test(test_vectors_bin),
        cmocka_unit_test(test_raw_text_round_trip),
        cmocka_unit_test(test_tok512),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_utf8_stream),
        cmocka_unit_test(test_hostile_bin),
        cmocka_unit_test(test_small_gguf),
        cmocka_unit_test(test_hostile_gguf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
