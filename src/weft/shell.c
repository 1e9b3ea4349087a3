/* shell.c - `weft shell`: weft's commands at a `weft> ` prompt, over one
 * connection kept between commands (and made again if the server drops
 * it).
 *
 * On a terminal, lines are read with libedit (editing, history kept in
 * ~/.weft_history); otherwise with plain getline and no prompt, so a
 * script can be piped in. Words are split like a shell's: blanks
 * separate, '...' and "..." quote, a backslash escapes the next
 * character (outside '...').
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "cli.h"

#define MAX_WORDS 64
#define PROMPT    "weft> "

volatile sig_atomic_t cli_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    cli_interrupted = 1;
}

/* Split line into words, in place: their count, or -1 for an unclosed
 * quote, -2 for too many words. */
static int split(char *line, char **words, int max)
{
    int n = 0;
    char *r = line, *w = line;
    while (*r != '\0') {
        while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
            r++;
        if (*r == '\0')
            break;
        if (n == max)
            return -2;
        words[n++] = w;
        char quote = 0;
        while (*r != '\0') {
            char ch = *r;
            if (quote == 0 &&
                (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'))
                break;
            r++;
            if (quote == 0 && (ch == '\'' || ch == '"')) {
                quote = ch;
            } else if (quote != 0 && ch == quote) {
                quote = 0;
            } else if (ch == '\\' && quote != '\'' && *r != '\0') {
                *w++ = *r++;
            } else {
                *w++ = ch;
            }
        }
        if (quote != 0)
            return -1;
        /* The word ends here; r may point at the blank w overwrites. */
        if (*r != '\0')
            r++;
        *w++ = '\0';
    }
    return n;
}

static void shell_help(void)
{
    printf("Commands:\n");
    cli_commands_help(stdout);
    printf("  %-24s %s\n  %-24s %s\n", "help", "this list", "quit",
           "leave (also exit, or end of input)");
    fflush(stdout);
}

/* One line: the exit code of its command, or -1 for quit. */
static int run_line(cli_session *s, char *line)
{
    char *words[MAX_WORDS + 1];
    int n = split(line, words, MAX_WORDS);
    if (n == -1)
        return cli_fail(CLI_USAGE, NULL, "unclosed quote");
    if (n < 0)
        return cli_fail(CLI_USAGE, NULL, "too many words");
    if (n == 0)
        return CLI_OK;
    words[n] = NULL;
    if (strcmp(words[0], "quit") == 0 || strcmp(words[0], "exit") == 0)
        return -1;
    if (strcmp(words[0], "help") == 0 || strcmp(words[0], "?") == 0) {
        shell_help();
        return CLI_OK;
    }
    if (strcmp(words[0], "shell") == 0)
        return cli_fail(CLI_USAGE, NULL, "already in the shell");
    return cli_command_run(s, n, words);
}

int cli_shell(cli_session *s, int argc, char **argv)
{
    if (argc > 1)
        return cli_fail(CLI_USAGE, "shell", "takes no arguments");
    bool tty = isatty(STDIN_FILENO);
    char history[4096] = "";
    const char *home = getenv("HOME");
    if (tty && home != NULL && *home != '\0') {
        snprintf(history, sizeof history, "%s/.weft_history", home);
        using_history();
        read_history(history);
    }
    /* On a terminal, Ctrl-C abandons the line or the transfer under way
     * (between two chunks), not the shell. */
    if (tty) {
        struct sigaction sa = {.sa_handler = on_sigint};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
    }
    int last_failure = CLI_OK;
    char *buf = NULL;
    size_t cap = 0;
    for (;;) {
        char *line;
        cli_interrupted = 0;
        if (tty) {
            line = readline(PROMPT);
            if (line == NULL && cli_interrupted) {
                putchar('\n');
                continue;
            }
            if (line == NULL) {
                putchar('\n');
                break;
            }
            if (*line != '\0')
                add_history(line);
        } else {
            if (getline(&buf, &cap, stdin) < 0)
                break;
            line = buf;
        }
        int code = run_line(s, line);
        if (tty)
            free(line);
        if (code < 0)
            break;
        if (code != CLI_OK)
            last_failure = code;
    }
    free(buf);
    if (history[0] != '\0')
        write_history(history);
    return last_failure;
}
