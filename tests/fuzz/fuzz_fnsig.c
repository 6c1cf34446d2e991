/*
 * fuzz_fnsig.c - libFuzzer target: function mode's signature and example parsers
 * (agent/fnsig.c), as `agent exec --function SIG --examples EX` calls them. The input's first
 * line is the signature, the rest the examples (each cut at a NUL, as argv would be). Checks:
 * a refusal has a message; an accepted signature has a name and at most 16 parameters, every
 * array followed by its integer length; each accepted example has one runner argument per
 * parameter, starting with that parameter's type code.
 */
#include <stdlib.h>
#include <string.h>

#include "fnsig.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    const char *examples = nl ? nl + 1 : "";
    if (nl)
        *nl = '\0';
    calgae_fn_sig sig;
    char err[512] = "";
    if (calgae_fn_sig_parse(text, &sig, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0], "refused signature without a message");
        free(text);
        return 0;
    }
    FUZZ_CHECK(sig.name[0] && sig.n_params <= CALGAE_FN_MAX_PARAMS && sig.n_args <= sig.n_params,
               "signature %s: %d params, %d args", sig.name, sig.n_params, sig.n_args);
    for (int i = 0; i < sig.n_params; i++)
        if (sig.params[i].kind == CALGAE_FN_ARRAY)
            FUZZ_CHECK(i + 1 < sig.n_params && (sig.params[i + 1].kind == CALGAE_FN_INT ||
                                                sig.params[i + 1].kind == CALGAE_FN_UINT),
                       "array %d without a length", i);
    calgae_fn_example *ex;
    int n;
    err[0] = '\0';
    if (calgae_fn_examples_parse(examples, &sig, &ex, &n, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0], "refused examples without a message");
    } else {
        FUZZ_CHECK(n >= 1 && n <= CALGAE_FN_MAX_EXAMPLES, "%d examples", n);
        for (int i = 0; i < n; i++) {
            FUZZ_CHECK(ex[i].expect && ex[i].text, "example %d incomplete", i);
            for (int j = 0; j < sig.n_params; j++) {
                char code[16];
                calgae_fn_type_code(&sig.params[j], code, sizeof code);
                FUZZ_CHECK(ex[i].args[j] && !strncmp(ex[i].args[j], code, strlen(code)) &&
                               ex[i].args[j][strlen(code)] == '=',
                           "example %d arg %d: %s", i, j, ex[i].args[j] ? ex[i].args[j] : "NULL");
            }
        }
        calgae_fn_examples_free(ex, n);
    }
    free(text);
    return 0;
}
