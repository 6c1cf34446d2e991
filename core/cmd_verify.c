/* cmd_verify.c - `calgae backends verify FILE.so`: the conformance suite on one plugin. */
#include "cli.h"

int calgae_cmd_verify(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    calgae_error("backends verify: not implemented yet");
    return 1;
}
