/*
 * usage.c - what a command says of an option getopt did not take (cmd.h).
 */
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "cli/cmd.h"

int cmd_option_error(const char *cmd, char **argv, int optind_now)
{
	/* getopt leaves optind past what it refused; a missing value is the
	 * option itself at the end */
	const char *arg = optind_now > 0 ? argv[optind_now - 1] : "";
	hb_error("%s: option '%s' is unknown or needs a value (`heapbench %s --help` lists "
		 "them)",
		 cmd, hb_quote(arg), cmd);
	return HB_EXIT_USAGE;
}
