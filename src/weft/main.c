/* main.c - weft, the command-line client of weftd: global options, then
 * one command (ls, get, put, rm, mkdir, stat) or an interactive shell.
 *
 *     weft [--server HOST:PORT] [--user NAME] [--json] [--timeout MS]
 *          COMMAND [ARGS]
 *
 * docs/weft.md is the manual: commands, options, exit codes. The program
 * uses only libweft's public API (weft_connect, weft_frame_*), jansson,
 * OpenSSL's libcrypto for SHA-256 and libedit for the shell.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void help(FILE *f)
{
    fprintf(f, "usage: weft [OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "The client of weftd, the weft file server.\n"
               "\n"
               "Commands:\n");
    cli_commands_help(f);
    fprintf(f,
            "  %-24s %s\n"
            "\n"
            "Options (before the command):\n"
            "  -s, --server HOST:PORT   the server (default: $WEFT_SERVER, "
            "else\n"
            "                           %s)\n"
            "  -u, --user NAME          log in as NAME (default: $WEFT_USER); "
            "the\n"
            "                           password from $WEFT_PASSWORD, else "
            "asked\n"
            "                           on the terminal\n"
            "  -j, --json               print replies and listings as JSON\n"
            "  -t, --timeout MS         for connecting, each reply and each "
            "step\n"
            "                           of a transfer (default %d; -1: "
            "forever)\n"
            "      --tls                connect with TLS, checking the "
            "server's\n"
            "                           certificate (default: $WEFT_TLS)\n"
            "      --tls-ca FILE        trust FILE's certificates instead of "
            "the\n"
            "                           system's (implies --tls; default: "
            "$WEFT_TLS_CA)\n"
            "  -h, --help               this help\n"
            "  -V, --version            the version\n"
            "\n"
            "Environment: WEFT_SERVER; WEFT_USER and WEFT_PASSWORD to log "
            "in;\n"
            "WEFT_TLS=1 and WEFT_TLS_CA for TLS.\n"
            "\n"
            "Exit codes: 0 ok, 1 other error, 2 usage, 3 cannot connect or "
            "connection\n"
            "lost or timeout or server busy, 4 not found, 5 read-only or "
            "denied,\n"
            "6 checksum mismatch, 7 too large or quota or no space, 8 exists "
            "or\n"
            "not empty or wrong kind or bad path or resume offset refused, "
            "9 login\n"
            "required or failed or too many failed logins.\n"
            "See docs/weft.md.\n",
            "shell", "commands at a prompt (also help, quit)",
            CLI_DEFAULT_SERVER, CLI_DEFAULT_TIMEOUT);
}

static int parse_timeout(const char *text, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0 || v < -1 ||
        v > 24L * 3600 * 1000)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"user", required_argument, NULL, 'u'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"tls", no_argument, NULL, 'T'},
        {"tls-ca", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *env = getenv("WEFT_SERVER");
    const char *user = getenv("WEFT_USER");
    const char *tls = getenv("WEFT_TLS"), *tls_ca = getenv("WEFT_TLS_CA");
    cli_session s = {
        .server = env != NULL && *env != '\0' ? env : CLI_DEFAULT_SERVER,
        .timeout_ms = CLI_DEFAULT_TIMEOUT,
        .fd = -1,
        .user = user != NULL && *user != '\0' ? user : NULL,
        .tls = tls != NULL && *tls != '\0' && strcmp(tls, "0") != 0,
        .tls_ca = tls_ca != NULL && *tls_ca != '\0' ? tls_ca : NULL,
        .sock = -1,
    };
    int c;
    opterr = 0;
    /* "+": stop at the command; its own options are its own. */
    while ((c = getopt_long(argc, argv, "+s:u:jt:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            s.server = optarg;
            break;
        case 'u':
            if (*optarg == '\0')
                return cli_fail(CLI_USAGE, NULL, "--user wants a name");
            s.user = optarg;
            break;
        case 'j':
            s.json = true;
            break;
        case 't':
            if (parse_timeout(optarg, &s.timeout_ms) < 0)
                return cli_fail(CLI_USAGE, NULL,
                                "--timeout wants milliseconds (> 0, or -1)");
            break;
        case 'T':
            s.tls = true;
            break;
        case 'C':
            s.tls_ca = optarg;
            break;
        case 'h':
            help(stdout);
            return CLI_OK;
        case 'V':
            printf("weft %s (libweft %s)\n", WEFT_VERSION_STRING,
                   weft_version());
            return CLI_OK;
        default:
            if (optopt != 0)
                return cli_fail(CLI_USAGE, NULL,
                                "unknown option -%c or missing value "
                                "(try --help)",
                                optopt);
            return cli_fail(CLI_USAGE, NULL,
                            "unknown option %s or missing value (try --help)",
                            argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_fail(CLI_USAGE, NULL, "a command is wanted (try --help)");
    if (s.tls_ca != NULL)
        s.tls = true;
    s.progress = isatty(STDERR_FILENO);
    const char *cmd = argv[optind];
    int code;
    if (strcmp(cmd, "help") == 0) {
        help(stdout);
        code = CLI_OK;
    } else if (strcmp(cmd, "shell") == 0) {
        code = cli_shell(&s, argc - optind, argv + optind);
    } else {
        code = cli_command_run(&s, argc - optind, argv + optind);
    }
    cli_close(&s, true);
    cli_forget_password(&s);
    weft_tls_ctx_destroy(s.tls_ctx);
    return code;
}
