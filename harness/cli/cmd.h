/*
 * cmd.h - the subcommands of the heapbench binary.  Each takes the
 * arguments after `heapbench` (argv[0] is the command name) and returns
 * the process exit status (DESIGN §2).
 */
#ifndef HB_CMD_H
#define HB_CMD_H

int cmd_trace(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_compare(int argc, char **argv);

/* For getopt's '?' (opterr is 0): one line naming the option it refused
 * (argv[optind - 1]) and where the help is; HB_EXIT_USAGE. */
int cmd_option_error(const char *cmd, char **argv, int optind_now);

#endif
