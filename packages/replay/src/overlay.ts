/**
 * Workload overlays: what a real capture cannot show (no trace of device
 * accesses can be captured on these machines), added on top of it and
 * declared in the result. An overlay names:
 * - `bindings`: mbind(MPOL_BIND) of a process's virtual range to a node;
 * - `deviceAccesses`: a device touching the live pages of a process's virtual
 *   range at given times (ms since the trace began), optionally repeated.
 *
 * ```yaml
 * description: the GPU reads the workers' heap every 200 ms
 * device: gpu0
 * bindings:
 *   - { pid: 24275, start: "0x7f96b0000000", end: "0x7f96c0000000", node: gpu0 }
 * deviceAccesses:
 *   - { pid: 24275, start: "0x7f9600000000", end: "0x7f9700000000", atMs: 500, everyMs: 200, repeat: 10, write: false }
 * ```
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ErrorCode, type ResolvedMachine, TierlabError } from '@tierlab/memory-tier-api';
import type { ResolvedOverlay } from '@tierlab/normalizer';
import { parse as parseYaml } from 'yaml';

export interface OverlayInfo {
  readonly file: string;
  readonly sha256: string;
  readonly description: string;
  readonly bindings: number;
  readonly deviceAccesses: number;
}

export function loadOverlay(path: string, machine: ResolvedMachine): { overlay: ResolvedOverlay; info: OverlayInfo } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new TierlabError({ code: ErrorCode.usage, source: 'overlay', file: path, message: 'cannot read overlay file', cause });
  }
  let doc: unknown;
  try {
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new TierlabError({
      code: ErrorCode.usage,
      source: 'overlay',
      file: path,
      message: `not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${cause instanceof Error ? cause.message : String(cause)}`,
    });
  }
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new TierlabError({
      code: ErrorCode.usage,
      source: 'overlay',
      file: path,
      message: field,
      expected,
      excerpt: JSON.stringify(got) ?? String(got),
    });
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('overlay', 'a mapping with bindings and/or deviceAccesses', doc);
  const o = doc as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!['description', 'device', 'bindings', 'deviceAccesses'].includes(key)) fail(`unknown field '${key}'`, 'description, device, bindings, deviceAccesses', key);
  }
  const nodeId = (field: string, value: unknown): number => {
    const node = machine.nodes.find((n) => n.name === value);
    if (node === undefined) fail(field, `a node of machine ${machine.name}: ${machine.nodes.map((n) => n.name).join(', ')}`, value);
    return node!.id;
  };
  const address = (field: string, value: unknown): number => {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^(0x[0-9a-fA-F]+|\d+)$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 0) fail(field, 'an address (number or "0x…" string)', value);
    return n;
  };
  const num = (field: string, value: unknown, fallback: number, min = 0): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) fail(field, `a number >= ${min}`, value);
    return value as number;
  };
  const list = (field: string, value: unknown): Record<string, unknown>[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value)) fail(field, 'a list', value);
    return (value as unknown[]).map((item, i) => {
      if (typeof item !== 'object' || item === null) fail(`${field}[${i}]`, 'a mapping', item);
      return item as Record<string, unknown>;
    });
  };
  const defaultDevice = o.device !== undefined ? nodeId('device', o.device) : machine.nodes.find((n) => n.kind.startsWith('device'))?.id ?? -1;
  const bindings = list('bindings', o.bindings).map((b, i) => {
    const start = address(`bindings[${i}].start`, b.start);
    const end = address(`bindings[${i}].end`, b.end);
    if (end <= start) fail(`bindings[${i}].end`, 'an address above start', b.end);
    return {
      pid: num(`bindings[${i}].pid`, b.pid, Number.NaN, 0),
      startVpn: Math.floor(start / 4096),
      endVpn: Math.ceil(end / 4096),
      node: nodeId(`bindings[${i}].node`, b.node),
    };
  });
  const deviceAccesses = list('deviceAccesses', o.deviceAccesses).map((d, i) => {
    const start = address(`deviceAccesses[${i}].start`, d.start);
    const end = address(`deviceAccesses[${i}].end`, d.end);
    if (end <= start) fail(`deviceAccesses[${i}].end`, 'an address above start', d.end);
    const node = d.device !== undefined ? nodeId(`deviceAccesses[${i}].device`, d.device) : defaultDevice;
    if (node < 0) fail(`deviceAccesses[${i}].device`, 'a device node (the machine has none named)', d.device);
    if (d.write !== undefined && typeof d.write !== 'boolean') fail(`deviceAccesses[${i}].write`, 'true or false', d.write);
    return {
      pid: num(`deviceAccesses[${i}].pid`, d.pid, Number.NaN, 0),
      startVpn: Math.floor(start / 4096),
      endVpn: Math.ceil(end / 4096),
      atNs: num(`deviceAccesses[${i}].atMs`, d.atMs, Number.NaN, 0) * 1e6,
      everyNs: num(`deviceAccesses[${i}].everyMs`, d.everyMs, 0, 0) * 1e6,
      repeat: Math.floor(num(`deviceAccesses[${i}].repeat`, d.repeat, 1, 1)),
      write: d.write === true,
      count: Math.floor(num(`deviceAccesses[${i}].count`, d.count, 1, 1)),
      node,
    };
  });
  for (const [i, b] of bindings.entries()) if (Number.isNaN(b.pid)) fail(`bindings[${i}].pid`, 'a pid', undefined);
  for (const [i, d] of deviceAccesses.entries()) {
    if (Number.isNaN(d.pid)) fail(`deviceAccesses[${i}].pid`, 'a pid', undefined);
    if (Number.isNaN(d.atNs)) fail(`deviceAccesses[${i}].atMs`, 'a time in ms since the trace began', undefined);
  }
  return {
    overlay: { bindings, deviceAccesses },
    info: {
      file: path.split('/').pop()!,
      sha256: createHash('sha256').update(text).digest('hex'),
      description: typeof o.description === 'string' ? o.description : '',
      bindings: bindings.length,
      deviceAccesses: deviceAccesses.length,
    },
  };
}
