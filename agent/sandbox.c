/*
 * sandbox.c - the bubblewrap sandbox of sandbox.h.
 *
 * Why each part: --unshare-all gives the command no network (its own, empty, network
 * namespace: loopback down) and its own PID namespace (the host's processes, calgae included,
 * are invisible, so they can be neither signalled nor traced; when the command's bwrap init
 * dies the kernel kills everything left in the namespace, so nothing outlives the run).
 * --as-pid-1 makes the command itself that PID 1: its parent (bwrap, outside) is not in its
 * namespace, so the namespace holds nothing but the command and what it started; there is no
 * process of ours in it to kill or ptrace, and its exit ends every background process.
 * --cap-drop ALL and, when we are root, a switch to uid/gid 65534 before exec make the
 * sandbox unprivileged outside too: RLIMIT_NPROC is not enforced for uid 0, and root-owned
 * host files stay root's. Only /usr (with the merged /bin, /lib links), /etc and the work
 * folder are bound: the rest of the host's tree (homes, /work, /tmp) is absent.
 * --die-with-parent and --new-session: a dead calgae takes the sandbox with it, and the
 * command gets no controlling terminal to push input into (TIOCSTI).
 */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_err.h"

#define NOBODY 65534

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

calgae_sandbox_limits calgae_sandbox_default_limits(void)
{
    return (calgae_sandbox_limits){.timeout_s = 10, .cpu_s = 10, .mem_mb = 1024,
                                   .fsize_mb = 16, .nofile = 64, .nproc = 64,
                                   .out_cap = 64 * 1024};
}

static int find_bwrap(char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (access("/usr/bin/bwrap", X_OK) == 0)
        return snprintf(out, n, "/usr/bin/bwrap") < (int)n ? 0 : -1;
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && snprintf(out, n, "%.*s/bwrap", (int)len, path) < (int)n &&
            access(out, X_OK) == 0)
            return 0;
        path = end ? end + 1 : NULL;
    }
    return -1;
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p) == 0 ? 0 : 0; /* go on: remove what can be removed */
}

void calgae_sandbox_close(calgae_sandbox *sb)
{
    if (sb->workdir[0])
        nftw(sb->workdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    sb->workdir[0] = '\0';
}

int calgae_sandbox_write(const calgae_sandbox *sb, const char *name, const char *data,
                         size_t len, char *err, size_t err_len)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", sb->workdir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return calgae_agent_fail(err, err_len, "%s: cannot create: %s", path, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return calgae_agent_fail(err, err_len, "%s: cannot write: %s", path, strerror(errno));
        }
        done += (size_t)w;
    }
    if (sb->drop_uid && fchown(fd, NOBODY, NOBODY) != 0) {
        close(fd);
        return calgae_agent_fail(err, err_len, "%s: cannot hand to uid %d: %s", path, NOBODY,
                                 strerror(errno));
    }
    return close(fd) == 0 ? 0 : calgae_agent_fail(err, err_len, "%s: %s", path, strerror(errno));
}

int calgae_sandbox_open(calgae_sandbox *sb, const char *helper, char *err, size_t err_len)
{
    memset(sb, 0, sizeof *sb);
    if (find_bwrap(sb->bwrap, sizeof sb->bwrap) != 0)
        return calgae_agent_fail(err, err_len,
                                 "bwrap not found (install Debian's bubblewrap): the agent "
                                 "refuses to run code unconfined");
    if (helper && snprintf(sb->helper, sizeof sb->helper, "%s", helper) >= (int)sizeof sb->helper)
        return calgae_agent_fail(err, err_len, "%s: path too long", helper);
    sb->drop_uid = geteuid() == 0;
    const char *tmp = getenv("TMPDIR");
    snprintf(sb->workdir, sizeof sb->workdir, "%s/calgae-agent-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(sb->workdir)) {
        int e = errno;
        sb->workdir[0] = '\0';
        return calgae_agent_fail(err, err_len, "cannot make the sandbox's work folder in %s: %s",
                                 tmp && *tmp ? tmp : "/tmp", strerror(e));
    }
    if (sb->drop_uid && chown(sb->workdir, NOBODY, NOBODY) != 0) {
        int e = errno;
        calgae_sandbox_close(sb);
        return calgae_agent_fail(err, err_len, "%s: cannot hand to uid %d: %s", sb->workdir, NOBODY,
                                 strerror(e));
    }
    /* the probe: bwrap must build every namespace, else nothing of the model's runs */
    const char *const probe[] = {"/usr/bin/true", NULL};
    calgae_sandbox_limits lim = calgae_sandbox_default_limits();
    calgae_sandbox_result r;
    if (calgae_sandbox_run(sb, probe, &lim, &r, err, err_len) != 0) {
        calgae_sandbox_close(sb);
        return -1;
    }
    int ok = r.exit_code == 0;
    if (!ok)
        calgae_agent_fail(err, err_len,
                          "bwrap cannot build the sandbox (%.200s): the agent refuses to run "
                          "code unconfined",
                          r.err_len ? r.err : "no message");
    calgae_sandbox_result_free(&r);
    if (!ok)
        calgae_sandbox_close(sb);
    return ok ? 0 : -1;
}

void calgae_sandbox_result_free(calgae_sandbox_result *res)
{
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
}

/* The child: limits, stdin, pipes, the unprivileged uid, then bwrap. Only async-signal-safe
 * calls from here to exec (the parent may have threads). */
static void child(const calgae_sandbox *sb, char *const *args, const calgae_sandbox_limits *lim,
                  int out_fd, int err_fd)
{
    setpgid(0, 0);
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(125);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    if (sb->drop_uid && (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0))
        _exit(125);
    const struct { int res; rlim_t v; } rl[] = {
        {RLIMIT_CPU, (rlim_t)lim->cpu_s},
        {RLIMIT_AS, (rlim_t)lim->mem_mb << 20},
        {RLIMIT_FSIZE, (rlim_t)lim->fsize_mb << 20},
        {RLIMIT_NOFILE, (rlim_t)lim->nofile},
        {RLIMIT_NPROC, (rlim_t)lim->nproc},
        {RLIMIT_CORE, 0},
    };
    for (size_t i = 0; i < sizeof rl / sizeof rl[0]; i++) {
        struct rlimit r = {rl[i].v, rl[i].v};
        if (setrlimit(rl[i].res, &r) != 0)
            _exit(125);
    }
    execv(sb->bwrap, args);
    _exit(127);
}

/* Reads what is there from fd into buf (up to cap, the rest counted and dropped); 0 at EOF. */
static int drain(int fd, char *buf, size_t cap, size_t *len, int *truncated)
{
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    if (n == 0)
        return 0;
    size_t keep = (size_t)n;
    if (*len + keep > cap) {
        keep = cap - *len;
        *truncated = 1;
    }
    memcpy(buf + *len, chunk, keep);
    *len += keep;
    return 1;
}

#define MAX_ARGS 96

int calgae_sandbox_run(const calgae_sandbox *sb, const char *const *argv,
                       const calgae_sandbox_limits *lim, calgae_sandbox_result *res, char *err,
                       size_t err_len)
{
    memset(res, 0, sizeof *res);
    const char *a[MAX_ARGS];
    int n = 0;
    const char *fixed[] = {
        sb->bwrap, "--unshare-all", "--as-pid-1", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin",
        "/sbin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--ro-bind", "/etc", "/etc", "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
        "--bind", sb->workdir, "/work", "--chdir", "/work", "--clearenv",
        "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/work",
        "--setenv", "LANG", "C.UTF-8", "--setenv", "TMPDIR", "/tmp"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        a[n++] = fixed[i];
    if (sb->helper[0]) {
        a[n++] = "--ro-bind";
        a[n++] = sb->helper;
        a[n++] = "/opt/calgae/helper";
    }
    a[n++] = "--";
    for (int i = 0; argv[i]; i++) {
        if (n >= MAX_ARGS - 1)
            return calgae_agent_fail(err, err_len, "sandbox: too many arguments");
        a[n++] = argv[i];
    }
    a[n] = NULL;
    res->out = malloc(lim->out_cap + 1);
    res->err = malloc(lim->out_cap + 1);
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (!res->out || !res->err || pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        int e = errno;
        if (po[0] >= 0) { close(po[0]); close(po[1]); }
        calgae_sandbox_result_free(res);
        return calgae_agent_fail(err, err_len, "sandbox: cannot make pipes: %s", strerror(e));
    }
    const double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(po[0]); close(po[1]); close(pe[0]); close(pe[1]);
        calgae_sandbox_result_free(res);
        return calgae_agent_fail(err, err_len, "sandbox: cannot fork: %s", strerror(e));
    }
    if (pid == 0)
        child(sb, (char *const *)a, lim, po[1], pe[1]);
    setpgid(pid, pid); /* also here: no race with the kill below */
    close(po[1]);
    close(pe[1]);
    int open_o = 1, open_e = 1;
    const double deadline = t0 + lim->timeout_s * 1e3;
    while (open_o || open_e) {
        struct pollfd p[2] = {{open_o ? po[0] : -1, POLLIN, 0}, {open_e ? pe[0] : -1, POLLIN, 0}};
        double left = deadline - now_ms();
        if (left <= 0) {
            res->timed_out = 1;
            break;
        }
        int r = poll(p, 2, left > 1000 ? 1000 : (int)left + 1);
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if (open_o && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            open_o = drain(po[0], res->out, lim->out_cap, &res->out_len, &res->out_truncated);
        if (open_e && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
            open_e = drain(pe[0], res->err, lim->out_cap, &res->err_len, &res->err_truncated);
    }
    /* both pipes closed (or time is up): bwrap's own status, waited for until the deadline */
    int st = 0, reaped = 0;
    while (!res->timed_out && !reaped) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            reaped = 1;
        else if (now_ms() >= deadline)
            res->timed_out = 1;
        else
            nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    /* the whole group: bwrap, and through --die-with-parent and the PID namespace all below */
    kill(-pid, SIGKILL);
    while (!reaped && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    close(po[0]);
    close(pe[0]);
    res->out[res->out_len] = '\0';
    res->err[res->err_len] = '\0';
    res->wall_ms = now_ms() - t0;
    if (WIFSIGNALED(st)) {
        res->exit_code = -1;
        res->signal = WTERMSIG(st);
    } else {
        res->exit_code = WEXITSTATUS(st);
        /* bwrap reports a command killed by signal s as 128 + s */
        if (res->exit_code > 128 && res->exit_code < 128 + 65) {
            res->signal = res->exit_code - 128;
            res->exit_code = -1;
        }
    }
    if (res->timed_out) {
        res->signal = SIGKILL;
        res->exit_code = -1;
    }
    return 0;
}
