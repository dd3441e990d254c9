#!/usr/bin/env bash
# Capture a tiering fixture: run the lab (lab.sh) once and package its trace
# and counters under traces/fidelity/NAME/ with a manifest (fixture.json).
#
#   capture.sh NAME [K=V ...]     e.g. capture.sh tier-hot128 HOT_MB=128 COLD_MB=640 SECONDS=60 PASS_MS=200
#
# The guest is built on first use (lab.sh build, about 70 s). Run it on a quiet
# machine: the guest is emulated (TCG), so host load slows the guest's CPUs, and
# the NUMA scanner is paced by the workload's CPU time (kernel/sched/fair.c:
# task_tick_numa()), so a loaded host changes what the kernel does. The load
# average is recorded in the manifest, and the capture refuses to start above
# MAX_LOAD (default 1.0) unless FORCE=1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
name=${1:?usage: capture.sh NAME [K=V ...]}; shift
export LAB_DIR=${LAB_DIR:-/var/tmp/tierlab-lab}
load=$(cut -d' ' -f1 /proc/loadavg)
if [ "${FORCE:-0}" != 1 ] && awk -v l="$load" -v m="${MAX_LOAD:-1.0}" 'BEGIN{exit !(l > m)}'; then
  echo "capture.sh: load average $load > ${MAX_LOAD:-1.0}: the emulated guest would run slow and the kernel's scanner with it; wait, or FORCE=1" >&2
  exit 1
fi
[ -e "$LAB_DIR/root.img" ] || bash "$HERE/lab.sh" build
bash "$HERE/lab.sh" run "$name" "$@"
src=$LAB_DIR/out/$name
dst=$ROOT/traces/fidelity/$name
rm -rf "$dst"; mkdir -p "$dst"
zstd -q -19 -T0 "$src/trace.tracefs.txt" -o "$dst/trace.tracefs.txt.zst"
for f in params.env knobs uname cmdline memory_tiers has_cpu has_memory workload.pid workload.status workload.numa_maps \
         vmstat.before vmstat.after zoneinfo.before zoneinfo.after meminfo.node0.before meminfo.node0.after \
         meminfo.node1.before meminfo.node1.after trace.stats job.log daxctl.json; do
  [ -e "$src/$f" ] && cp "$src/$f" "$dst/$f"
done
lines=$(wc -l < "$src/trace.tracefs.txt")
sha=$(sha256sum "$dst/trace.tracefs.txt.zst" | cut -d' ' -f1)
delta() { echo $(( $(awk -v k="$1" '$1==k{print $2}' "$src/vmstat.after") - $(awk -v k="$1" '$1==k{print $2}' "$src/vmstat.before") )); }
cat > "$dst/fixture.json" <<JSON
{
  "name": "$name",
  "kind": "tiering",
  "captured": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "command": "scripts/fidelity/capture.sh $name $*",
  "kernel": "$(cat "$src/uname")",
  "memoryTiers": "$(tr '\n' ';' < "$src/memory_tiers")",
  "hostLoadAverage": $load,
  "trace": { "file": "trace.tracefs.txt.zst", "lines": $lines, "sha256": "$sha" },
  "vmstat": {
    "pgpromote_success": $(delta pgpromote_success),
    "pgpromote_candidate": $(delta pgpromote_candidate),
    "pgdemote_kswapd": $(delta pgdemote_kswapd),
    "pgdemote_direct": $(delta pgdemote_direct),
    "numa_hint_faults": $(delta numa_hint_faults),
    "numa_pte_updates": $(delta numa_pte_updates)
  }
}
JSON
echo "capture.sh: fixture in $dst ($(du -sh "$dst" | cut -f1))"
