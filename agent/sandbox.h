/*
 * sandbox.h - runs a command confined by bubblewrap (bwrap(1), Debian `bubblewrap`): own user,
 * PID, network, IPC, UTS and cgroup namespaces (--unshare-all), every capability dropped, a
 * read-only /usr and /etc, a fresh work folder as the only writable place (seen as /work), a
 * tmpfs /tmp, a minimal /proc and /dev; setrlimit limits set before exec; a wall-clock timeout
 * that kills the whole process group; stdin from /dev/null; stdout and stderr captured and
 * capped. When bwrap is missing or cannot build its namespaces, nothing runs: the open fails.
 */
#ifndef CALGAE_AGENT_SANDBOX_H
#define CALGAE_AGENT_SANDBOX_H

#include <stddef.h>

/* The limits of one run; calgae_sandbox_default_limits gives the documented defaults. */
typedef struct calgae_sandbox_limits {
    double timeout_s;   /* wall clock, then SIGKILL to the whole group (default 10) */
    long cpu_s;         /* RLIMIT_CPU seconds (default 10) */
    long mem_mb;        /* RLIMIT_AS in MiB (default 1024) */
    long fsize_mb;      /* RLIMIT_FSIZE in MiB: the largest file it may write (default 16) */
    long nofile;        /* RLIMIT_NOFILE (default 64) */
    long nproc;         /* RLIMIT_NPROC of the sandbox's uid (default 64) */
    size_t out_cap;     /* bytes kept of stdout and of stderr each (default 64 KiB) */
} calgae_sandbox_limits;

calgae_sandbox_limits calgae_sandbox_default_limits(void);

/* What one run gave. out and err are NUL-terminated, owned by the result. */
typedef struct calgae_sandbox_result {
    int exit_code;       /* the command's exit status, or -1 when it died of a signal */
    int signal;          /* the signal that ended it, 0 when it exited */
    int timed_out;       /* killed at the wall-clock timeout */
    char *out, *err;     /* captured stdout and stderr, at most out_cap bytes each */
    size_t out_len, err_len;
    int out_truncated, err_truncated; /* more was written than out_cap */
    double wall_ms;
} calgae_sandbox_result;

/* An open sandbox: a fresh work folder on the host (removed by close) and the bwrap found. */
typedef struct calgae_sandbox {
    char bwrap[4096];
    char workdir[4096];
    char helper[4096];   /* a host file bound read-only at /opt/calgae/helper, or "" */
    int drop_uid;        /* running as root: the sandbox runs as nobody (65534) outside too */
} calgae_sandbox;

/* Finds bwrap, makes the work folder and proves a trivial command runs confined; fails with a
 * message (and leaves nothing behind) otherwise. helper may be NULL. */
int calgae_sandbox_open(calgae_sandbox *sb, const char *helper, char *err, size_t err_len);
/* Removes the work folder and all in it. */
void calgae_sandbox_close(calgae_sandbox *sb);

/* Writes a file of the work folder (name without '/'). */
int calgae_sandbox_write(const calgae_sandbox *sb, const char *name, const char *data,
                         size_t len, char *err, size_t err_len);

/* Runs argv (argv[0] a path inside the sandbox, or a name looked up on its PATH) in /work.
 * Returns 0 when it ran (whatever its status), -1 when it could not be started. */
int calgae_sandbox_run(const calgae_sandbox *sb, const char *const *argv,
                       const calgae_sandbox_limits *lim, calgae_sandbox_result *res, char *err,
                       size_t err_len);
void calgae_sandbox_result_free(calgae_sandbox_result *res);

#endif
