/* liaisonctl — the command-line client. Each command lives in its own
 * ctl_<command>.c and is dispatched from main.c. */
#ifndef LIAISON_CTL_CTL_H
#define LIAISON_CTL_CTL_H

#include <stdbool.h>

/* Exit codes scripts can trust. */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAILURE = 1, /* the server or the environment failed */
    CTL_EXIT_USAGE = 2,   /* the command line is wrong */
    CTL_EXIT_REFUSED = 3, /* the request was understood and refused */
};

/* Each command gets argv with argv[0] = the command's name. */
int ctl_due(int argc, char **argv);
int ctl_migrate(int argc, char **argv);
int ctl_bus(int argc, char **argv);
/* ctl_intake.c: the intake daemon's API */
int ctl_item(int argc, char **argv);
int ctl_directory(int argc, char **argv);
int ctl_token(int argc, char **argv);
/* ctl_routing.c: the routing daemon's API — `item VERB` (workflow verbs,
 * handed over by ctl_item) and `queue` */
bool ctl_item_workflow_verb(const char *verb);
int ctl_item_workflow(int argc, char **argv);
int ctl_queue(int argc, char **argv);
/* ctl_deadline.c, ctl_clock.c: deadlines and the test clock */
int ctl_deadline(int argc, char **argv);
int ctl_clock(int argc, char **argv);

#endif
