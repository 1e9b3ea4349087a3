/* cmds.c - the weft client's commands: the table of them, their shared
 * argument helpers, and the simple ones: ls, stat, rm, mkdir (get and
 * put are in transfer.c).
 *
 * Each command takes its own argv (argv[0] its name) and parses its
 * options with getopt_long, so the one-shot command line and the shell
 * share them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/frame.h>

#include "cli.h"

#define LIST_MAX ((uint64_t)64 << 20) /* largest listing body accepted */

/* ---- helpers ------------------------------------------------------------ */

/* "CMD ARG" for the error line. */
const char *cli_what(char *buf, const char *cmd, const char *arg)
{
    snprintf(buf, CLI_WHAT_MAX, "%s %s", cmd, arg);
    return buf;
}

int cli_usage(const char *cmd, const char *why)
{
    const cli_command *c = cli_command_find(cmd);
    fprintf(stderr, "weft: %s: %s\nusage: weft %s %s\n", cmd, why, cmd,
            c != NULL ? c->args : "");
    return CLI_USAGE;
}

/* getopt_long over a command's own arguments, from the start. */
void cli_opts_reset(void)
{
    optind = 0;
    opterr = 0;
}

int cli_bad_option(char **argv)
{
    char why[128];
    if (optopt != 0)
        snprintf(why, sizeof why, "unknown option -%c (or missing value)",
                 optopt);
    else
        snprintf(why, sizeof why, "unknown option %s", argv[optind - 1]);
    return cli_usage(argv[0], why);
}

/* The last component of a path ("a.txt" of "notes/a.txt"). */
const char *cli_base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

bool cli_ends_with_slash(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && s[n - 1] == '/';
}

/* ---- ls ----------------------------------------------------------------- */

static void print_entry(json_t *e)
{
    const char *name = cli_get_str(e, "name");
    const char *type = cli_get_str(e, "type");
    int64_t size = cli_get_int(e, "size", -1);
    int64_t mtime = cli_get_int(e, "mtime", -1);
    char sz[32] = "-", when[32] = "-";
    bool dir = type != NULL && strcmp(type, "dir") == 0;
    if (!dir && size >= 0)
        cli_human_size((uint64_t)size, sz, sizeof sz);
    if (mtime >= 0)
        cli_human_time(mtime, false, when, sizeof when);
    printf("%-5s %9s  %-16s  %s%s\n", type != NULL ? type : "?", sz, when,
           name != NULL ? name : "?", dir ? "/" : "");
}

static int cmd_ls(cli_session *s, int argc, char **argv)
{
    static const struct option longopts[] = {{NULL, 0, NULL, 0}};
    cli_opts_reset();
    if (getopt_long(argc, argv, "", longopts, NULL) != -1)
        return cli_bad_option(argv);
    if (argc - optind > 1)
        return cli_usage(argv[0], "one folder at a time");
    const char *path = argc > optind ? argv[optind] : "";
    char wbuf[CLI_WHAT_MAX];
    const char *what = cli_what(wbuf, "ls", *path ? path : "(top)");

    json_t *req = json_pack("{s:s, s:s}", "cmd", "list", "path", path);
    json_t *reply = NULL, *entries = NULL;
    uint64_t len = 0;
    int code = cli_call(s, what, req, &reply, &len);
    json_decref(req);
    if (code != CLI_OK)
        return code;
    if (len > LIST_MAX) {
        json_decref(reply);
        cli_close(s, false);
        return cli_fail(CLI_ERR, what, "listing too large (%llu bytes)",
                        (unsigned long long)len);
    }
    char *body = malloc(len > 0 ? (size_t)len : 1);
    int rc = body == NULL ? -ENOMEM
                          : weft_frame_recv_body(s->fd, body, (size_t)len,
                                                 s->timeout_ms);
    if (rc < 0) {
        free(body);
        json_decref(reply);
        return cli_conn_fail(s, what, rc, NULL);
    }
    entries = len > 0 ? json_loadb(body, (size_t)len, 0, NULL) : json_array();
    free(body);
    if (!json_is_array(entries)) {
        json_decref(entries);
        json_decref(reply);
        return cli_fail(CLI_ERR, what, "the listing is not a JSON array");
    }
    if (s->json) {
        json_object_del(reply, "file_size");
        json_object_set(reply, "entries", entries);
        cli_print_json(reply);
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e)
        {
            print_entry(e);
        }
        fflush(stdout);
    }
    json_decref(entries);
    json_decref(reply);
    return CLI_OK;
}

/* ---- stat --------------------------------------------------------------- */

static int cmd_stat(cli_session *s, int argc, char **argv)
{
    static const struct option longopts[] = {{NULL, 0, NULL, 0}};
    cli_opts_reset();
    if (getopt_long(argc, argv, "", longopts, NULL) != -1)
        return cli_bad_option(argv);
    if (argc - optind != 1)
        return cli_usage(argv[0], "one NAME wanted");
    const char *name = argv[optind];
    char wbuf[CLI_WHAT_MAX];
    const char *what = cli_what(wbuf, "stat", name);
    json_t *req = json_pack("{s:s, s:s}", "cmd", "stat", "path", name);
    json_t *reply = NULL;
    int code = cli_connect(s, what);
    if (code == CLI_OK)
        code = cli_send(s, what, req);
    if (code == CLI_OK)
        code = cli_recv_any(s, what, &reply, NULL);
    json_decref(req);
    if (code != CLI_OK)
        return code;
    int64_t partial = cli_get_int(reply, "partial_size", -1);
    if (!json_is_true(json_object_get(reply, "ok"))) {
        const char *error = cli_get_str(reply, "error");
        /* Only an interrupted upload by that name: say so. */
        if (error != NULL && strcmp(error, "not_found") == 0 && partial >= 0) {
            if (s->json)
                cli_print_json(reply);
            code = cli_fail(CLI_NOTFOUND, what,
                            "not found, but %lld bytes of an interrupted "
                            "upload are there (put -c resumes it)",
                            (long long)partial);
        } else {
            code = cli_reply_error(s, what, reply);
        }
        json_decref(reply);
        return code;
    }
    if (s->json) {
        cli_print_json(reply);
        json_decref(reply);
        return CLI_OK;
    }
    const char *type = cli_get_str(reply, "type");
    const char *sha = cli_get_str(reply, "sha256");
    int64_t size = cli_get_int(reply, "size", -1);
    int64_t mtime = cli_get_int(reply, "mtime", -1);
    char buf[64];
    printf("path     %s\n", *name != '\0' ? name : "(top)");
    printf("type     %s\n", type != NULL ? type : "?");
    if (size >= 0) {
        cli_human_size((uint64_t)size, buf, sizeof buf);
        printf("size     %lld (%s)\n", (long long)size, buf);
    }
    if (mtime >= 0) {
        cli_human_time(mtime, true, buf, sizeof buf);
        printf("mtime    %s\n", buf);
    }
    if (sha != NULL)
        printf("sha256   %s\n", sha);
    if (partial >= 0)
        printf("partial  %lld bytes of an interrupted upload "
               "(weft put -c resumes it)\n",
               (long long)partial);
    fflush(stdout);
    json_decref(reply);
    return CLI_OK;
}

/* ---- rm, mkdir ---------------------------------------------------------- */

/* One request per name ({"cmd": cmd, "path": name, ...extra}); the exit
 * code of the last that failed. */
static int each_path(cli_session *s, const char *label, const char *cmd,
                     json_t *extra, int argc, char **argv)
{
    int result = CLI_OK;
    for (int i = optind; i < argc; i++) {
        char wbuf[CLI_WHAT_MAX];
        const char *what = cli_what(wbuf, label, argv[i]);
        json_t *req = json_pack("{s:s, s:s}", "cmd", cmd, "path", argv[i]);
        json_t *reply = NULL;
        if (req != NULL && extra != NULL)
            json_object_update(req, extra);
        int code = cli_call(s, what, req, &reply, NULL);
        json_decref(req);
        if (code == CLI_OK && s->json)
            cli_print_json(reply);
        json_decref(reply);
        if (code != CLI_OK)
            result = code;
        if (code == CLI_CONN || code == CLI_USAGE)
            break; /* the next would fail the same way */
    }
    return result;
}

static int cmd_rm(cli_session *s, int argc, char **argv)
{
    static const struct option longopts[] = {{NULL, 0, NULL, 0}};
    cli_opts_reset();
    if (getopt_long(argc, argv, "", longopts, NULL) != -1)
        return cli_bad_option(argv);
    if (argc - optind < 1)
        return cli_usage(argv[0], "NAME wanted");
    return each_path(s, "rm", "delete", NULL, argc, argv);
}

static int cmd_mkdir(cli_session *s, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"parents", no_argument, NULL, 'p'}, {NULL, 0, NULL, 0}};
    bool parents = false;
    int c;
    cli_opts_reset();
    while ((c = getopt_long(argc, argv, "p", longopts, NULL)) != -1) {
        if (c != 'p')
            return cli_bad_option(argv);
        parents = true;
    }
    if (argc - optind < 1)
        return cli_usage(argv[0], "NAME wanted");
    json_t *extra = parents ? json_pack("{s:b}", "parents", 1) : NULL;
    int code = each_path(s, "mkdir", "mkdir", extra, argc, argv);
    json_decref(extra);
    return code;
}

/* ---- the table ---------------------------------------------------------- */

static const cli_command commands[] = {
    {"ls", cmd_ls, "[PATH]", "list a folder (default: the top)"},
    {"get", cli_cmd_get, "NAME [-o DEST] [-c]",
     "download (DEST: file, folder or -; -c resumes)"},
    {"put", cli_cmd_put, "FILE [NAME] [-c]",
     "upload (NAME/ puts it in a folder; -c resumes)"},
    {"rm", cmd_rm, "NAME...", "delete files or empty folders"},
    {"mkdir", cmd_mkdir, "NAME... [-p]", "make folders (-p: parents too)"},
    {"stat", cmd_stat, "NAME", "type, size, time, sha256, partial upload"},
};

const cli_command *cli_command_find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int cli_command_run(cli_session *s, int argc, char **argv)
{
    const cli_command *c = cli_command_find(argv[0]);
    if (c == NULL)
        return cli_fail(CLI_USAGE, NULL,
                        "unknown command '%s' (try --help or help)", argv[0]);
    return c->run(s, argc, argv);
}

void cli_commands_help(FILE *f)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", commands[i].name,
                 commands[i].args);
        fprintf(f, "  %-24s %s\n", head, commands[i].summary);
    }
}
