/*
 * chat_line.c - the input side of `calgae chat` (chat_line.h): lines read through libedit
 * (BSD editline, Debian's libedit-dev; its native histedit.h interface) with emacs-style
 * editing and a history file, or plainly when stdin is not a terminal; and the SIGINT flag.
 *
 * Ctrl-C: the handler only sets a flag (installed without SA_RESTART, so a read in progress
 * returns EINTR). libedit's own signal handling is left off (EL_SIGNAL 0): it would re-raise
 * the signal to the whole process group. At the prompt Ctrl-C just clears the line: libedit's
 * raw mode usually reads it as a key, bound here to end the line as cancelled, and where the
 * terminal still makes it a signal, our read function (waiting in pselect with SIGINT unblocked
 * only there, so no signal is missed between reads) does the same. During an
 * answer the token callback sees the flag and stops the answer.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, getline, strdup */
#include "chat_line.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#ifdef CALGAE_NO_LIBEDIT /* the minimal cross build: plain lines, no history */
typedef struct editline EditLine;
typedef struct history History;
#else
#include <histedit.h>
#endif

static volatile sig_atomic_t sigint_seen;

static void on_sigint(int sig)
{
    (void)sig;
    sigint_seen = 1;
}

void chat_line_catch_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read must return */
    sigaction(SIGINT, &sa, NULL);
}

int chat_line_interrupted(void)
{
    return sigint_seen != 0;
}

void chat_line_clear_interrupt(void)
{
    sigint_seen = 0;
}

struct chat_line {
    EditLine *el;
    History *hist;
    char *history_path; /* NULL: no history file */
    char *plain;        /* getline's buffer when stdin is not a terminal */
    size_t plain_cap;
    int key_fd;         /* the terminal opened again, non-blocking; -1: read stdin itself */
};

#ifndef CALGAE_NO_LIBEDIT
static int line_cancelled; /* set by read_wchar, read by read_editline: one thread */

/* Ctrl-C at the prompt as a signal (the terminal's ISIG, which libedit's raw mode keeps) has
 * two races with a plain blocking read: the signal can land between two reads (while libedit
 * echoes a key), leaving the next read blocked with the flag already set; and it flushes the
 * terminal's input queue, so a read that select said would not block can block after all.
 * So SIGINT stays blocked while a key is read and is let in only inside pselect, which checks
 * the flag atomically; and the byte is read from a non-blocking descriptor of our own for the
 * terminal (its O_NONBLOCK leaves the shell's stdin alone), where a flushed queue is EAGAIN
 * and we wait again. Returns 1 with a byte, 0 at Ctrl-C, -1 at end of input or error. */
static int read_key_byte(int fd, char *c)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    if (sigprocmask(SIG_BLOCK, &block, &old) != 0)
        return -1;
    int result = -1;
    for (;;) {
        if (sigint_seen) {
            result = 0;
            break;
        }
        fd_set in;
        FD_ZERO(&in);
        FD_SET(fd, &in);
        int r = pselect(fd + 1, &in, NULL, NULL, NULL, &old);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        ssize_t n = read(fd, c, 1);
        if (n == 1) {
            result = 1;
            break;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            break;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return result;
}

/* One character for libedit, from UTF-8 (or the locale's) bytes; at Ctrl-C, a newline that
 * ends the line as cancelled. */
static int read_wchar(EditLine *el, wchar_t *wc)
{
    chat_line *l = NULL;
    el_get(el, EL_CLIENTDATA, &l);
    int fd = l && l->key_fd >= 0 ? l->key_fd : STDIN_FILENO;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    char first = 0;
    for (int n = 0;;) {
        char c;
        int r = read_key_byte(fd, &c);
        if (r < 0)
            return 0; /* end of input: libedit returns NULL, the chat ends */
        if (r == 0) {
            sigint_seen = 0;
            line_cancelled = 1;
            *wc = L'\n';
            return 1;
        }
        if (n++ == 0)
            first = c;
        size_t k = mbrtowc(wc, &c, 1, &st);
        if (k == (size_t)-2 && n < MB_LEN_MAX)
            continue;
        if (k == (size_t)-1 || k == (size_t)-2) /* not a character here: take the byte */
            *wc = (wchar_t)(unsigned char)first;
        return 1;
    }
}

/* Ctrl-C typed while libedit has the terminal in raw mode (no signal then): the same as the
 * signal at the prompt, the line ends as cancelled. */
static unsigned char cancel_line(EditLine *el, int ch)
{
    (void)el;
    (void)ch;
    line_cancelled = 1;
    return CC_NEWLINE;
}

static char *prompt_text(EditLine *el)
{
    (void)el;
    static char p[] = "> ";
    return p;
}

/* $XDG_STATE_HOME/calgae/history, else ~/.local/state/calgae/history; the folders are made
 * as needed. NULL when there is no home to put it in. */
static char *history_file(void)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX];
    int n;
    if (xdg && *xdg)
        n = snprintf(dir, sizeof dir, "%s/calgae", xdg);
    else if (home && *home)
        n = snprintf(dir, sizeof dir, "%s/.local/state/calgae", home);
    else
        return NULL;
    if (n < 0 || (size_t)n + sizeof "/history" > sizeof dir)
        return NULL;
    for (char *p = dir + 1; *p; p++) /* mkdir -p; failures show up when saving */
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    mkdir(dir, 0700);
    strcat(dir, "/history");
    return strdup(dir);
}

static chat_line *open_editline(chat_line *l, const char *program)
{
    const char *tty = ttyname(STDIN_FILENO);
    if (tty) /* failing that, stdin itself: only the flush race stays open */
        l->key_fd = open(tty, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    l->el = el_init(program, stdin, stdout, stderr);
    l->hist = history_init();
    if (!l->el || !l->hist) {
        chat_line_close(l);
        return NULL;
    }
    HistEvent ev;
    history(l->hist, &ev, H_SETSIZE, 1000);
    history(l->hist, &ev, H_SETUNIQUE, 1);
    l->history_path = history_file();
    if (l->history_path)
        history(l->hist, &ev, H_LOAD, l->history_path); /* none yet is fine */
    el_set(l->el, EL_EDITOR, "emacs");
    el_set(l->el, EL_SIGNAL, 0);
    el_set(l->el, EL_PROMPT, prompt_text);
    el_set(l->el, EL_HIST, history, l->hist);
    el_set(l->el, EL_CLIENTDATA, l);
    el_set(l->el, EL_GETCFN, read_wchar);
    /* the wide form: the narrow one copies the names with wcsdup and never frees them */
    el_wset(l->el, EL_ADDFN, L"calgae-cancel", L"clear the line (Ctrl-C)", cancel_line);
    el_wset(l->el, EL_BIND, L"^C", L"calgae-cancel", NULL);
    el_source(l->el, NULL); /* the user's ~/.editrc, as other editline programs do */
    return l;
}

static void add_history(chat_line *l, const char *line)
{
    HistEvent ev;
    if (!*line || line[strspn(line, " \t\n")] == '\0')
        return;
    history(l->hist, &ev, H_ENTER, line);
    if (l->history_path) /* saved at once: a crash or kill keeps it; unwritable is no error */
        history(l->hist, &ev, H_SAVE, l->history_path);
}

static const char *read_editline(chat_line *l, int *cancelled)
{
    int count = 0;
    line_cancelled = 0;
    const char *line = el_gets(l->el, &count);
    if (line_cancelled) {
        *cancelled = 1;
        return "";
    }
    if (!line || count <= 0)
        return NULL;
    add_history(l, line);
    return line;
}
#endif

chat_line *chat_line_open(const char *program)
{
    chat_line *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->key_fd = -1;
    if (!isatty(STDIN_FILENO))
        return l;
#ifdef CALGAE_NO_LIBEDIT
    (void)program;
    return l;
#else
    return open_editline(l, program);
#endif
}

void chat_line_close(chat_line *l)
{
    if (!l)
        return;
#ifndef CALGAE_NO_LIBEDIT
    if (l->el)
        el_end(l->el);
    if (l->hist)
        history_end(l->hist);
#endif
    if (l->key_fd >= 0)
        close(l->key_fd);
    free(l->history_path);
    free(l->plain);
    free(l);
}

int chat_line_is_terminal(const chat_line *l)
{
    return l->el != NULL;
}

/* Without a terminal: getline, retried after a signal; Ctrl-C cancels the line. */
static const char *read_plain(chat_line *l, int *cancelled)
{
    for (;;) {
        errno = 0;
        ssize_t n = getline(&l->plain, &l->plain_cap, stdin);
        if (n >= 0)
            return l->plain;
        if (errno != EINTR)
            return NULL;
        clearerr(stdin);
        if (sigint_seen) {
            sigint_seen = 0;
            *cancelled = 1;
            return "";
        }
    }
}

const char *chat_line_read(chat_line *l, int *cancelled)
{
    *cancelled = 0;
#ifndef CALGAE_NO_LIBEDIT
    if (l->el)
        return read_editline(l, cancelled);
#endif
    return read_plain(l, cancelled);
}
