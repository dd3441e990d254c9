#!/usr/bin/env bash
# tierlab fidelity lab: a QEMU guest with a CPU-less slower NUMA node, built
# from Debian packages only, running upstream memory tiering on a deterministic
# workload; its trace and counters become fixtures under traces/fidelity/.
#
#   lab.sh build                 debootstrap a bookworm guest (kernel from Debian), make its disk
#   lab.sh run NAME [K=V ...]    boot it, run the tiering job, write $LAB_OUT/NAME/
#   lab.sh smoke                 boot it and check the two memory tiers (about 30 s)
#
# Job parameters (K=V): HOT_MB COLD_MB SECONDS SHIFT_AT PASS_MS NUMA_BALANCING BUFFER_KB
# Guest shape: DRAM_MB (node 0, with the CPUs), NVDIMM_MB (node 1 via
# device-dax + kmem), CPUS.
#
# Needs root (debootstrap), qemu-system-x86, debootstrap, e2fsprogs, gcc, zstd;
# `apt-get install` them if missing. KVM is not used (TCG, -accel tcg,thread=multi).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LAB=${LAB_DIR:-/var/tmp/tierlab-lab}
LAB_OUT=${LAB_OUT:-$LAB/out}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
DRAM_MB=${DRAM_MB:-768}
NVDIMM_MB=${NVDIMM_MB:-1024}
CPUS=${CPUS:-2}
die() { echo "lab.sh: $*" >&2; exit 1; }
need() {
  local missing=()
  for c in "$@"; do command -v "${c%%:*}" >/dev/null || missing+=("${c##*:}"); done
  if ((${#missing[@]})); then
    echo "lab.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

build() {
  [ "$(id -u)" = 0 ] || die "build needs root (debootstrap)"
  need qemu-system-x86_64:qemu-system-x86 debootstrap:debootstrap mkfs.ext4:e2fsprogs gcc:gcc
  mkdir -p "$LAB"
  if [ ! -e "$LAB/rootfs/.done" ]; then
    rm -rf "$LAB/rootfs"
    # The Debian kernel and its initramfs (virtio, ext4), the NVDIMM tools.
    debootstrap --variant=minbase --include=linux-image-amd64,daxctl,ndctl,kmod,procps \
      "$SUITE" "$LAB/rootfs" "$MIRROR" > "$LAB/debootstrap.log" 2>&1 || die "debootstrap failed: $LAB/debootstrap.log"
    touch "$LAB/rootfs/.done"
  fi
  install -m 755 "$HERE/guest/init" "$LAB/rootfs/sbin/tierlab-init"
  rm -f "$LAB/root.img"
  mkfs.ext4 -q -F -L tierlab -d "$LAB/rootfs" "$LAB/root.img" 1200M
  cp "$(ls "$LAB"/rootfs/boot/vmlinuz-* | tail -1)" "$LAB/vmlinuz"
  cp "$(ls "$LAB"/rootfs/boot/initrd.img-* | tail -1)" "$LAB/initrd.img"
  gcc -O2 -static -Wall -Wextra -o "$LAB/tierwl" "$HERE/tierwl.c"
  echo "lab.sh: guest ready in $LAB (kernel $(basename "$(ls "$LAB"/rootfs/boot/vmlinuz-* | tail -1)"))"
}

# boot JOBDIR OUTDIR: one guest run; the job's tar in, results out.
boot() {
  local job=$1 out=$2
  [ -e "$LAB/root.img" ] || die "no guest: run 'lab.sh build' first"
  mkdir -p "$out"
  tar cf "$out/.job.tar" -C "$job" .
  truncate -s 0 "$out/.out.tar" "$out/.trace.raw"
  truncate -s 64M "$out/.out.tar"
  truncate -s "${TRACE_DISK_MB:-2048}M" "$out/.trace.raw"
  local t0=$SECONDS
  # (-icount, which would make guest time independent of host load, hangs this kernel's
  # SMP bring-up under QEMU 7.2: tried with shift=0 and 2. Captures run on a quiet host instead.)
  timeout "${BOOT_TIMEOUT:-900}" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "$CPUS" \
    -machine pc,nvdimm=on -m "${DRAM_MB}M,slots=2,maxmem=$((DRAM_MB + NVDIMM_MB + 1024))M" \
    -object memory-backend-ram,id=ram0,size="${DRAM_MB}M" \
    -numa node,nodeid=0,cpus=0-$((CPUS - 1)),memdev=ram0 \
    -numa node,nodeid=1 \
    -object memory-backend-ram,id=nv0,size="${NVDIMM_MB}M" \
    -device nvdimm,id=nvdimm0,memdev=nv0,node=1 \
    -kernel "$LAB/vmlinuz" -initrd "$LAB/initrd.img" \
    -append "console=ttyS0 root=/dev/vda ro init=/sbin/tierlab-init transparent_hugepage=never panic=-1 quiet" \
    -drive file="$LAB/root.img",format=raw,if=virtio,readonly=on \
    -drive file="$out/.job.tar",format=raw,if=virtio \
    -drive file="$out/.out.tar",format=raw,if=virtio \
    -drive file="$out/.trace.raw",format=raw,if=virtio \
    -nographic -no-reboot -serial mon:stdio > "$out/console.log" 2>&1 || die "qemu failed or timed out: $out/console.log"
  echo "lab.sh: guest ran $((SECONDS - t0)) s" >&2
  tar xf "$out/.out.tar" -C "$out" || die "no results from the guest: $out/console.log"
  # The trace: the text without dd's NUL padding, and without a last line cut short
  # when the reader was stopped (it has no newline).
  tr -d '\000' < "$out/.trace.raw" | sed '$ { /^$/d }' > "$out/trace.tracefs.txt"
  if [ -s "$out/trace.tracefs.txt" ] && [ "$(tail -c 1 "$out/trace.tracefs.txt" | od -An -c | tr -d ' ')" != '\n' ]; then
    echo "lab.sh: dropping the trace's last line (cut short): $(tail -n 1 "$out/trace.tracefs.txt" | cut -c1-80)" >&2
    sed -i '$ d' "$out/trace.tracefs.txt"
  fi
  rm -f "$out/.job.tar" "$out/.out.tar" "$out/.trace.raw"
}

run() {
  local name=${1:?name}; shift
  local job; job=$(mktemp -d)
  cp "$HERE/guest/job-tiering.sh" "$job/job.sh"
  cp "$LAB/tierwl" "$job/tierwl"
  : > "$job/params.env"
  for kv in "$@"; do echo "$kv" >> "$job/params.env"; done
  grep -q '^HOT_MB=' "$job/params.env" || echo HOT_MB=128 >> "$job/params.env"
  grep -q '^COLD_MB=' "$job/params.env" || echo COLD_MB=640 >> "$job/params.env"
  grep -q '^SECONDS=' "$job/params.env" || echo SECONDS=60 >> "$job/params.env"
  local out=$LAB_OUT/$name
  rm -rf "$out"
  boot "$job" "$out"
  cp "$job/params.env" "$out/params.env"
  { echo "DRAM_MB=$DRAM_MB"; echo "NVDIMM_MB=$NVDIMM_MB"; echo "CPUS=$CPUS"; } >> "$out/params.env"
  rm -rf "$job"
  tail -5 "$out/job.log"
  echo "lab.sh: results in $out ($(wc -l < "$out/trace.tracefs.txt") trace lines)"
}

smoke() {
  local job; job=$(mktemp -d)
  cat > "$job/job.sh" <<'JOB'
LAB=$1 OUT=$2
for m in nfit nd_pmem dax_pmem device_dax kmem; do modprobe $m; done
sleep 1
ndctl create-namespace -f -e namespace0.0 --mode=devdax >/dev/null 2>&1
[ -w /sys/devices/system/memory/auto_online_blocks ] && echo offline > /sys/devices/system/memory/auto_online_blocks
daxctl reconfigure-device --mode=system-ram dax0.0 >/dev/null 2>&1
for d in /sys/devices/virtual/memory_tiering/memory_tier*; do echo "$(basename "$d") $(cat "$d/nodelist")"; done > "$OUT/memory_tiers"
cat /sys/devices/system/node/has_cpu > "$OUT/has_cpu"
JOB
  local out; out=$(mktemp -d)
  TRACE_DISK_MB=1 boot "$job" "$out"
  cat "$out/memory_tiers"
  local tiers; tiers=$(wc -l < "$out/memory_tiers")
  [ "$tiers" -ge 2 ] || die "smoke: expected two memory tiers, got: $(cat "$out/memory_tiers")"
  echo "lab.sh: smoke ok: $tiers memory tiers, CPUs on node(s) $(cat "$out/has_cpu")"
  rm -rf "$job" "$out"
}

case ${1:-} in
  build) build ;;
  run) shift; run "$@" ;;
  smoke) smoke ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
