#!/bin/sh
# Runs inside the fidelity-lab guest (see lab.sh): makes the emulated NVDIMM a
# CPU-less slower NUMA node the way a tiering system does (device-dax handed
# to the kernel by dax/kmem), turns upstream tiering on, and records the
# deterministic workload (tierwl) with tracefs, plus the kernel's counters
# before and after.
#   job-tiering.sh LABDIR OUTDIR; parameters in LABDIR/params.env
set -u
LAB=$1 OUT=$2
. "$LAB/params.env"
T=/sys/kernel/tracing
say() { echo "job: $*"; }
snap() { # snap NAME: the counters and the layout at this moment
  cat /proc/vmstat > "$OUT/vmstat.$1"
  cat /proc/zoneinfo > "$OUT/zoneinfo.$1"
  for n in /sys/devices/system/node/node[0-9]*; do
    cat "$n/meminfo" > "$OUT/meminfo.$(basename "$n").$1"
  done
}

say "kernel $(uname -r)"
uname -a > "$OUT/uname"
cat /proc/cmdline > "$OUT/cmdline"
# No udev here: load the NVDIMM stack by hand.
for m in nfit nd_pmem dax_pmem device_dax kmem; do modprobe $m || say "modprobe $m failed"; done
sleep 1
ndctl list -N > "$OUT/ndctl.before.json" 2>&1
# Label-less region: namespace0.0 is raw; give it a devdax personality.
ndctl create-namespace -f -e namespace0.0 --mode=devdax > "$OUT/ndctl.create.json" 2>&1 || { say "create-namespace failed"; cat "$OUT/ndctl.create.json"; exit 1; }
# The dax/kmem design: hand the device-dax memory to the page allocator as a NUMA node.
[ -w /sys/devices/system/memory/auto_online_blocks ] && echo offline > /sys/devices/system/memory/auto_online_blocks
daxctl reconfigure-device --mode=system-ram dax0.0 > "$OUT/daxctl.json" 2>&1 || { say "daxctl failed"; cat "$OUT/daxctl.json"; exit 1; }
for d in /sys/devices/virtual/memory_tiering/memory_tier*; do
  [ -e "$d/nodelist" ] && echo "$(basename "$d") $(cat "$d/nodelist")"
done > "$OUT/memory_tiers"
say "memory tiers: $(tr '\n' ';' < "$OUT/memory_tiers")"
cat /sys/devices/system/node/has_cpu > "$OUT/has_cpu"; cat /sys/devices/system/node/has_memory > "$OUT/has_memory"

# Upstream tiering.
echo 1 > /sys/kernel/mm/numa/demotion_enabled
echo "${NUMA_BALANCING:-2}" > /proc/sys/kernel/numa_balancing
echo never > /sys/kernel/mm/transparent_hugepage/enabled
{
  echo "numa_balancing $(cat /proc/sys/kernel/numa_balancing)"
  echo "demotion_enabled $(cat /sys/kernel/mm/numa/demotion_enabled)"
  echo "promote_rate_limit_MBps $(cat /proc/sys/kernel/numa_balancing_promote_rate_limit_MBps 2>/dev/null)"
  echo "min_free_kbytes $(cat /proc/sys/vm/min_free_kbytes)"
  echo "watermark_scale_factor $(cat /proc/sys/vm/watermark_scale_factor)"
  echo "thp $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
  for f in /sys/kernel/debug/sched/numa_balancing/*; do echo "$(basename "$f") $(cat "$f")"; done
} > "$OUT/knobs"
sync; echo 3 > /proc/sys/vm/drop_caches

# Tracing: the workload's faults and allocations, the kernel's migrations and kswapd.
echo 0 > $T/tracing_on
echo > $T/trace
echo "${BUFFER_KB:-8192}" > $T/buffer_size_kb
# mono: "local" and "global" stand still for thousands of events under TCG (seen in the lab)
echo mono > $T/trace_clock
for e in kmem/mm_page_alloc kmem/mm_page_free exceptions/page_fault_user \
         migrate/mm_migrate_pages migrate/mm_migrate_pages_start \
         vmscan/mm_vmscan_kswapd_wake vmscan/mm_vmscan_kswapd_sleep \
         vmscan/mm_vmscan_direct_reclaim_begin vmscan/mm_vmscan_direct_reclaim_end \
         sched/sched_process_fork sched/sched_process_exec sched/sched_process_exit; do
  echo 1 > "$T/events/$e/enable" || say "no event $e"
done
# The trace streams to a raw disk with O_DIRECT: no page cache, no memory of node 0 taken.
cat $T/trace_pipe | dd of=/dev/vdd bs=1M iflag=fullblock oflag=direct conv=sync status=none &
READER=$!
snap before
echo 1 > $T/tracing_on
say "workload: tierwl $HOT_MB $COLD_MB $SECONDS ${SHIFT_AT:--1} ${PASS_MS:-0}"
TIERWL_DONE=/tmp/tierwl.done "$LAB/tierwl" "$HOT_MB" "$COLD_MB" "$SECONDS" "${SHIFT_AT:--1}" "${PASS_MS:-0}" > "$OUT/tierwl.log" 2>&1 &
WL=$!
echo "$WL" > "$OUT/workload.pid"
# Its counters are read while it still holds its memory (the exit frees it all).
while [ ! -e /tmp/tierwl.done ] && kill -0 $WL 2>/dev/null; do sleep 0.2; done
snap after
grep -E "^(Name|VmRSS|RssAnon)" /proc/$WL/status > "$OUT/workload.status" 2>/dev/null
cat /proc/$WL/numa_maps > "$OUT/workload.numa_maps" 2>/dev/null
kill -CONT $WL 2>/dev/null
wait $WL; say "workload exit $?"
echo 0 > $T/tracing_on
cat $T/per_cpu/cpu*/stats > "$OUT/trace.stats"
sleep 2
kill $READER 2>/dev/null; pkill -f "cat $T/trace_pipe"; wait
say "done"
