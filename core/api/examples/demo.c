/* demo.c - libcalgae in one page: load a model, generate greedily, print the text.
 * Build: cc demo.c $(pkg-config --cflags --libs calgae) -o demo
 * Run:   ./demo stories260K.gguf "Once upon a time" 200 */
#include <calgae.h>
#include <stdio.h>
#include <stdlib.h>

static int print_piece(void *user, calgae_token token, const char *text, size_t len)
{
    (void)user, (void)token;
    fwrite(text, 1, len, stdout);
    return 0; /* nonzero would stop here */
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [PROMPT] [TOKENS]\n", argv[0]);
        return 2;
    }
    calgae_error err;
    calgae_model *model = NULL;
    calgae_context *ctx = NULL;
    calgae_sampler *smp = NULL;
    calgae_sampler_params sp = calgae_sampler_default_params();
    sp.temperature = 0; /* greedy */
    calgae_generate_params gp = calgae_generate_default_params();
    gp.max_tokens = argc > 3 ? atoi(argv[3]) : 128;
    int rc = 1;
    if (calgae_model_load(argv[1], NULL, &model, &err) == CALGAE_OK &&
        calgae_context_create(model, NULL, &ctx, &err) == CALGAE_OK &&
        calgae_sampler_create(calgae_model_vocab(model), &sp, &smp, &err) == CALGAE_OK &&
        calgae_generate(ctx, smp, argc > 2 ? argv[2] : "", &gp, print_piece, NULL, NULL,
                        &err) == CALGAE_OK) {
        putchar('\n');
        rc = 0;
    } else {
        fprintf(stderr, "demo: %s\n", err.message);
    }
    calgae_sampler_free(smp);
    calgae_context_free(ctx);
    calgae_model_free(model);
    return rc;
}
