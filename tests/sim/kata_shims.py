#!/usr/bin/env python3
"""Fake Kata Containers node for katapulse-scrape tests (Python 3 stdlib only).

Builds a sandbox tree under --root in both runtimes' layouts and serves fake
shim monitor sockets (HTTP/1.1 over unix sockets, filesystem or abstract) plus an
optional fake CRI runtime (gRPC over h2c on a unix socket, ListPodSandbox).

  kata_shims.py --root DIR --spec SPEC.json [--max-seconds N]
  kata_shims.py --root DIR --generate N [--profile realistic|small] [--seed S]
  kata_shims.py --root DIR --generate N --manifest FILE   (tree + bodies for kata-shim-bench)

Prints `READY <root>` once everything listens; exits on SIGTERM/SIGINT or after
--max-seconds.

Spec (JSON): {"sandboxes": [SANDBOX...], "cri": {"socket": PATH, "fault": F}}.
SANDBOX keys (all optional but id):
  id         sandbox id (default: 64 hex chars derived from the index)
  runtime    "go" (/run/vc/sbs/<id>, chunked replies like Go net/http) or
             "rs" (/run/kata/<id>, Content-Length replies like hyper)
  socket     "fs" (default), "abstract" (Kata 2.1 name /run/vc/<id>/shim-monitor),
             "none" (no socket at all), "dead" (socket file, nobody listening)
  hypervisor rs only: "dragonball" (default), "qemu", "firecracker" (qmp.sock/fc.sock)
  meta       "persist" (Go persist.json), "containerd" (bundle config.json),
             "crio" (CRI-O userdata config.json), "cri" (only the fake CRI knows),
             "none" (default)
  pod        {"name", "namespace", "uid"} (defaults derived from the index)
  profile    "tiny" (default, ~120 series), "small" (~330) or "realistic" (~1,400, ~110 KB)
  body       "file:PATH" serves that file verbatim instead of a generated body
  fault      none | slow | garbage | huge | hostile | chunked | nohelp | reorder |
             typeconflict | http404 | reset | truncated | badutf8 |
             biglabel (one label value of label_bytes) | manyseries (series extra samples) |
             doubleid (a sample with both sandbox_id and exported_sandbox_id labels)
  delay      seconds for "slow" (default 10)
  huge_bytes body size for "huge" (default 24 MiB)
  label_bytes  label value size for "biglabel" (default 4 MiB)
  series     extra series for "manyseries" (default 300,000)
  agent_url  what GET /agent-url answers (default vsock://<cid>:1024)
  live       true: guest CPU time grows between requests (20-80% of a vCPU)
"""
import argparse
import asyncio
import decimal
import hashlib
import json
import os
import random
import signal
import socket
import struct
import sys
import time

# ---------------------------------------------------------------- metric bodies

PROC_STATUS = ["vmpeak", "vmsize", "vmlck", "vmpin", "vmhwm", "vmrss", "rssanon", "rssfile", "rssshmem",
               "vmdata", "vmstk", "vmexe", "vmlib", "vmpte", "vmpmd", "vmswap", "hugetlbpages",
               "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"]
PROC_STAT = ["utime", "stime", "cutime", "cstime"]
IO_GO = ["rchar", "wchar", "syscr", "syscw", "readbytes", "writebytes", "cancelledwritebytes"]
IO_RS = ["rchar", "wchar", "syscr", "syscw", "read_bytes", "write_bytes", "cancelled_write_bytes"]
NETDEV = ["recv_bytes", "recv_packets", "recv_errs", "recv_drop", "recv_fifo", "recv_frame",
          "recv_compressed", "recv_multicast", "sent_bytes", "sent_packets", "sent_errs", "sent_drop",
          "sent_fifo", "sent_colls", "sent_carrier", "sent_compressed"]
SHIM_RPC = ["create", "start", "state", "wait", "stats", "connect", "delete", "exec", "kill", "pause",
            "resume", "pids", "resize_pty", "close_io", "checkpoint", "update", "shutdown"]
AGENT_RPC = ["grpc.CreateSandboxRequest", "grpc.CreateContainerRequest", "grpc.StartContainerRequest",
             "grpc.GetMetricsRequest", "grpc.StatsContainerRequest", "grpc.CheckRequest",
             "grpc.WaitProcessRequest", "grpc.ExecProcessRequest", "grpc.SignalProcessRequest",
             "grpc.RemoveContainerRequest", "grpc.DestroySandboxRequest", "grpc.UpdateInterfaceRequest",
             "grpc.UpdateRoutesRequest", "grpc.AddARPNeighborsRequest", "grpc.GetGuestDetailsRequest",
             "grpc.ListInterfacesRequest", "grpc.OnlineCPUMemRequest", "grpc.CopyFileRequest",
             "grpc.SetGuestDateTimeRequest", "grpc.GetOOMEventRequest"]
BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
MEMINFO = ["mem_total", "mem_free", "mem_available", "buffers", "cached", "swap_cached", "active",
           "inactive", "active_anon", "inactive_anon", "active_file", "inactive_file", "unevictable",
           "mlocked", "high_total", "high_free", "low_total", "low_free", "mmap_copy", "swap_total",
           "swap_free", "dirty", "writeback", "anon_pages", "mapped", "shmem", "k_reclaimable", "slab",
           "s_reclaimable", "s_unreclaim", "kernel_stack", "page_tables", "quicklists", "nfs_unstable",
           "bounce", "writeback_tmp", "commit_limit", "committed_as", "vmalloc_total", "vmalloc_used",
           "vmalloc_chunk", "per_cpu", "hardware_corrupted", "anon_hugepages", "shmem_hugepages",
           "shmem_pmd_mapped", "cma_total", "cma_free", "hugepages_total", "hugepages_free",
           "hugepages_rsvd", "hugepages_surp", "hugepagesize", "hugetlb", "direct_map_4k",
           "direct_map_4M", "direct_map_2M", "direct_map_1G"]
VMSTAT_BASE = ["nr_free_pages", "nr_zone_inactive_anon", "nr_zone_active_anon", "nr_zone_inactive_file",
               "nr_zone_active_file", "nr_zone_unevictable", "nr_zone_write_pending", "nr_mlock",
               "nr_bounce", "nr_zspages", "nr_free_cma", "numa_hit", "numa_miss", "numa_foreign",
               "numa_interleave", "numa_local", "numa_other", "nr_inactive_anon", "nr_active_anon",
               "nr_inactive_file", "nr_active_file", "nr_unevictable", "nr_slab_reclaimable",
               "nr_slab_unreclaimable", "nr_isolated_anon", "nr_isolated_file", "workingset_nodes",
               "workingset_refault_anon", "workingset_refault_file", "workingset_activate_anon",
               "workingset_activate_file", "workingset_restore_anon", "workingset_restore_file",
               "workingset_nodereclaim", "nr_anon_pages", "nr_mapped", "nr_file_pages", "nr_dirty",
               "nr_writeback", "nr_writeback_temp", "nr_shmem", "nr_shmem_hugepages",
               "nr_shmem_pmdmapped", "nr_file_hugepages", "nr_file_pmdmapped", "nr_anon_transparent_hugepages",
               "nr_vmscan_write", "nr_vmscan_immediate_reclaim", "nr_dirtied", "nr_written",
               "nr_kernel_misc_reclaimable", "nr_foll_pin_acquired", "nr_foll_pin_released",
               "nr_kernel_stack", "nr_page_table_pages", "nr_swapcached", "nr_dirty_threshold",
               "nr_dirty_background_threshold", "pgpgin", "pgpgout", "pswpin", "pswpout",
               "pgalloc_dma", "pgalloc_dma32", "pgalloc_normal", "pgalloc_movable", "allocstall_dma",
               "allocstall_dma32", "allocstall_normal", "allocstall_movable", "pgskip_dma",
               "pgskip_dma32", "pgskip_normal", "pgskip_movable", "pgfree", "pgactivate",
               "pgdeactivate", "pglazyfree", "pgfault", "pgmajfault", "pglazyfreed", "pgrefill",
               "pgreuse", "pgsteal_kswapd", "pgsteal_direct", "pgdemote_kswapd", "pgdemote_direct",
               "pgscan_kswapd", "pgscan_direct", "pgscan_direct_throttle", "pgscan_anon", "pgscan_file",
               "pgsteal_anon", "pgsteal_file", "zone_reclaim_failed", "pginodesteal", "slabs_scanned",
               "kswapd_inodesteal", "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
               "pageoutrun", "pgrotated", "drop_pagecache", "drop_slab", "oom_kill", "numa_pte_updates",
               "numa_huge_pte_updates", "numa_hint_faults", "numa_hint_faults_local",
               "numa_pages_migrated", "pgmigrate_success", "pgmigrate_fail", "thp_migration_success",
               "thp_migration_fail", "thp_migration_split", "compact_migrate_scanned",
               "compact_free_scanned", "compact_isolated", "compact_stall", "compact_fail",
               "compact_success", "compact_daemon_wake", "compact_daemon_migrate_scanned",
               "compact_daemon_free_scanned", "htlb_buddy_alloc_success", "htlb_buddy_alloc_fail",
               "unevictable_pgs_culled", "unevictable_pgs_scanned", "unevictable_pgs_rescued",
               "unevictable_pgs_mlocked", "unevictable_pgs_munlocked", "unevictable_pgs_cleared",
               "unevictable_pgs_stranded", "thp_fault_alloc", "thp_fault_fallback",
               "thp_fault_fallback_charge", "thp_collapse_alloc", "thp_collapse_alloc_failed",
               "thp_file_alloc", "thp_file_fallback", "thp_file_fallback_charge", "thp_file_mapped",
               "thp_split_page", "thp_split_page_failed", "thp_deferred_split_page", "thp_split_pmd",
               "thp_scan_exceed_none_pte", "thp_scan_exceed_swap_pte", "thp_scan_exceed_share_pte",
               "thp_zero_page_alloc", "thp_zero_page_alloc_failed", "thp_swpout", "thp_swpout_fallback",
               "balloon_inflate", "balloon_deflate", "balloon_migrate", "swap_ra", "swap_ra_hit",
               "direct_map_level2_splits", "direct_map_level3_splits", "nr_unstable"]
DISKSTAT = ["reads", "merged", "sectors_read", "time_reading", "writes", "writes_merged",
            "sectors_written", "time_writing", "in_progress", "time_in_progress",
            "weighted_time_in_progress", "discards", "discards_merged", "sectors_discarded",
            "time_discarding", "flushes", "time_flushing"]
CPU_ITEMS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"]

PROFILES = {
    # tiny: every family with a few items, for golden files (~120 series);
    # small: more items (~330 series); realistic: ~1,400 series, ~110 KB like a real shim
    "tiny": dict(cpus=1, disks=["vda"], vmstat=4, meminfo=4, netdev=["eth0"], hv_netdev=["eth0"],
                 shim_rpc=2, agent_rpc=2, mounts=1, items=4),
    "small": dict(cpus=1, disks=["vda"], vmstat=12, meminfo=12, netdev=["eth0"], hv_netdev=["eth0"],
                  shim_rpc=3, agent_rpc=3, mounts=1),
    "realistic": dict(cpus=2, disks=["vda", "vdb"] + [f"ram{i}" for i in range(16)] + [f"loop{i}" for i in range(8)],
                      vmstat=len(VMSTAT_BASE), meminfo=len(MEMINFO), netdev=["eth0", "lo"],
                      hv_netdev=["eth0", "lo", "tap0_kata"], shim_rpc=len(SHIM_RPC),
                      agent_rpc=len(AGENT_RPC), mounts=3),
}


ITEMS = [None]  # per-body cap on item lists (profile "items"), None = all
LIVE = [False]  # sandbox "live": counters that move between requests (demo, --tui test)


def cut(items):
    return items if ITEMS[0] is None else items[:ITEMS[0]]


def go_float(v):
    """Go strconv.FormatFloat(v, 'g', -1, 64): shortest digits, e-notation below 1e-4 and from 1e6 up."""
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "0"
    d = decimal.Decimal(repr(float(v)))
    sign, digits, exp = d.normalize().as_tuple()
    ds = "".join(map(str, digits))
    e10 = len(ds) + exp - 1  # exponent of the first digit
    s = "-" if sign else ""
    if e10 < -4 or e10 >= 6:  # Go: exp < -4 || exp >= eprec, eprec = 6 for the shortest form
        m = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{s}{m}e{'+' if e10 >= 0 else '-'}{abs(e10):02d}"
    if exp >= 0:
        return s + ds + "0" * exp
    point = len(ds) + exp
    if point > 0:
        return s + ds[:point] + "." + ds[point:]
    return s + "0." + "0" * (-point) + ds


def rs_float(v):
    if float(v).is_integer() and abs(v) < 1e17:
        return str(int(v))
    return repr(float(v))


class Body:
    def __init__(self, fmt):
        self.lines = []
        self.fmt = fmt

    def family(self, name, typ, help_text):
        self.lines.append([f"# HELP {name} {help_text}", f"# TYPE {name} {typ}"])

    def sample(self, name, labels, value):
        lab = ""
        if labels:
            lab = "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels) + "}"
        self.lines[-1].append(f"{name}{lab} {value if isinstance(value, str) else self.fmt(value)}")

    def text(self):
        return "".join(line + "\n" for fam in self.lines for line in fam)


def esc(v):
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def procfam(b, rng, prefix, what, kb, io_items):
    b.family(f"{prefix}_fds", "gauge", f"Open FDs for {what}." if prefix != "kata_shim" else "Kata containerd shim v2 open FDs.")
    b.sample(f"{prefix}_fds", None, rng.randint(20, 120))
    b.family(f"{prefix}_io_stat", "gauge", "Process IO statistics." if prefix != "kata_shim" else "Kata containerd shim v2 process IO statistics.")
    for it in cut(sorted(io_items)):
        b.sample(f"{prefix}_io_stat", [("item", it)], rng.randint(0, 10**9))
    b.family(f"{prefix}_proc_stat", "gauge", f"{what.capitalize()} process statistics." if prefix != "kata_shim" else "Kata containerd shim v2 process statistics.")
    for it in cut(sorted(PROC_STAT)):
        b.sample(f"{prefix}_proc_stat", [("item", it)], rng.randint(0, 5000))
    b.family(f"{prefix}_proc_status", "gauge", f"{what.capitalize()} process status." if prefix != "kata_shim" else "Kata containerd shim v2 process status.")
    for it in cut(sorted(PROC_STATUS if not kb else [i for i in PROC_STATUS if i != "vmpmd"])):
        v = rng.randint(0, 4 * 10**9)
        b.sample(f"{prefix}_proc_status", [("item", it)], v // 1024 if kb else v)
    b.family(f"{prefix}_threads", "gauge", f"{what.capitalize()} process threads." if prefix != "kata_shim" else "Kata containerd shim v2 process threads.")
    b.sample(f"{prefix}_threads", None, rng.randint(1, 40))


def histogram(b, rng, name, actions):
    b.family(name, "histogram", "RPC latency distributions.")
    for a in sorted(actions):
        cum = 0
        counts = []
        for _ in BUCKETS:
            cum += rng.randint(0, 3)
            counts.append(cum)
        total = cum + rng.randint(0, 2)
        for le, c in zip(BUCKETS, counts):
            b.sample(f"{name}_bucket", [("action", a), ("le", str(le))], c)
        b.sample(f"{name}_bucket", [("action", a), ("le", "+Inf")], total)
        b.sample(f"{name}_sum", [("action", a)], round(rng.uniform(0.5, 40.0) * max(total, 1), 3))
        b.sample(f"{name}_count", [("action", a)], total)


def go_runtime_part(b, rng, prof):
    b.family("go_gc_duration_seconds", "summary", "A summary of the pause duration of garbage collection cycles.")
    qs = sorted(rng.uniform(1e-5, 2e-4) for _ in range(5))
    for q, v in zip(["0", "0.25", "0.5", "0.75", "1"], qs):
        b.sample("go_gc_duration_seconds", [("quantile", q)], round(v, 8))
    b.sample("go_gc_duration_seconds_sum", None, round(sum(qs) * 10, 8))
    b.sample("go_gc_duration_seconds_count", None, rng.randint(10, 500))
    b.family("go_goroutines", "gauge", "Number of goroutines that currently exist.")
    b.sample("go_goroutines", None, rng.randint(20, 60))
    b.family("go_info", "gauge", "Information about the Go environment.")
    b.sample("go_info", [("version", "go1.24.11")], 1)
    b.family("go_memstats_alloc_bytes", "gauge", "Number of bytes allocated and still in use.")
    b.sample("go_memstats_alloc_bytes", None, rng.randint(2 * 10**6, 9 * 10**6))
    b.family("go_threads", "gauge", "Number of OS threads created.")
    b.sample("go_threads", None, rng.randint(8, 20))


def go_body(rng, prof, hostile=False):
    b = Body(go_float)
    go_runtime_part(b, rng, prof)
    procfam(b, rng, "kata_hypervisor", "hypervisor", False, IO_GO)
    b.family("kata_hypervisor_netdev", "gauge", "Net devices statistics.")
    for ifc in prof["hv_netdev"]:
        for it in cut(sorted(NETDEV)):
            b.sample("kata_hypervisor_netdev", [("interface", ifc), ("item", it)], rng.randint(0, 10**7))
    # kata_hypervisor_* sorted: fds io_stat netdev proc_stat proc_status threads -> reorder netdev
    hv = b.lines[-7:]
    b.lines[-7:] = [hv[0], hv[1], hv[6], hv[2], hv[3], hv[4], hv[5]]
    histogram(b, rng, "kata_shim_agent_rpc_durations_histogram_milliseconds", AGENT_RPC[:prof["agent_rpc"]])
    procfam(b, rng, "kata_shim", "shim", False, IO_GO)
    b.family("kata_shim_pod_overhead_cpu", "gauge", "Kata Pod overhead for CPU resources(percent).")
    b.sample("kata_shim_pod_overhead_cpu", None, round(rng.uniform(0, 5), 6))
    b.family("kata_shim_pod_overhead_memory_in_bytes", "gauge", "Kata Pod overhead for memory resources(bytes).")
    b.sample("kata_shim_pod_overhead_memory_in_bytes", None, rng.randint(5 * 10**7, 2 * 10**8))
    histogram(b, rng, "kata_shim_rpc_durations_histogram_milliseconds", SHIM_RPC[:prof["shim_rpc"]])
    # kata_shim_* in name order: fds io_stat pod_overhead_cpu pod_overhead_memory proc_stat proc_status rpc threads
    sh = b.lines[-8:]
    b.lines[-8:] = [sh[0], sh[1], sh[5], sh[6], sh[2], sh[3], sh[7], sh[4]]
    procfam(b, rng, "kata_virtiofsd", "virtiofsd", False, IO_GO)
    b.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.")
    b.sample("process_cpu_seconds_total", None, round(rng.uniform(0.1, 50), 2))
    b.family("process_open_fds", "gauge", "Number of open file descriptors.")
    b.sample("process_open_fds", None, rng.randint(10, 60))
    b.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
    b.sample("process_resident_memory_bytes", None, rng.randint(2 * 10**7, 6 * 10**7))
    agent_part(b, rng, prof, hostile)
    return b


def agent_part(b, rng, prof, hostile):
    procfam_agent(b, rng)
    b.family("kata_guest_cpu_time", "gauge", "Guest CPU statistics.")
    for cpu in [str(i) for i in range(prof["cpus"])] + ["total"]:
        for it in cut(sorted(CPU_ITEMS)):
            v = rng.randint(0, 10**7)
            if cpu == "total" and it == "user" and LIVE[0]:
                v = "@CPU_USER_MS@"  # filled in per request: the guest burns CPU over time
            b.sample("kata_guest_cpu_time", [("cpu", cpu), ("item", it)], v)
    b.family("kata_guest_diskstat", "gauge", "Disks statistics in system.")
    for d in sorted(prof["disks"]):
        for it in cut(sorted(DISKSTAT)):
            zero = d.startswith(("ram", "loop"))
            b.sample("kata_guest_diskstat", [("disk", d), ("item", it)], 0 if zero else rng.randint(0, 10**6))
    b.family("kata_guest_filesystem_bytes", "gauge", "Guest filesystem space usage in bytes.")
    mounts = [f"/run/kata-containers/sandbox/storage/{rng.getrandbits(32):08x}" for _ in range(prof["mounts"])]
    if hostile:
        mounts.append('/run/x"} 1\nkata_injected_total 666\n# \\ back\\slash')
    for m in sorted(mounts):
        for it in ["available", "total", "used"]:
            b.sample("kata_guest_filesystem_bytes", [("device", "vdb"), ("item", it), ("mount", m)], rng.randint(10**8, 10**10))
    b.family("kata_guest_load", "gauge", "Guest system load.")
    for it in ["load1", "load15", "load5"]:
        b.sample("kata_guest_load", [("item", it)], round(rng.uniform(0, 2), 2))
    b.family("kata_guest_meminfo", "gauge", "Statistics about memory usage in the system.")
    total = rng.randint(1, 8) * 256 * 1024 * 1024
    free = int(total * rng.uniform(0.1, 0.6))
    coherent = {"mem_total": total, "mem_free": free, "mem_available": free + int(total * rng.uniform(0, 0.2))}
    items = MEMINFO[:prof["meminfo"]]
    if "mem_available" not in items:  # the fields a dashboard (and --tui) needs
        items = items[:-1] + ["mem_available"]
    for it in sorted(items):
        b.sample("kata_guest_meminfo", [("item", it)], coherent.get(it, rng.randint(0, total // 4)))
    b.family("kata_guest_netdev_stat", "gauge", "Guest net devices statistics.")
    for ifc in sorted(prof["netdev"]):
        for it in cut(sorted(NETDEV)):
            b.sample("kata_guest_netdev_stat", [("interface", ifc), ("item", it)], rng.randint(0, 10**7))
    b.family("kata_guest_tasks", "gauge", "Guest system load.")
    b.sample("kata_guest_tasks", [("item", "cur")], rng.randint(50, 200))
    b.sample("kata_guest_tasks", [("item", "max")], 4194304)
    b.family("kata_guest_vm_stat", "gauge", "Guest virtual memory statistics.")
    for it in sorted(VMSTAT_BASE[:prof["vmstat"]]):
        b.sample("kata_guest_vm_stat", [("item", it)], rng.randint(0, 10**8))


def procfam_agent(b, rng):
    b.family("kata_agent_io_stat", "gauge", "Agent process IO statistics.")
    for it in cut(sorted(IO_RS)):
        b.sample("kata_agent_io_stat", [("item", it)], rng.randint(0, 10**8))
    b.family("kata_agent_proc_stat", "gauge", "Agent process statistics.")
    for it in cut(sorted(PROC_STAT)):
        b.sample("kata_agent_proc_stat", [("item", it)], rng.randint(0, 500))
    b.family("kata_agent_proc_status", "gauge", "Agent process status.")
    for it in cut(sorted(i for i in PROC_STATUS if i != "vmpmd")):
        b.sample("kata_agent_proc_status", [("item", it)], rng.randint(0, 10**5))
    b.family("kata_agent_scrape_count", "counter", "Metrics scrape count")
    b.sample("kata_agent_scrape_count", None, rng.randint(1, 10**4))
    b.family("kata_agent_threads", "gauge", "Agent process threads")
    b.sample("kata_agent_threads", None, rng.randint(5, 15))
    b.family("kata_agent_total_rss", "gauge", "Agent process total RSS size")
    b.sample("kata_agent_total_rss", None, rng.randint(10**6, 10**8))
    b.family("kata_agent_total_time", "gauge", "Agent process total time")
    b.sample("kata_agent_total_time", None, round(rng.uniform(0, 20), 2))
    b.family("kata_agent_total_vm", "gauge", "Agent process total VM size")
    b.sample("kata_agent_total_vm", None, rng.randint(10**7, 10**9))


def rs_body(rng, prof, hostile=False):
    """runtime-rs: format!("{agent}{hypervisor}{shim}"), no go_*/process_*, kB proc_status."""
    b = Body(rs_float)
    agent_part(b, rng, prof, hostile)
    b.family("kata_hypervisor_scrape_count", "counter", "Hypervisor metrics scrape count.")
    b.sample("kata_hypervisor_scrape_count", None, rng.randint(1, 10**4))
    b.family("kata_hypervisor_seccomp", "gauge", "Hypervisor metrics for the seccomp filtering.")
    b.sample("kata_hypervisor_seccomp", [("item", "num_faults")], 0)
    b.family("kata_hypervisor_signals", "gauge", "Hypervisor metrics related to signals.")
    b.sample("kata_hypervisor_signals", [("item", "sigbus")], 0)
    b.sample("kata_hypervisor_signals", [("item", "sigsegv")], 0)
    b.family("kata_hypervisor_vcpu", "gauge", "Hypervisor metrics specific to VCPUs' mode of functioning.")
    for cpu in range(prof["cpus"]):
        for it in ["exit_io_in", "exit_io_out", "exit_mmio_read", "exit_mmio_write", "failures", "filter_cpuid"]:
            b.sample("kata_hypervisor_vcpu", [("cpu_id", str(cpu)), ("item", it)], rng.randint(0, 10**5))
    procfam(b, rng, "kata_shim", "shim", True, IO_RS)
    return b


def make_body(sb, idx, seed):
    rng = random.Random(f"{seed}:{sb['id']}")
    prof = PROFILES[sb.get("profile", "tiny")]
    ITEMS[0] = prof.get("items")
    LIVE[0] = bool(sb.get("live"))
    fault = sb.get("fault", "none")
    if "body" in sb and sb["body"].startswith("file:"):
        with open(sb["body"][5:], "rb") as f:
            return f.read()
    b = (rs_body if sb["runtime"] == "rs" else go_body)(rng, prof, hostile=(fault == "hostile"))
    if fault == "hostile":
        b.family("kata_shim_hostile_info", "gauge", 'Label values with quotes ", backslashes \\\\ and\\nnewlines.')
        b.sample("kata_shim_hostile_info", [("value", 'a"b\\c\nd'), ("sandbox_id", "forged"),
                                             ("utf8", "pod-ü-✓")], 1)
    if fault == "nohelp":
        b.lines = [[line for line in fam if not line.startswith("# HELP")] for fam in b.lines]
    if fault == "reorder":
        random.Random(seed).shuffle(b.lines)
    if fault == "typeconflict":
        for fam in b.lines:
            if fam[1] == "# TYPE kata_shim_threads gauge":
                fam[1] = "# TYPE kata_shim_threads counter"
    if fault == "doubleid":  # what a guest can send: the shim's labels are the guest's
        b.family("kata_guest_forged_info", "gauge", "Labels named like the ones kata-monitor adds.")
        b.sample("kata_guest_forged_info", [("exported_sandbox_id", "x"), ("item", "both"), ("sandbox_id", "forged")], 1)
        b.sample("kata_guest_forged_info", [("item", "one"), ("sandbox_id", "forged")], 1)
    text = b.text().encode()
    if fault == "biglabel":
        n = int(sb.get("label_bytes", 4 << 20))
        text += (b"# HELP kata_guest_mount_info Guest mounts.\n# TYPE kata_guest_mount_info gauge\n"
                 b'kata_guest_mount_info{mount="/' + b"m" * (n - 1) + b'"} 1\n')
    if fault == "manyseries":  # built as bytes in one go: 300,000 lines in well under a second
        n = int(sb.get("series", 300000))
        text += (b"# HELP kata_guest_flood_stat Many series.\n# TYPE kata_guest_flood_stat gauge\n" +
                 b"".join(b'kata_guest_flood_stat{item="i%d"} %d\n' % (i, i) for i in range(n)))
    if fault == "garbage":
        text = b"\x00\x01GARBAGE{{{ not prometheus\n" + bytes(rng.getrandbits(8) for _ in range(512)) + b"\n"
    if fault == "badutf8":
        text = text + b'kata_shim_bad{item="\xff\xfe"} 1\n'
    return text


# ---------------------------------------------------------------- sandbox tree


def sandbox_defaults(sb, i):
    sb.setdefault("id", hashlib.sha256(f"sandbox-{i}".encode()).hexdigest())
    sb.setdefault("runtime", "go")
    sb.setdefault("socket", "fs")
    sb.setdefault("meta", "none")
    sb.setdefault("fault", "none")
    pod = sb.setdefault("pod", {})
    pod.setdefault("name", f"pod-{i}")
    pod.setdefault("namespace", "default" if i % 2 == 0 else "team-a")
    h = hashlib.md5(f"uid-{sb['id']}".encode()).hexdigest()
    pod.setdefault("uid", f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}")
    sb.setdefault("agent_url", f"vsock://{1000 + i}:1024")
    return sb


def mkdirs(path, mode=0o755):
    os.makedirs(path, mode=mode, exist_ok=True)


def write_json(path, obj):
    mkdirs(os.path.dirname(path))
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def containerd_annotations(sb):
    p = sb["pod"]
    return {"io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": sb["id"],
            "io.kubernetes.cri.sandbox-name": p["name"], "io.kubernetes.cri.sandbox-namespace": p["namespace"],
            "io.kubernetes.cri.sandbox-uid": p["uid"],
            "io.kubernetes.cri.sandbox-log-directory": f"/var/log/pods/{p['namespace']}_{p['name']}_{p['uid']}"}


def crio_annotations(sb):
    p = sb["pod"]
    return {"io.kubernetes.cri-o.ContainerType": "sandbox", "io.kubernetes.cri-o.SandboxID": sb["id"],
            "io.kubernetes.cri-o.KubeName": p["name"], "io.kubernetes.cri-o.Namespace": p["namespace"],
            "io.kubernetes.cri-o.SandboxName": f"k8s_{p['name']}_{p['namespace']}_{p['uid']}_0",
            "io.kubernetes.cri-o.Metadata": json.dumps({"name": p["name"], "uid": p["uid"],
                                                        "namespace": p["namespace"], "attempt": 0}),
            "io.kubernetes.cri-o.Labels": json.dumps({"io.kubernetes.pod.name": p["name"],
                                                      "io.kubernetes.pod.namespace": p["namespace"],
                                                      "io.kubernetes.pod.uid": p["uid"]})}


def bind_unix(path_or_name, abstract=False, listen=True):
    """Bind a unix socket; long paths go through /proc/self/fd/<dirfd> (sun_path is 108 bytes)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if abstract:
        s.bind("\0" + path_or_name)
    elif len(path_or_name.encode()) < 100:
        s.bind(path_or_name)
    else:
        dfd = os.open(os.path.dirname(path_or_name), os.O_RDONLY | os.O_DIRECTORY)
        try:
            s.bind(f"/proc/self/fd/{dfd}/{os.path.basename(path_or_name)}")
        finally:
            os.close(dfd)
    if listen:
        s.listen(128)
        s.setblocking(False)
    return s


def build_tree(root, sandboxes, bind=True):
    """Create directories and metadata files; return [(sb, listening socket or None)].
    Without bind, no shim socket is created (another server will serve them)."""
    out = []
    for sb in sandboxes:
        if sb["runtime"] == "rs":
            d = os.path.join(root, "run/kata", sb["id"])
            mkdirs(d, 0o700)
            write_json(os.path.join(d, "state.json"), {"sandbox_type": "VirtContainer", "resource": {},
                                                       "hypervisor": {"hypervisor_type": sb.get("hypervisor", "dragonball")}})
            hv = sb.get("hypervisor", "dragonball")
            if hv in ("qemu", "firecracker"):
                sb["_hvsock"] = bind_unix(os.path.join(d, "qmp.sock" if hv == "qemu" else "fc.sock"), listen=False)
        else:
            d = os.path.join(root, "run/vc/sbs", sb["id"])
            mkdirs(d, 0o700)
            ann = crio_annotations(sb) if sb.get("engine") == "crio" else containerd_annotations(sb)
            persist = {"PersistVersion": 2, "State": {"State": "running"},
                       "SandboxCgroupPath": f"/kubepods/besteffort/pod{sb['pod']['uid']}/kata_{sb['id']}",
                       "Config": {"HypervisorType": "qemu",
                                  "ContainerConfigs": [{"ID": sb["id"], "RootFs": "",
                                                        "Annotations": ann if sb["meta"] == "persist" else {}}]}}
            write_json(os.path.join(d, "persist.json"), persist)
        if sb["meta"] == "containerd":
            write_json(os.path.join(root, "run/containerd/io.containerd.runtime.v2.task/k8s.io", sb["id"], "config.json"),
                       {"ociVersion": "1.1.0", "annotations": containerd_annotations(sb)})
        elif sb["meta"] == "crio":
            write_json(os.path.join(root, "run/containers/storage/overlay-containers", sb["id"], "userdata/config.json"),
                       {"ociVersion": "1.0.2", "annotations": crio_annotations(sb)})
        sock = None
        sb["_dir"] = d
        if not bind:
            pass
        elif sb["socket"] == "fs":
            sock = bind_unix(os.path.join(d, "shim-monitor.sock"))
        elif sb["socket"] == "dead":
            sb["_dead"] = bind_unix(os.path.join(d, "shim-monitor.sock"), listen=False)
        elif sb["socket"] == "abstract":
            sock = bind_unix(f"/run/vc/{sb['id']}/shim-monitor", abstract=True)
        out.append((sb, sock))
    return out


# ---------------------------------------------------------------- shim HTTP server


async def read_request(reader):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = await reader.read(4096)
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    line = data.split(b"\r\n", 1)[0].decode("latin-1").split()
    return line if len(line) == 3 else None


START = time.monotonic()


def shim_handler(sb, body):
    fault = sb["fault"]
    live_base = int(hashlib.md5(sb["id"].encode()).hexdigest()[:6], 16)
    live_rate = 200 + live_base % 600  # guest CPU ms per second: 20% to 80% of one vCPU

    async def handle(reader, writer):
        try:
            req = await read_request(reader)
            if req is None:
                return
            method, path, version = req
            if fault == "reset":
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if fault == "slow":
                await asyncio.sleep(float(sb.get("delay", 10)))
            status, payload, ctype = "200 OK", body, "text/plain; version=0.0.4; charset=utf-8"
            if b"@CPU_USER_MS@" in payload:
                ms = live_base + int((time.monotonic() - START) * live_rate)
                payload = payload.replace(b"@CPU_USER_MS@", str(ms).encode())
            if path == "/agent-url":
                payload, ctype = sb["agent_url"].encode(), "text/plain; charset=utf-8"
            elif path != "/metrics" or method != "GET" or fault == "http404":
                status, payload, ctype = "404 Not Found", b"404 URL NOT FOUND", "text/plain"
            elif fault == "huge":
                payload = None
            head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nConnection: close\r\n"
            chunked = (sb["runtime"] == "go" or fault == "chunked") and version == "HTTP/1.1" and payload is not None
            if payload is None:  # huge: a valid exposition, bigger than any sane cap
                size = int(sb.get("huge_bytes", 24 << 20))
                writer.write((head + f"Content-Length: {size}\r\n\r\n").encode())
                line = b"kata_guest_vm_stat{item=\"nr_free_pages\"} 1\n"
                sent = 0
                while sent < size:
                    n = min(len(line) * 4096, size - sent)
                    writer.write((line * 4096)[:n])
                    sent += n
                    await writer.drain()
            elif fault == "truncated":
                writer.write((head + f"Content-Length: {len(payload) + 1000}\r\n\r\n").encode() + payload[:len(payload) // 2])
            elif chunked:
                writer.write((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
                step = 7 if fault == "chunked" else 4096
                parts = []
                for i in range(0, len(payload), step):
                    c = payload[i:i + step]
                    parts.append(b"%x\r\n%s\r\n" % (len(c), c))
                parts.append(b"0\r\n\r\n")
                writer.write(b"".join(parts))
            else:
                writer.write((head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass
    return handle


# ---------------------------------------------------------------- fake CRI (gRPC over h2c)


def pb_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_field(num, wire, payload):
    key = pb_varint((num << 3) | wire)
    if wire == 0:
        return key + pb_varint(payload)
    return key + pb_varint(len(payload)) + payload


def pb_str(num, s):
    return pb_field(num, 2, s.encode())


def pod_sandbox(sb, handler):
    p = sb["pod"]
    meta = pb_str(1, p["name"]) + pb_str(2, p["uid"]) + pb_str(3, p["namespace"]) + pb_field(4, 0, 0)
    label = pb_field(5, 2, pb_str(1, "app") + pb_str(2, p["name"]))
    return (pb_str(1, sb["id"]) + pb_field(2, 2, meta) + pb_field(3, 0, 0) +
            pb_field(4, 0, 1763712151000000000) + label + pb_str(7, handler))


def h2_frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(name, value):
    """Literal header field without indexing, new name (RFC 7541 6.2.2), no Huffman."""
    def s(x):
        x = x.encode()
        assert len(x) < 127
        return bytes([len(x)]) + x
    return b"\x00" + s(name) + s(value)


def cri_handler(cfg, sandboxes):
    fault = cfg.get("fault", "none")

    def response():
        items = b"".join(pb_field(1, 2, pod_sandbox(sb, "kata")) for sb in sandboxes if sb["meta"] == "cri")
        # a runc pod the node also runs: no sandbox directory, must be ignored
        runc = {"id": "f" * 64, "pod": {"name": "runc-pod", "namespace": "kube-system", "uid": "0" * 8 + "-runc"}}
        items += pb_field(1, 2, pod_sandbox(runc, "runc"))
        if fault == "garbage":
            items = b"\x0a\xff\xff\xff\xff\x0f"
        return b"\x00" + struct.pack(">I", len(items)) + items

    async def handle(reader, writer):
        try:
            pre = await reader.readexactly(24)
            if pre != b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n":
                return
            writer.write(h2_frame(4, 0, 0))
            streams = {}
            while True:
                hdr = await reader.readexactly(9)
                length = int.from_bytes(hdr[:3], "big")
                ftype, flags = hdr[3], hdr[4]
                stream = int.from_bytes(hdr[5:9], "big") & 0x7FFFFFFF
                payload = await reader.readexactly(length) if length else b""
                if ftype == 4 and not flags & 1:
                    writer.write(h2_frame(4, 1, 0))
                elif ftype == 6 and not flags & 1:
                    writer.write(h2_frame(6, 1, 0, payload))
                elif ftype == 7:
                    return
                elif ftype in (0, 1):
                    streams.setdefault(stream, b"")
                    if ftype == 0:
                        streams[stream] += payload
                    if flags & 1:  # END_STREAM: answer
                        if fault == "slow":
                            await asyncio.sleep(float(cfg.get("delay", 10)))
                        if fault == "unimplemented":
                            block = b"\x88" + hpack_literal("content-type", "application/grpc") + \
                                hpack_literal("grpc-status", "12") + hpack_literal("grpc-message", "unknown service")
                            writer.write(h2_frame(1, 0x5, stream, block))
                        else:
                            block = b"\x88" + hpack_literal("content-type", "application/grpc")
                            writer.write(h2_frame(1, 0x4, stream, block))
                            msg = response()
                            for i in range(0, len(msg), 16384):
                                writer.write(h2_frame(0, 0, stream, msg[i:i + 16384]))
                            writer.write(h2_frame(1, 0x5, stream, hpack_literal("grpc-status", "0")))
                        await writer.drain()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass
    return handle


# ---------------------------------------------------------------- main


async def serve(args, spec):
    sandboxes = [sandbox_defaults(sb, i) for i, sb in enumerate(spec.get("sandboxes", []))]
    root = os.path.abspath(args.root)
    mkdirs(root)
    # the roots exist even when empty, as on a node with Kata installed
    mkdirs(os.path.join(root, "run/vc/sbs"))
    mkdirs(os.path.join(root, "run/kata"))
    bodies = {}
    variants = args.variants
    for i, sb in enumerate(sandboxes):
        key = (sb["runtime"], sb.get("profile", "tiny"), sb["fault"], sb.get("body"), i % variants if variants else sb["id"])
        if key not in bodies:
            bodies[key] = make_body(sb, i, args.seed)
        sb["_body"] = bodies[key]
    if args.manifest:
        # only the tree, the bodies and a manifest for tests/tools/kata-shim-bench
        bdir = os.path.join(root, "bodies")
        mkdirs(bdir)
        with open(args.manifest, "w") as man:
            for sb, _ in build_tree(root, sandboxes, bind=False):
                bf = os.path.join(bdir, sb["id"] + ".prom")
                with open(bf, "wb") as f:
                    f.write(sb["_body"])
                man.write(f"{os.path.join(sb['_dir'], 'shim-monitor.sock')}\t{bf}\n")
        print(f"READY {root}", flush=True)
        return
    servers = []
    for sb, sock in build_tree(root, sandboxes):
        if sock is not None:
            servers.append(await asyncio.start_unix_server(shim_handler(sb, sb["_body"]), sock=sock))
    cri = spec.get("cri")
    if cri:
        path = cri.get("socket", "/run/containerd/containerd.sock")
        path = os.path.join(root, path.lstrip("/"))
        mkdirs(os.path.dirname(path))
        servers.append(await asyncio.start_unix_server(cri_handler(cri, sandboxes), sock=bind_unix(path)))
    print(f"READY {root}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.max_seconds)
    except asyncio.TimeoutError:
        pass
    for s in servers:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True, help="directory standing for / (the tool's --sysroot)")
    ap.add_argument("--spec", help="JSON scenario file")
    ap.add_argument("--generate", type=int, help="N healthy sandboxes (Go and rs mixed), for benchmarks")
    ap.add_argument("--profile", default="realistic", choices=sorted(PROFILES), help="with --generate")
    ap.add_argument("--variants", type=int, default=0, help="distinct bodies to generate (0 = one per sandbox)")
    ap.add_argument("--seed", default="katapulse")
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--manifest", help="write the tree, body files and a 'socket<TAB>body' manifest, serve nothing, exit")
    args = ap.parse_args()
    if args.spec:
        with open(args.spec) as f:
            spec = json.load(f)
    elif args.generate is not None:
        spec = {"sandboxes": [{"runtime": "rs" if i % 5 == 4 else "go", "profile": args.profile,
                               "meta": "persist" if i % 5 != 4 else "containerd"} for i in range(args.generate)]}
    else:
        ap.error("--spec or --generate is required")
    asyncio.run(serve(args, spec))


if __name__ == "__main__":
    main()
