#!/usr/bin/env bash
# Capture a page-cache reclaim fixture whose unaccounted charge is measured,
# not fitted: the sqlite "orders" workload (200k inserts, indexes, joins,
# UPDATE, DELETE, VACUUM; the workload of traces/sqlite_orders.perf-*) in a
# fresh cgroup v1 memory cgroup with a hard limit and no swap, recorded with
# perf (the original capture's events), while the cgroup's charge and its
# kernel-memory part are sampled every PERIOD seconds.
#
#   capture-reclaim.sh [NAME]     (default reclaim-sqlite-kmem; needs root)
#
# env: LIMIT (memory.limit_in_bytes, default 48M), PERIOD (default 0.1),
#      WORKDIR (the database's directory, on a disk file system: its page cache
#      is what is reclaimed; default /var/tmp/tierlab-reclaim), MMAP (perf ring
#      buffer per CPU, default 64M), SCOPE (task, the default: the workload's
#      tasks and their children, perf's inherited per-task events, where memcg
#      reclaim and its evictions happen; system: perf -a like the original
#      capture, which also records every other process on the host and, on a
#      busy host, gives a trace several times larger).
#
# Writes traces/fidelity/NAME/: trace.perf-script.txt.zst (`perf script`,
# zstd -19), workload.pid (the root of the workload tree: the shell that joins
# the cgroup and runs sqlite3), kmem-samples.tsv (one line per sample:
# epoch seconds, uptime seconds, memory.usage_in_bytes,
# memory.kmem.usage_in_bytes, and memory.stat's cache and rss), memory.stat and the cgroup's counters at the end,
# perf's messages, and fixture.json (kind "reclaim").
#
# "unaccounted" (the charge no tracepoint shows: slab, page tables...) is the
# median memory.kmem.usage_in_bytes over the samples taken while the cgroup was
# at its limit (usage within 1 MiB of it): that is when reclaim runs, and so
# when the kernel memory takes room from the page cache; the median, because
# single samples catch transient spikes (a VACUUM's dentries, a burst of page
# tables) that do not hold through a reclaim window. New fixtures have no bands:
# add them to fixture.json after looking at the numbers.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
name=${1:-reclaim-sqlite-kmem}
limit=${LIMIT:-48M}
period=${PERIOD:-0.1}
work=${WORKDIR:-/var/tmp/tierlab-reclaim}
mmap=${MMAP:-64M}
tracefs=/sys/kernel/tracing
[ -d "$tracefs/events" ] || tracefs=/sys/kernel/debug/tracing

die() { echo "capture-reclaim.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (perf, cgroup)"
for t in perf sqlite3 python3 zstd node; do command -v "$t" >/dev/null || die "needs $t"; done
rel=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
[ -n "$rel" ] || die "no cgroup v1 memory controller here"
[ "$(awk 'NR > 1' /proc/swaps | wc -l)" = 0 ] || echo "capture-reclaim.sh: warning: swap is on; the fixture assumes none" >&2

# The workload's input, generated once outside the capture (seeded: the same
# SQL as the original capture's).
mkdir -p "$work"
if [ ! -s "$work/load.sql" ] || [ ! -s "$work/query.sql" ]; then
  python3 - "$work/load.sql" <<'PY'
import random, sys
random.seed(42)
letters = "abcdefghijklmnopqrstuvwxyz "
with open(sys.argv[1], "w") as out:
    out.write("PRAGMA journal_mode=WAL;\nPRAGMA cache_size=-262144;\n")
    out.write("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, region INTEGER);\n")
    out.write("CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, product INTEGER, qty INTEGER, price REAL, note TEXT);\n")
    out.write("BEGIN;\n")
    for c in range(5000):
        out.write(f"INSERT INTO customers VALUES({c},'cust{c:05d}',{c%17});\n")
    for i in range(200000):
        note = "".join(random.choice(letters) for _ in range(random.randint(8, 64)))
        out.write(f"INSERT INTO orders VALUES({i},{random.randrange(5000)},{random.randrange(1000)},{random.randint(1,10)},{random.randrange(100000)/100},'{note}');\n")
    out.write("COMMIT;\n")
PY
  cat > "$work/query.sql" <<'SQL'
CREATE INDEX idx_orders_customer ON orders(customer);
CREATE INDEX idx_orders_product_price ON orders(product, price);
SELECT customer, count(*), round(sum(qty*price),2) AS revenue FROM orders GROUP BY customer ORDER BY revenue DESC LIMIT 5;
SELECT c.region, count(*), round(avg(o.price),2) FROM orders o JOIN customers c ON c.id=o.customer GROUP BY c.region;
SELECT count(*) FROM orders WHERE product BETWEEN 100 AND 200 AND price > 500;
SELECT id, note FROM orders ORDER BY note LIMIT 3;
UPDATE orders SET qty = qty + 1 WHERE customer % 7 = 0;
DELETE FROM orders WHERE id % 10 = 0;
SELECT count(DISTINCT product) FROM orders WHERE note LIKE '%xyz%';
CREATE INDEX idx_orders_note ON orders(note);
SELECT a.customer, count(*) FROM orders a JOIN orders b ON a.customer=b.customer AND a.product=b.product AND a.id<b.id GROUP BY a.customer ORDER BY 2 DESC LIMIT 3;
SELECT product, (SELECT max(price) FROM orders i WHERE i.product=o.product) FROM orders o GROUP BY product ORDER BY 2 DESC LIMIT 3;
CREATE TABLE summary AS SELECT customer, product, sum(qty) q, sum(qty*price) r FROM orders GROUP BY customer, product;
SELECT count(*), round(sum(r),2) FROM summary;
VACUUM;
PRAGMA integrity_check;
SQL
fi
rm -f "$work"/orders.db*

# The events of the original capture (group:* expanded to what this kernel has).
wanted="exceptions:page_fault_user kmem:mm_page_alloc kmem:mm_page_free kmem:rss_stat
filemap:mm_filemap_add_to_page_cache filemap:mm_filemap_delete_from_page_cache
pagemap:mm_lru_insertion pagemap:mm_lru_activate migrate:mm_migrate_pages
vmscan:* writeback:* compaction:* damon:damon_aggregated
sched:sched_process_fork sched:sched_process_exec sched:sched_process_exit"
events=$(for e in $wanted; do
  group=${e%%:*} event=${e#*:}
  if [ "$event" = '*' ]; then
    for d in "$tracefs/events/$group"/*/; do [ -f "$d/format" ] && echo "$group:$(basename "$d")"; done
  elif [ -d "$tracefs/events/$group/$event" ]; then echo "$e"
  else echo "capture-reclaim.sh: $e not on this kernel, skipped" >&2
  fi
done | paste -sd, -)

# perf.data, the samples and the runner live on tmpfs: the tracer's own files
# must not add page cache or writeback to the disk under test.
tmp=$(mktemp -d /dev/shm/tierlab-reclaim.XXXXXX)
cg=/sys/fs/cgroup/memory${rel%/}/tierlab_reclaim_$$
sampler=
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  [ -d "$cg" ] && { rmdir "$cg" 2>/dev/null || { sleep 1; rmdir "$cg" 2>/dev/null; } || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$cg"
echo "$limit" > "$cg/memory.limit_in_bytes"
limit_bytes=$(cat "$cg/memory.limit_in_bytes")

# The root of the workload tree: joins the cgroup, then runs sqlite3 twice.
cat > "$tmp/workload.sh" <<'SH'
#!/usr/bin/env bash
set -euo pipefail
cg=$1 work=$2 pidfile=$3
echo $$ > "$pidfile"
echo $$ > "$cg/cgroup.procs"
sqlite3 "$work/orders.db" < "$work/load.sql" > /dev/null
sqlite3 "$work/orders.db" < "$work/query.sql"
SH
chmod +x "$tmp/workload.sh"

# Sampler: bash builtins only (read, no cat), so it adds one `sleep` per sample
# to a system-wide trace and nothing to the cgroup.
(
  while :; do
    read -r usage < "$cg/memory.usage_in_bytes"
    read -r kmem < "$cg/memory.kmem.usage_in_bytes"
    read -r up _ < /proc/uptime
    cache=0 rss=0
    while read -r key value; do
      case $key in cache) cache=$value;; rss) rss=$value;; total_cache) break;; esac
    done < "$cg/memory.stat"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$EPOCHREALTIME" "$up" "$usage" "$kmem" "$cache" "$rss"
    sleep "$period"
  done
) > "$tmp/kmem-samples.tsv" &
sampler=$!

scope=(); [ "${SCOPE:-task}" = system ] && scope=(-a)
record=(perf record "${scope[@]}" -e "$events" -m "$mmap" --no-buildid --no-buildid-cache -o "$tmp/perf.data"
        -- "$tmp/workload.sh" "$cg" "$work" "$tmp/workload.pid")
echo "capture-reclaim.sh: sqlite in a $limit memory cgroup, perf scope ${SCOPE:-task}, sampling every ${period}s" >&2
t0=$EPOCHREALTIME
"${record[@]}" > "$tmp/workload.stdout" 2> "$tmp/perf-record.stderr"
t1=$EPOCHREALTIME
kill "$sampler"; wait "$sampler" 2>/dev/null || true; sampler=

max_usage=$(cat "$cg/memory.max_usage_in_bytes")
kmem_max_usage=$(cat "$cg/memory.kmem.max_usage_in_bytes")
failcnt=$(cat "$cg/memory.failcnt")
kmem_failcnt=$(cat "$cg/memory.kmem.failcnt")
cp "$cg/memory.stat" "$tmp/memory.stat"
rmdir "$cg" 2>/dev/null || { sleep 1; rmdir "$cg"; }

perf script -i "$tmp/perf.data" --show-lost-events > "$tmp/trace.perf-script.txt" 2> "$tmp/perf-script.stderr" || true
lost=$(grep -c PERF_RECORD_LOST "$tmp/trace.perf-script.txt" || true)

dst=$ROOT/traces/fidelity/$name
rm -rf "$dst"; mkdir -p "$dst"
zstd -q -19 -T0 "$tmp/trace.perf-script.txt" -o "$dst/trace.perf-script.txt.zst"
cp "$tmp/workload.pid" "$tmp/kmem-samples.tsv" "$tmp/memory.stat" "$tmp/perf-record.stderr" "$dst/"
cp "$tmp/workload.stdout" "$dst/workload.stdout"
printf 'memory.limit_in_bytes %s\nmemory.max_usage_in_bytes %s\nmemory.kmem.max_usage_in_bytes %s\nmemory.failcnt %s\nmemory.kmem.failcnt %s\n' \
  "$limit_bytes" "$max_usage" "$kmem_max_usage" "$failcnt" "$kmem_failcnt" > "$dst/memcg.counters"

# The fixture: the measured numbers, and "unaccounted" by the rule above
# (packages/fidelity/src/reclaim-fixtures.test.ts checks the same rule).
CAPTURE_CMD="scripts/fidelity/capture-reclaim.sh $name" LIMIT_TEXT="$limit" LIMIT_BYTES="$limit_bytes" \
MAX_USAGE="$max_usage" KMEM_MAX_USAGE="$kmem_max_usage" FAILCNT="$failcnt" KMEM_FAILCNT="$kmem_failcnt" \
WALL="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" LOST="$lost" KERNEL="$(uname -r)" \
PERIOD="$period" SCOPE="${SCOPE:-task}" PERF_VERSION="$(perf --version)" LINES="$(wc -l < "$tmp/trace.perf-script.txt")" \
node --input-type=module - "$dst" <<'JS'
import { readFileSync, writeFileSync } from 'node:fs';
const dst = process.argv[2];
const e = process.env;
const limit = Number(e.LIMIT_BYTES);
const samples = readFileSync(`${dst}/kmem-samples.tsv`, 'utf8').trim().split('\n').map((l) => l.split('\t').map(Number));
const atLimit = samples.filter((s) => s[2] >= limit - 2 ** 20).map((s) => s[3]).sort((a, b) => a - b);
if (atLimit.length === 0) throw new Error('no sample at the limit: the workload never reached it');
const median = atLimit.length % 2 ? atLimit[(atLimit.length - 1) / 2] : (atLimit[atLimit.length / 2 - 1] + atLimit[atLimit.length / 2]) / 2;
const kib = Math.round(median / 1024);
const fixture = {
  name: dst.split('/').pop(),
  kind: 'reclaim',
  description: `Page-cache reclaim in a memory cgroup, with the cgroup's kernel memory measured: sqlite (200k inserts, indexes, joins, VACUUM) in a ${e.LIMIT_TEXT} cgroup v1, no swap, classic active/inactive LRU; perf on the host, ${e.SCOPE === 'system' ? 'system-wide (-a)' : 'the workload tree only (per-task, inherited)'} (${e.CAPTURE_CMD}).`,
  scope: e.SCOPE,
  captured: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  command: e.CAPTURE_CMD,
  kernel: e.KERNEL,
  perf: e.PERF_VERSION,
  trace: 'trace.perf-script.txt.zst',
  traceLines: Number(e.LINES),
  perfLostRecords: Number(e.LOST),
  wallSeconds: Number(e.WALL),
  pid: Number(readFileSync(`${dst}/workload.pid`, 'utf8').trim()),
  limit: e.LIMIT_TEXT.replace(/([KMG])$/, '$1iB'),
  unaccounted: `${kib}KiB`,
  kmem: {
    samples: samples.length,
    samplesAtLimit: atLimit.length,
    periodMs: Math.round(Number(e.PERIOD) * 1000),
    atLimitMedianBytes: median,
    atLimitMinBytes: atLimit[0],
    atLimitMaxBytes: atLimit[atLimit.length - 1],
    maxUsageBytes: Number(e.KMEM_MAX_USAGE),
    memoryMaxUsageBytes: Number(e.MAX_USAGE),
    failcnt: Number(e.FAILCNT),
    kmemFailcnt: Number(e.KMEM_FAILCNT),
    unaccountedNote:
      'measured: the median memory.kmem.usage_in_bytes over the samples (kmem-samples.tsv, every 100 ms) where memory.usage_in_bytes was within 1 MiB of the limit, rounded to KiB. Those are the samples taken while the kernel reclaimed for the cgroup; the median, not the peak (kmem.max_usage_in_bytes), because the peak is one moment and reclaim runs all along.',
  },
  bands: {},
};
writeFileSync(`${dst}/fixture.json`, `${JSON.stringify(fixture, null, 2)}\n`);
JS
echo "capture-reclaim.sh: fixture in $dst ($(du -sh "$dst" | cut -f1)); unaccounted $(grep -o '"unaccounted": "[^"]*"' "$dst/fixture.json")" >&2
