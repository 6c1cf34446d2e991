/*
 * fnsig.h - function mode's inputs: a C function signature ("int add(int, int)") and examples
 * ("1,2->3; 5,-1->4"), parsed into what a libffi call needs. Accepted types: the integer types
 * of each width (char, short, int, long, long long, their unsigned forms, intN_t, uintN_t,
 * size_t), float, double, const char * (a string), and a pointer to numbers followed by an
 * integer parameter, which is the array's length (an example writes the array as [1, 2, 3]
 * and the length is filled in). The return type is a number or const char *. Anything else
 * (structs, pointers to pointers, void returns, variadic functions) is refused with a message.
 */
#ifndef CALGAE_AGENT_FNSIG_H
#define CALGAE_AGENT_FNSIG_H

#include <stddef.h>
#include <stdint.h>

#define CALGAE_FN_MAX_PARAMS 16
#define CALGAE_FN_MAX_EXAMPLES 64
#define CALGAE_FN_MAX_ARRAY 1024
#define CALGAE_FN_MAX_STRING 4096

typedef enum calgae_fn_kind {
    CALGAE_FN_INT,     /* signed integer of `size` bytes */
    CALGAE_FN_UINT,    /* unsigned integer of `size` bytes */
    CALGAE_FN_FLOAT,   /* float (size 4) or double (size 8) */
    CALGAE_FN_STRING,  /* const char * */
    CALGAE_FN_ARRAY,   /* pointer to elem numbers; the next parameter is its length */
} calgae_fn_kind;

typedef struct calgae_fn_type {
    calgae_fn_kind kind;
    int size;               /* bytes of the number (of an element, for arrays) */
    calgae_fn_kind elem;    /* arrays: INT, UINT or FLOAT */
} calgae_fn_type;

typedef struct calgae_fn_sig {
    char name[64];
    calgae_fn_type ret;
    calgae_fn_type params[CALGAE_FN_MAX_PARAMS];
    int n_params;           /* C parameters, lengths included */
    int n_args;             /* values an example gives (an array and its length count once) */
} calgae_fn_sig;

/* One value of an example, written as the runner's argument ("i4=-5", "a:f8=1,2", "s=6869"). */
typedef struct calgae_fn_example {
    char *args[CALGAE_FN_MAX_PARAMS]; /* n_params runner arguments */
    char *expect;                     /* the return value in the runner's output form */
    char *text;                       /* the example as written, trimmed */
} calgae_fn_example;

int calgae_fn_sig_parse(const char *text, calgae_fn_sig *sig, char *err, size_t err_len);

/* Parses examples for sig; *ex gets n entries (free with calgae_fn_examples_free). */
int calgae_fn_examples_parse(const char *text, const calgae_fn_sig *sig, calgae_fn_example **ex,
                             int *n, char *err, size_t err_len);
void calgae_fn_examples_free(calgae_fn_example *ex, int n);

/* The runner's code for a type ("i4", "u8", "f8", "s", "a:i4"). */
void calgae_fn_type_code(const calgae_fn_type *t, char *out, size_t cap);

/* Whether the runner's printed result got equals expect: integers and strings exactly,
 * floats within 1e-6 (float) or 1e-9 (double) relative. */
int calgae_fn_result_matches(const calgae_fn_type *ret, const char *got, const char *expect);

#endif
