/* infra_kata_top.h - katapulse-scrape --tui: a live table of the node's Kata
 * sandboxes for a person on the node (infra_tui).
 *
 * Every interval: discover, metadata, fetch every selected shim (no merge), and
 * show per sandbox the pod, runtime, scrape status and time, guest CPU (busy
 * milliseconds of kata_guest_cpu_time{cpu="total"} between two refreshes, as %
 * of one vCPU), guest memory used (mem_total - mem_available of
 * kata_guest_meminfo), load1, the VMM's resident memory
 * (kata_hypervisor_proc_status{item="vmrss"}, bytes, Go runtime; runtime-rs:
 * kata_shim_proc_status vmrss, kB, the shim and VMM share a process) and the
 * number of series; the selected row's detail line has the whole pod, reason and
 * sandbox id.  Keys (infra_tui): q quits, r refreshes now, arrows/PgUp/PgDn move
 * and scroll columns.
 */
#ifndef INFRA_KATA_TOP_H
#define INFRA_KATA_TOP_H

#include <stddef.h>

#include "infra_err.h"
#include "infra_http.h"
#include "infra_kata.h"
#include "infra_kata_scrape.h"

struct infra_kata_summary {
	double cpu_busy_ms;   /* guest, all CPUs, NaN if absent */
	double mem_total, mem_available; /* bytes, NaN if absent */
	double load1;
	double vmm_rss;       /* bytes, NaN if absent */
	size_t samples;
};

/* Summarise one shim body; -EINVAL (err) if it does not parse. */
int infra_kata_summarize(const char *body, size_t len, struct infra_kata_summary *s, struct infra_err *err);

/* Run the view until q.  Returns 0, or a negative code (no terminal, ...). */
int infra_kata_top(const struct infra_kata_root *roots, size_t nroots, const struct infra_kata_opts *o,
		   struct infra_http *h, double interval, struct infra_err *err);

#endif
