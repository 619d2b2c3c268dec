/* infra_exit.h - exit codes of every infrakit tool.
 *
 * THIS FILE IS PART OF THE INTERFACE.  Scripts, cron jobs and Nagios/Icinga
 * check definitions depend on these numbers; never change their meaning.
 * They follow the monitoring-plugins convention (see DESIGN.md section 3).
 */
#ifndef INFRA_EXIT_H
#define INFRA_EXIT_H

enum infra_status {
	INFRA_EXIT_OK = 0,       /* ran, nothing needs attention */
	INFRA_EXIT_WARNING = 1,  /* ran, found something (orphans, failures, warn thresholds) */
	INFRA_EXIT_CRITICAL = 2, /* ran, found something past a critical threshold */
	INFRA_EXIT_UNKNOWN = 3,  /* could not do its job: usage, auth, unreachable, bad input */
};

/* "ok", "warning", "critical", "unknown"; anything else maps to "unknown". */
const char *infra_status_name(int status);
/* The worse of two statuses, in Nagios order OK < WARNING < UNKNOWN < CRITICAL. */
int infra_status_worst(int a, int b);

#endif
