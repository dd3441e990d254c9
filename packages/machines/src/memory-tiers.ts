/** include/linux/memory-tiers.h: MEMTIER_CHUNK_BITS; each memory tier covers 1 << 7 = 128 of abstract distance. */
export const memtierChunkBits = 7;
/** MEMTIER_CHUNK_SIZE = 1 << MEMTIER_CHUNK_BITS = 128. */
export const memtierChunkSize = 1 << memtierChunkBits;
/** MEMTIER_ADISTANCE_DRAM = (4 * MEMTIER_CHUNK_SIZE) + (MEMTIER_CHUNK_SIZE >> 1) = 576: CPU-attached DRAM. */
export const memtierAdistanceDram = 4 * memtierChunkSize + (memtierChunkSize >> 1);
/** drivers/dax/kmem.c: MEMTIER_DEFAULT_DAX_ADISTANCE = MEMTIER_ADISTANCE_DRAM * 5 = 2880, for dax/kmem nodes without HMAT data. */
export const memtierDefaultDaxAdistance = memtierAdistanceDram * 5;

/**
 * The memory tier a node's abstract distance falls in, as mm/memory-tiers.c
 * find_create_memory_tier() groups them: round_down(adistance, MEMTIER_CHUNK_SIZE).
 * Returns the chunk's start.
 */
export function memoryTierStart(abstractDistance: number): number {
  return Math.floor(abstractDistance / memtierChunkSize) * memtierChunkSize;
}

/** Performance figures as HMAT / CXL CDAT report them to the kernel (struct access_coordinate). */
export interface NodePerformance {
  readonly readLatencyNs: number;
  readonly writeLatencyNs: number;
  readonly readBandwidthGBs: number;
  readonly writeBandwidthGBs: number;
}

/**
 * mm/memory-tiers.c mt_perf_to_adistance(): abstract distance in proportion to latency
 * (read + write) and in inverse proportion to bandwidth (read + write), relative to the
 * default DRAM node's figures:
 *
 *   MEMTIER_ADISTANCE_DRAM * (rl + wl) / (dram_rl + dram_wl) * (dram_rb + dram_wb) / (rb + wb)
 *
 * evaluated left to right in integers, latencies in ns and bandwidths in MB/s as the kernel
 * holds them (figures are rounded to integers first).
 */
export function perfToAbstractDistance(node: NodePerformance, defaultDram: NodePerformance): number {
  const latency = (p: NodePerformance) => BigInt(Math.round(p.readLatencyNs)) + BigInt(Math.round(p.writeLatencyNs));
  const bandwidth = (p: NodePerformance) =>
    BigInt(Math.round(p.readBandwidthGBs * 1000)) + BigInt(Math.round(p.writeBandwidthGBs * 1000));
  const nodeLatency = latency(node);
  const dramLatency = latency(defaultDram);
  const nodeBandwidth = bandwidth(node);
  const dramBandwidth = bandwidth(defaultDram);
  if (nodeLatency === 0n || dramLatency === 0n || nodeBandwidth === 0n || dramBandwidth === 0n) {
    throw new TypeError('perfToAbstractDistance needs non-zero latencies and bandwidths (mt_perf_to_adistance returns -EINVAL)');
  }
  const adistance = (((BigInt(memtierAdistanceDram) * nodeLatency) / dramLatency) * dramBandwidth) / nodeBandwidth;
  return Number(adistance);
}
