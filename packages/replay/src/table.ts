import type { ReplayResult } from './replay.js';

interface Row {
  readonly label: string;
  readonly value: (p: ReplayResult['policies'][number]) => string;
  /** Shown only when some policy has a non-zero value. */
  readonly when?: (p: ReplayResult['policies'][number]) => number | undefined;
}

const num = (x: number | undefined, digits = 0) =>
  x === undefined ? '-' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (ns: number | undefined) => (ns === undefined ? '-' : `${num(ns / 1e6, 2)} ms`);
const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);
const mib = (b: number | undefined) => (b === undefined ? '-' : `${num(b / 1048576, 1)} MiB`);

const rows: Row[] = [
  { label: 'accesses (trace)', value: (p) => num(p.metrics?.accesses) },
  { label: 'memory stall time', value: (p) => ms(p.metrics?.accessCostNs) },
  { label: 'mean access cost', value: (p) => `${num(p.metrics?.meanAccessCostNs, 1)} ns` },
  { label: 'fast-tier share of accesses', value: (p) => pct(p.metrics?.fastTierAccessShare) },
  { label: 'total time charged', value: (p) => ms(p.metrics?.totalCostNs) },
  { label: 'page faults (trace)', value: (p) => num(p.metrics?.pageFaults) },
  { label: 'NUMA hint faults', value: (p) => num(p.metrics?.numaHintFaults) },
  { label: 'promotions (pages)', value: (p) => num(p.metrics?.pgpromoteSuccess) },
  { label: 'demotions (pages)', value: (p) => num((p.metrics?.pgdemoteKswapd ?? 0) + (p.metrics?.pgdemoteDirect ?? 0)) },
  { label: 'migrated', value: (p) => mib(p.metrics?.migratedBytes) },
  { label: 'alloc fallbacks', value: (p) => num(p.metrics?.allocFallback) },
  { label: 'kswapd wakeups', value: (p) => num(p.metrics?.kswapdWakeups) },
  { label: 'direct reclaim stalls', value: (p) => num(p.metrics?.allocstall) },
  { label: 'evicted (pages)', value: (p) => num(p.metrics?.pgsteal) },
  { label: 'refaults', value: (p) => num(p.metrics?.workingsetRefault) },
  { label: 'dirty at risk (peak)', value: (p) => mib(p.metrics?.dirtyBytesAtRiskPeak) },
  { label: 'persistent writes', value: (p) => mib(p.metrics?.persistentWriteBytes) },
  { label: 'metadata (peak)', value: (p) => mib(p.metrics?.metadataBytesPeak), when: (p) => p.metrics?.metadataBytesPeak },
  { label: 'device accesses', value: (p) => num(p.metrics?.deviceAccesses), when: (p) => p.metrics?.deviceAccesses },
  { label: 'device-local share', value: (p) => pct(p.metrics?.deviceLocalAccessShare), when: (p) => p.metrics?.deviceAccesses },
  { label: 'device access time', value: (p) => ms(p.metrics?.deviceAccessCostNs), when: (p) => p.metrics?.deviceAccesses },
  { label: 'CPU accesses to device memory', value: (p) => num(p.metrics?.cpuAccessesToDevice), when: (p) => p.metrics?.cpuAccessesToDevice },
  { label: 'CPU faults on device-private pages', value: (p) => num(p.metrics?.devicePrivateFaults), when: (p) => p.metrics?.devicePrivateFaults },
  { label: 'migrated to device', value: (p) => mib(p.metrics?.migratedBytesToDevice), when: (p) => p.metrics?.migratedBytesToDevice },
  { label: 'migrated from device', value: (p) => mib(p.metrics?.migratedBytesFromDevice), when: (p) => p.metrics?.migratedBytesFromDevice },
  { label: 'implicit device allocations', value: (p) => num(p.metrics?.implicitDeviceAllocations), when: (p) => p.metrics?.implicitDeviceAllocations ?? 0 },
];

/** The comparison table a person reads: one column per policy. */
export function formatComparison(result: ReplayResult): string {
  const lines: string[] = [];
  const t = result.trace;
  const n = result.normalizer;
  lines.push(
    `trace    ${t.file} (${t.format}, ${num(t.records)} records, ${num(t.durationNs / 1e6, 1)} ms, sha256 ${t.sha256.slice(0, 12)})`,
  );
  const nodes = result.machine.nodes
    .map((x) => `${x.name} ${x.kind} ${mib(x.capacityBytes)} (tier ${x.tier}, ${x.readLatencyNs}/${x.writeLatencyNs} ns r/w)`)
    .join(', ');
  lines.push(`machine  ${result.machine.name}: ${nodes}`);
  if (result.overlay) lines.push(`overlay  ${result.overlay.file} (SYNTHETIC: ${result.overlay.bindings} bindings, ${result.overlay.deviceAccesses} device-access schedules) ${result.overlay.description}`);
  lines.push(
    `linking  ${pct(result.linking.faultsLinkedShare)} of ${num(n.faults)} faults linked to a page, ${pct(result.linking.filemapLinkedShare)} of ${num(n.filemapAdds)} page-cache pages linked to their pfn; footprint ${mib(result.footprint.peakLiveBytes)}`,
  );
  lines.push('');
  const headers = ['', ...result.policies.map((p) => p.policy)];
  const shown = rows.filter((r) => r.when === undefined || result.policies.some((p) => (r.when!(p) ?? 0) !== 0) || (r.label === 'implicit device allocations' && result.machine.nodes.some((n) => n.kind.startsWith('device'))));
  const table = shown.map((r) => [r.label, ...result.policies.map((p) => (p.error ? 'failed' : r.value(p)))]);
  const widths = headers.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  lines.push(fmt(headers));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) lines.push(fmt(row));
  for (const p of result.policies) {
    if (p.error) lines.push('', `policy ${p.policy} failed in ${p.error.hook ?? '?'}: ${p.error.message}`);
  }
  const warn = result.anomalies.filter((a) => a.severity !== 'info');
  const info = result.anomalies.filter((a) => a.severity === 'info');
  if (result.anomalies.length > 0) {
    lines.push('');
    for (const a of [...warn, ...info]) lines.push(`${a.severity.padEnd(7)} ${a.name} = ${num(a.value)}: ${a.description}`);
  }
  return lines.join('\n');
}
