/* liaisonctl: dispatch to one command. */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} ctl_command_t;

static const ctl_command_t s_commands[] = {
    {"due", ctl_due, "compute a due date by the regulation's rules (no daemon needed)"},
    {"migrate", ctl_migrate, "apply the SQL migrations of every service"},
    {"bus", ctl_bus, "event streams: status, dead letters, replay"},
    {"item", ctl_item,
     "register an item (Art. 13), show one, list them; its workflow (Arts. 14-21)"},
    {"directory", ctl_directory, "courts, departments, staff, groups, deputies: import and show"},
    {"token", ctl_token, "create or revoke an API token"},
    {"queue", ctl_queue, "work queues: awaiting my approval, my department's items, ..."},
    {"deadline", ctl_deadline, "deadlines: list (overdue, by department, item), explain one"},
    {"clock", ctl_clock, "the test clock: show, advance, set (test-clock stacks only)"},
};

static void s_usage(FILE *out)
{
    fprintf(out, "usage: liaisonctl COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf(out, "  %-10s %s\n", s_commands[i].name, s_commands[i].summary);
    fprintf(out, "\nliaisonctl COMMAND --help shows a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        s_usage(stdout);
        return CTL_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp(argv[1], s_commands[i].name) == 0)
            return s_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "liaisonctl: unknown command \"%s\"\n", argv[1]);
    s_usage(stderr);
    return CTL_EXIT_USAGE;
}
