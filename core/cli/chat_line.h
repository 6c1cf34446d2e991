/*
 * chat_line.h - reading `calgae chat`'s input lines: libedit line editing and history on a
 * terminal (history in $XDG_STATE_HOME/calgae/history, else ~/.local/state/calgae/history,
 * kept even when it cannot be written), plain lines otherwise; and the Ctrl-C flag.
 */
#ifndef CALGAE_CHAT_LINE_H
#define CALGAE_CHAT_LINE_H

typedef struct chat_line chat_line;

/* NULL when libedit cannot start on the terminal. */
chat_line *chat_line_open(const char *program);
void chat_line_close(chat_line *l);
int chat_line_is_terminal(const chat_line *l);

/* The next line (with its newline, if it had one), valid until the next call; NULL at end of
 * input (Ctrl-D). *cancelled is set, with "" returned, when Ctrl-C cleared the line. */
const char *chat_line_read(chat_line *l, int *cancelled);

/* SIGINT sets a flag instead of ending the program. */
void chat_line_catch_sigint(void);
int chat_line_interrupted(void);
void chat_line_clear_interrupt(void);

#endif
