/*
 * bench_tokenize.c - tokenizer throughput: MB/s of text turned into token ids by
 * calgae_tokenizer_encode_opts (special tokens parsed, as `calgae run` does), median of several
 * runs, with any vocabulary Calgae reads (byte-level BPE or SentencePiece).
 *
 *   bench_tokenize VOCAB.gguf [--file TEXT] [--mb N] [--runs N]
 *
 * Without --file the text is a long mixed-script one made here: paragraphs of English, German,
 * Russian, Greek, Arabic, Hindi, Chinese, Japanese, Korean, emoji, numbers, code and runs of
 * whitespace, in a varying order until N MB (default 4). Prints one line per run and the median.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf.h"
#include "tokenizer.h"

static const char *const k_paragraphs[] = {
    "Once upon a time, in a quiet village by the sea, there lived a girl who loved to read. "
    "She'd spend hours at the library, and we've all been told she's never late. ",
    "Die Straßenbahn fährt über die Brücke, während die Kinder im Park Fußball spielen. ",
    "Съешь же ещё этих мягких французских булок, да выпей чаю. Москва — столица России. ",
    "Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο. ",
    "مرحبا بالعالم، هذه جملة باللغة العربية لاختبار المقسم. ",
    "यह हिंदी में लिखा गया एक वाक्य है, जो परीक्षण के लिए है। ",
    "我想在苹果公司工作，今天天气很好，我们一起去公园散步吧。机器学习模型需要大量数据。",
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。カタカナもテスト。",
    "다람쥐 헌 쳇바퀴에 타고파. 한국어 문장도 시험합니다. ",
    "🚀 launch ✅ done 😶‍🌫️ 🦙🦙 llamas! ",
    "In 2024, 3.14159 and 1,234,567 units cost $89.99 (up 12%) on 2024-05-01 at 10:30. ",
    "int main(void) {\n    for (int i = 0; i < 10; i++)\n        printf(\"%d\\n\", i);\n    "
    "return 0;\n}\n",
    "\n\n    \t  indented\tlines\n   ------======= ''''''```````\"\"\"\"......!!!!!!??????\n",
};
#define N_PARA (sizeof k_paragraphs / sizeof k_paragraphs[0])

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Paragraphs in an order from a fixed xorshift, so runs and machines see the same text. */
static char *make_text(size_t want, size_t *len)
{
    char *t = malloc(want + 1024);
    if (!t)
        return NULL;
    size_t n = 0;
    uint32_t x = 2463534242u;
    while (n < want) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const char *p = k_paragraphs[x % N_PARA];
        size_t l = strlen(p);
        if (n + l > want + 1000)
            break;
        memcpy(t + n, p, l);
        n += l;
    }
    *len = n;
    return t;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

int main(int argc, char **argv)
{
    const char *vocab = NULL, *file = NULL;
    double mb = 4;
    int runs = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--file") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--mb") && i + 1 < argc)
            mb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !vocab)
            vocab = argv[i];
        else {
            fprintf(stderr, "usage: bench_tokenize VOCAB.gguf [--file TEXT] [--mb N] [--runs N]\n");
            return 2;
        }
    }
    if (!vocab || runs < 1 || runs > 1000 || mb <= 0 || mb > 1024) {
        fprintf(stderr, "usage: bench_tokenize VOCAB.gguf [--file TEXT] [--mb N] [--runs N]\n");
        return 2;
    }
    char err[CALGAE_ERR_LEN];
    calgae_tokenizer t;
    double t0 = now_s();
    if (calgae_tokenizer_load_file(&t, vocab, 0, err, sizeof err) != 0) {
        fprintf(stderr, "bench_tokenize: %s\n", err);
        return 1;
    }
    printf("vocabulary %s: %d tokens, %s, loaded in %.0f ms\n", vocab, t.n_vocab,
           t.kind == CALGAE_TOK_BPE ? "byte-level BPE" : "SentencePiece", (now_s() - t0) * 1e3);
    size_t len = 0;
    char *text = file ? read_file(file, &len) : make_text((size_t)(mb * 1e6), &len);
    if (!text) {
        fprintf(stderr, "bench_tokenize: cannot %s\n", file ? "read the text file" : "allocate");
        calgae_tokenizer_free(&t);
        return 1;
    }
    double *mbs = malloc((size_t)runs * sizeof *mbs);
    const calgae_encode_opts o = {.add_special = 1, .parse_special = 1};
    int rc = 0;
    for (int r = 0; r < runs && mbs; r++) {
        int32_t *ids;
        size_t n;
        double s = now_s();
        if (calgae_tokenizer_encode_opts(&t, text, len, &o, &ids, &n, err, sizeof err) != 0) {
            fprintf(stderr, "bench_tokenize: %s\n", err);
            rc = 1;
            break;
        }
        double dt = now_s() - s;
        mbs[r] = (double)len / 1e6 / dt;
        printf("run %d: %zu bytes -> %zu tokens in %.1f ms: %.1f MB/s\n", r + 1, len, n,
               dt * 1e3, mbs[r]);
        free(ids);
    }
    if (rc == 0 && mbs) {
        qsort(mbs, (size_t)runs, sizeof *mbs, cmp_double);
        printf("median %.1f MB/s over %d runs (%s text, %.1f MB)\n", mbs[runs / 2], runs,
               file ? "file" : "mixed-script", (double)len / 1e6);
    }
    free(mbs);
    free(text);
    calgae_tokenizer_free(&t);
    return rc;
}
