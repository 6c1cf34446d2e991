/*
 * test_bpe.c - byte-level BPE (core/tokenizer/bpe.c): llama.cpp's test vectors for the Llama 3,
 * Qwen2 and GPT-2 vocabularies (ggml-vocab-*.gguf with .inp/.out, from llama.cpp's
 * tests/test-tokenizer-0), decoding back to the input, special tokens in prompts with and
 * without parse_special (for SentencePiece too), add_bos/add_eos from the metadata, and hostile
 * byte-level vocabularies that must fail with one message naming the file.
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

#include "api_internal.h"
#include "bpe.h"
#include "convert.h"
#include "gguf.h"
#include "tokenizer.h"

static const char *env_dir(const char *name)
{
    const char *d = getenv(name);
    if (!d)
        fail_msg("%s is not set", name);
    return d;
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

static void load_vocab(calgae_tokenizer *t, const char *name)
{
    char path[1024], err[CALGAE_ERR_LEN];
    snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf", env_dir("CALGAE_MODELS"), name);
    if (calgae_tokenizer_load_file(t, path, 0, err, sizeof err) != 0)
        fail_msg("%s", err);
}

static int encode(const calgae_tokenizer *t, const char *text, int add_special,
                  int parse_special, int32_t **ids, size_t *n)
{
    char err[CALGAE_ERR_LEN];
    calgae_encode_opts o = {add_special, parse_special};
    int rc = calgae_tokenizer_encode_opts(t, text, strlen(text), &o, ids, n, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    return rc;
}

/* ---- llama.cpp's vectors ---- */

/* Inputs are separated by "\n__ggml_vocab_test__\n" (the file ends with one, so the last input
 * is the empty text); line i of .out lists input i's ids, without BOS. Each input must give
 * exactly those ids, with and without special parsing, and decode back to itself. */
static void run_vectors(const char *name, int want_count)
{
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf.inp", env_dir("CALGAE_MODELS"), name);
    char *inp = read_all(path, &len);
    snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf.out", env_dir("CALGAE_MODELS"), name);
    char *outf = read_all(path, &len);
    calgae_tokenizer t;
    load_vocab(&t, name);
    assert_int_equal(t.kind, CALGAE_TOK_BPE);

    int count = 0, failed = 0;
    char *p = inp, *line = outf;
    for (;;) {
        char *s = strstr(p, sep);
        if (s)
            *s = '\0';
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        for (int parse = 0; parse <= 1; parse++) {
            int32_t *ids;
            size_t n;
            encode(&t, p, 0, parse, &ids, &n);
            int ok = 1;
            size_t k = 0;
            const char *q = line;
            char *end;
            for (long id = strtol(q, &end, 10); end != q; q = end, id = strtol(q, &end, 10))
                ok &= k < n && ids[k++] == id;
            ok &= k == n;
            /* decoding gives the text back: byte-level BPE loses nothing */
            char *back = malloc(strlen(p) + 1);
            size_t bl = 0;
            for (size_t j = 0; j < n && ok; j++) {
                const char *piece;
                size_t pl = calgae_tokenizer_decode(&t, j ? ids[j - 1] : -1, ids[j], &piece);
                ok &= bl + pl <= strlen(p);
                if (ok)
                    memcpy(back + bl, piece, pl);
                bl += pl;
            }
            ok &= bl == strlen(p) && memcmp(back, p, bl) == 0;
            free(back);
            if (!ok && parse == 0) {
                printf("%s: vector %d (\"%s\") mismatch\n  want: %s\n  got: ", name, count, p,
                       line);
                for (size_t j = 0; j < n; j++)
                    printf(" %d", ids[j]);
                printf("\n");
            }
            failed += !ok;
            free(ids);
        }
        count++;
        if (!s || !nl)
            break;
        p = s + strlen(sep);
        line = nl + 1;
    }
    printf("%s: %d vectors, %d failed\n", name, count, failed);
    calgae_tokenizer_free(&t);
    free(inp);
    free(outf);
    assert_int_equal(count, want_count);
    if (failed)
        fail_msg("%s: %d encodings of %d vectors differ", name, failed, count);
}

static void test_vectors_llama_bpe(void **state)
{
    (void)state;
    run_vectors("llama-bpe", 47);
}

static void test_vectors_qwen2(void **state)
{
    (void)state;
    run_vectors("qwen2", 47);
}

static void test_vectors_gpt2(void **state)
{
    (void)state;
    run_vectors("gpt-2", 47);
}

/* ---- special tokens, BOS and EOS ---- */

static void expect_ids(const calgae_tokenizer *t, const char *text, int add_special,
                       int parse_special, const int32_t *want, size_t n_want)
{
    int32_t *ids;
    size_t n;
    encode(t, text, add_special, parse_special, &ids, &n);
    int ok = n == n_want && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    if (!ok) {
        printf("\"%s\" (add_special %d, parse_special %d):\n  got ", text, add_special,
               parse_special);
        for (size_t j = 0; j < n; j++)
            printf(" %d", ids[j]);
        printf("\n");
    }
    free(ids);
    assert_true(ok);
}

static void test_special_llama3(void **state)
{
    (void)state;
    calgae_tokenizer t;
    load_vocab(&t, "llama-bpe");
    assert_int_equal(t.bos_id, 128000);
    assert_int_equal(t.eos_id, 128001);
    assert_int_equal(t.add_bos, 1); /* llama-bpe's default: the file does not say */
    assert_int_equal(t.add_eos, 0);
    /* "<|eot_id|>" is control token 128009; "Hello" 9906, " world" 1917, "Hello" after a
     * special token has no space */
    static const int32_t parsed[] = {128000, 9906, 128009, 1917};
    expect_ids(&t, "Hello<|eot_id|> world", 1, 1, parsed, 4);
    /* without parse_special the text is text: "<|" ... as the regex splits it */
    int32_t *ids;
    size_t n;
    encode(&t, "<|eot_id|>", 0, 0, &ids, &n);
    assert_true(n > 1);
    for (size_t j = 0; j < n; j++)
        assert_true(ids[j] < 128000);
    free(ids);
    /* the longest special token wins where two start at the same place, and BOS typed twice
     * stays twice (llama.cpp only warns) */
    static const int32_t two_bos[] = {128000, 128000};
    expect_ids(&t, "<|begin_of_text|>", 1, 1, two_bos, 2);
    static const int32_t nothing[] = {128000};
    expect_ids(&t, "", 1, 1, nothing, 1);
    expect_ids(&t, "", 0, 1, NULL, 0);
    /* decoding: a control token decodes to its text, a normal one to its bytes */
    const char *piece;
    assert_int_equal(calgae_tokenizer_decode(&t, 128000, 1917, &piece), 6);
    assert_memory_equal(piece, " world", 6); /* no SentencePiece space dropping after BOS */
    assert_int_equal(calgae_tokenizer_decode(&t, -1, 128009, &piece), 10);
    assert_memory_equal(piece, "<|eot_id|>", 10);
    calgae_tokenizer_free(&t);
}

static void test_special_qwen2(void **state)
{
    (void)state;
    calgae_tokenizer t;
    load_vocab(&t, "qwen2");
    assert_int_equal(t.add_bos, 0); /* qwen2: no BOS */
    /* <|im_start|> 151644, "user" 872, "\n" 198; with add_special no BOS comes first */
    static const int32_t want[] = {151644, 872, 198};
    expect_ids(&t, "<|im_start|>user\n", 1, 1, want, 3);
    /* user-defined tokens ([PAD151933] and kin) are cut out even without parse_special */
    static const int32_t pad[] = {151933};
    expect_ids(&t, "[PAD151933]", 0, 0, pad, 1);
    calgae_tokenizer_free(&t);
}

static void test_special_spm(void **state)
{
    (void)state;
    calgae_tokenizer t;
    load_vocab(&t, "llama-spm");
    assert_int_equal(t.kind, CALGAE_TOK_SPM);
    assert_int_equal(t.add_bos, 1);
    /* parse_special: "</s>" is EOS, and the text after it gets its own leading space, as
     * llama.cpp's SentencePiece path gives it ("Hi" = 15043 after <s>: " Hello"... ) */
    int32_t *a, *b;
    size_t na, nb;
    encode(&t, "Hello</s>Hello", 1, 1, &a, &na);
    encode(&t, "Hello", 1, 0, &b, &nb);
    assert_int_equal(na, 2 * nb);
    assert_int_equal(a[0], 1);
    assert_memory_equal(a + 1, b + 1, (nb - 1) * sizeof *a);
    assert_int_equal(a[nb], 2);
    assert_memory_equal(a + nb + 1, b + 1, (nb - 1) * sizeof *a);
    free(a);
    free(b);
    /* without it, unchanged: "</s>" is plain characters */
    encode(&t, "Hello</s>", 0, 0, &a, &na);
    for (size_t j = 0; j < na; j++)
        assert_true(a[j] != 2);
    free(a);
    calgae_tokenizer_free(&t);
}

/* The library's streamed decoder (calgae_decoder_push, what `calgae run` prints with) on
 * GPT-2's vocabulary, where an emoji or a CJK character is split over tokens that are not
 * whole UTF-8 characters: the pieces come out whole, in order, the text exactly. */
static void test_streamed_decoder(void **state)
{
    (void)state;
    calgae_tokenizer t;
    load_vocab(&t, "gpt-2");
    static const char text[] = "Hi \xF0\x9F\x9A\x80 and \xE6\x97\xA5\xE6\x9C\xAC, caf\xC3\xA9!";
    int32_t *ids;
    size_t n;
    encode(&t, text, 0, 1, &ids, &n);
    calgae_vocab v = {&t};
    calgae_decoder *d;
    assert_int_equal(calgae_decoder_create(&v, &d, NULL), CALGAE_OK);
    char out[256] = "", piece[CALGAE_DECODE_MAX];
    int split = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = calgae_decoder_push(d, ids[i], piece, sizeof piece);
        split += k == 0; /* a token holding part of a character prints nothing yet */
        assert_true(strlen(out) + k < sizeof out);
        strcat(out, piece);
    }
    assert_string_equal(out, text);
    assert_true(split > 0);
    calgae_decoder_free(d);
    free(ids);
    calgae_tokenizer_free(&t);
}

/* calgae convert and quantize write a model's vocabulary into the new file: a byte-level one
 * must come back the same (texts as written, types, merges, pre-tokenizer, ids, flags), and
 * encode the same. */
static void test_write_round_trip(void **state)
{
    (void)state;
    static const char *const names[] = {"llama-bpe", "qwen2"};
    static const char text[] = "Hello world! 3333 caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC<|im_end|> 've";
    for (int k = 0; k < 2; k++) {
        calgae_tokenizer a, b;
        load_vocab(&a, names[k]);
        char path[1024], err[CALGAE_ERR_LEN];
        snprintf(path, sizeof path, "%s/bpe_written.gguf", env_dir("CALGAE_TEST_TMP"));
        calgae_gguf_writer *w = calgae_gguf_writer_new();
        assert_non_null(w);
        assert_int_equal(calgae_convert_add_vocab(w, &a), 0);
        if (calgae_gguf_write(w, path, err, sizeof err) != 0)
            fail_msg("%s", err);
        calgae_gguf_writer_free(w);
        if (calgae_tokenizer_load_file(&b, path, 0, err, sizeof err) != 0)
            fail_msg("%s", err);
        assert_int_equal(b.kind, CALGAE_TOK_BPE);
        assert_int_equal(a.n_vocab, b.n_vocab);
        assert_int_equal(a.bos_id, b.bos_id);
        assert_int_equal(a.eos_id, b.eos_id);
        assert_int_equal(a.add_bos, b.add_bos);
        assert_string_equal(calgae_bpe_pre(a.bpe), calgae_bpe_pre(b.bpe));
        assert_int_equal(calgae_bpe_n_merges(a.bpe), calgae_bpe_n_merges(b.bpe));
        for (int32_t i = 0; i < a.n_vocab; i++) {
            assert_int_equal(a.types[i], b.types[i]);
            assert_string_equal(calgae_bpe_token_text(a.bpe, i), calgae_bpe_token_text(b.bpe, i));
        }
        for (int parse = 0; parse <= 1; parse++) {
            int32_t *ia, *ib;
            size_t na, nb;
            encode(&a, text, 1, parse, &ia, &na);
            encode(&b, text, 1, parse, &ib, &nb);
            assert_int_equal(na, nb);
            assert_memory_equal(ia, ib, na * sizeof *ia);
            free(ia);
            free(ib);
        }
        calgae_tokenizer_free(&a);
        calgae_tokenizer_free(&b);
    }
}

/* ---- small and hostile byte-level vocabularies ---- */

/* GPT-2's byte-to-unicode table, written out independently of bpe.c: the printable Latin-1
 * bytes stand for themselves, the others for U+0100 on, in byte order. */
static void byte_char(int b, char out[3])
{
    int cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
        cp = 256;
        for (int c = 0; c < b; c++)
            cp += !((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255));
    }
    if (cp < 128) {
        out[0] = (char)cp;
        out[1] = '\0';
    } else {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = '\0';
    }
}

enum {
    BAD_NONE, BAD_MERGE_UNKNOWN, BAD_MERGE_RESULT, BAD_MERGE_NOSPACE, BAD_PRE, BAD_NO_PRE,
    BAD_EMPTY, BAD_LONG, BAD_DUP, BAD_NO_BYTE, BAD_NO_MERGES, BAD_ADD_BOS, BAD_UTF8
};

/* 256 byte tokens, then "ab" (256), "Ġa" (257: " a"), "<|end|>" (258, control). */
static void write_bpe_gguf(const char *path, int bad)
{
    enum { N = 259 };
    char chars[256][3], longtok[1100];
    const char *tokens[N];
    int32_t types[N];
    for (int b = 0; b < 256; b++) {
        byte_char(b, chars[b]);
        tokens[b] = chars[b];
        types[b] = 1;
    }
    tokens[256] = "ab";
    tokens[257] = "\xC4\xA0" "a";
    tokens[258] = "<|end|>";
    types[256] = types[257] = 1;
    types[258] = 3;
    const char *merges[] = {"a b", "\xC4\xA0 a"};
    if (bad == BAD_MERGE_UNKNOWN)
        merges[0] = "a \xC4\xA0\xC4\xA0";
    if (bad == BAD_MERGE_RESULT)
        merges[0] = "b a";
    if (bad == BAD_MERGE_NOSPACE)
        merges[0] = "ab";
    if (bad == BAD_EMPTY)
        tokens[256] = "";
    if (bad == BAD_LONG) {
        memset(longtok, 'x', 1030);
        longtok[1030] = '\0';
        tokens[256] = longtok;
    }
    if (bad == BAD_DUP)
        tokens[258] = "ab";
    if (bad == BAD_NO_BYTE)
        tokens['z'] = "zz";
    if (bad == BAD_UTF8)
        tokens[258] = "<|\xFF|>";
    calgae_gguf_writer *w = calgae_gguf_writer_new();
    assert_non_null(w);
    assert_int_equal(calgae_gguf_add_str(w, "tokenizer.ggml.model", "gpt2"), 0);
    if (bad != BAD_NO_PRE)
        assert_int_equal(calgae_gguf_add_str(w, "tokenizer.ggml.pre",
                                             bad == BAD_PRE ? "smaug-9000" : "gpt-2"),
                         0);
    assert_int_equal(calgae_gguf_add_arr_str(w, "tokenizer.ggml.tokens", tokens, N), 0);
    assert_int_equal(calgae_gguf_add_arr_i32(w, "tokenizer.ggml.token_type", types, N), 0);
    if (bad != BAD_NO_MERGES)
        assert_int_equal(calgae_gguf_add_arr_str(w, "tokenizer.ggml.merges", merges, 2), 0);
    assert_int_equal(calgae_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", 258), 0);
    assert_int_equal(calgae_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", 258), 0);
    if (bad == BAD_ADD_BOS)
        assert_int_equal(calgae_gguf_add_u32(w, "tokenizer.ggml.add_bos_token", 1), 0);
    else
        assert_int_equal(calgae_gguf_add_bool(w, "tokenizer.ggml.add_eos_token", 1), 0);
    char err[CALGAE_ERR_LEN];
    if (calgae_gguf_write(w, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    calgae_gguf_writer_free(w);
}

static int load_bpe_gguf(int bad, calgae_tokenizer *t, char *path, size_t path_len, char *err)
{
    snprintf(path, path_len, "%s/bpe_test_%d.gguf", env_dir("CALGAE_TEST_TMP"), bad);
    write_bpe_gguf(path, bad);
    calgae_gguf g;
    if (calgae_gguf_open(&g, path, err, CALGAE_ERR_LEN) != 0)
        fail_msg("%s", err);
    int rc = calgae_tokenizer_load_gguf(t, &g, path, err, CALGAE_ERR_LEN);
    calgae_gguf_close(&g);
    return rc;
}

static void test_small_bpe(void **state)
{
    (void)state;
    char path[1024], err[CALGAE_ERR_LEN];
    calgae_tokenizer t;
    if (load_bpe_gguf(BAD_NONE, &t, path, sizeof path, err) != 0)
        fail_msg("%s", err);
    assert_int_equal(t.add_bos, 0);
    assert_int_equal(t.add_eos, 1);
    assert_string_equal(t.pieces[257], " a"); /* decoded: Ġ is the space byte */
    assert_string_equal(t.pieces[258], "<|end|>");
    /* "ab ab": words "ab", " ab"; in " ab", "a b" (rank 0) takes the a before "Ġ a" (rank 1)
     * can: "Ġ" (the space byte's token, 32) + "ab". EOS last (add_eos), no BOS. */
    static const int32_t want[] = {256, ' ', 256, 258, 258};
    expect_ids(&t, "ab ab<|end|>", 1, 1, want, 5);
    int32_t *ids;
    size_t n;
    /* any bytes, invalid UTF-8 included, come back from decoding */
    static const char raw[] = "\xFF\xC3 a\x80\xE6\x97";
    encode(&t, raw, 0, 0, &ids, &n);
    size_t bl = 0;
    char back[64];
    for (size_t j = 0; j < n; j++) {
        const char *piece;
        size_t pl = calgae_tokenizer_decode(&t, -1, ids[j], &piece);
        memcpy(back + bl, piece, pl);
        bl += pl;
    }
    assert_int_equal(bl, sizeof raw - 1);
    assert_memory_equal(back, raw, bl);
    free(ids);
    calgae_tokenizer_free(&t);
}

static void expect_bpe_error(int bad, const char *what)
{
    char path[1024], err[CALGAE_ERR_LEN] = "";
    calgae_tokenizer t;
    int rc = load_bpe_gguf(bad, &t, path, sizeof path, err);
    if (rc != -1 || !strstr(err, path) || !strstr(err, what))
        fail_msg("want -1 and '%s' with the path, got %d '%s'", what, rc, err);
    assert_null(t.pieces);
    assert_null(t.bpe);
    calgae_tokenizer_free(&t);
}

static void test_hostile_bpe(void **state)
{
    (void)state;
    expect_bpe_error(BAD_MERGE_UNKNOWN, "merge 0 'a \xC4\xA0\xC4\xA0' names a token not in the vocabulary");
    expect_bpe_error(BAD_MERGE_RESULT, "merge 0 'b a' names a result not in the vocabulary");
    expect_bpe_error(BAD_MERGE_NOSPACE, "merge 0 'ab' is not two tokens and a space");
    expect_bpe_error(BAD_PRE, "unknown pre-tokenizer tokenizer.ggml.pre = 'smaug-9000'");
    expect_bpe_error(BAD_NO_PRE, "without tokenizer.ggml.pre");
    expect_bpe_error(BAD_EMPTY, "token 256 is empty");
    expect_bpe_error(BAD_LONG, "token 256 is 1030 bytes long");
    expect_bpe_error(BAD_DUP, "tokens 256 and 258 are the same text 'ab'");
    expect_bpe_error(BAD_NO_BYTE, "no token for byte 0x7A");
    expect_bpe_error(BAD_NO_MERGES, "without tokenizer.ggml.merges");
    expect_bpe_error(BAD_ADD_BOS, "tokenizer.ggml.add_bos_token is not a bool");
    expect_bpe_error(BAD_UTF8, "token 258 is not valid UTF-8");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_llama_bpe),
        cmocka_unit_test(test_vectors_qwen2),
        cmocka_unit_test(test_vectors_gpt2),
        cmocka_unit_test(test_special_llama3),
        cmocka_unit_test(test_special_qwen2),
        cmocka_unit_test(test_special_spm),
        cmocka_unit_test(test_streamed_decoder),
        cmocka_unit_test(test_write_round_trip),
        cmocka_unit_test(test_small_bpe),
        cmocka_unit_test(test_hostile_bpe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
