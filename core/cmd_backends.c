/* cmd_backends.c - `calgae backends`: the plugins found and which kernels each serves. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int calgae_cmd_backends(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return calgae_cmd_verify(argc - 1, argv + 1);
    calgae_error("backends: listing is not implemented yet");
    return 1;
}
