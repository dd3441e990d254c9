import { type CostSpec, type MachineSpec, type NodeKind, type NodeSpec, nodeKinds } from '@tierlab/memory-tier-api';
import { parseCapacityValue } from './capacity.js';
import { type FieldPath, type Origin, invalidField } from './errors.js';

type Fields = Record<string, unknown>;

const machineKeys = ['name', 'description', 'nodes', 'costs', 'sources'] as const;
const nodeKeys = [
  'name',
  'kind',
  'capacity',
  'readLatencyNs',
  'writeLatencyNs',
  'readBandwidthGBs',
  'writeBandwidthGBs',
  'persistent',
  'cpuAccess',
  'structPages',
  'abstractDistance',
  'hasCpus',
  'inFallbackZonelist',
  'movableOnly',
  'watermarks',
  'source',
] as const;
const watermarkKeys = ['min', 'low', 'high', 'promo'] as const;
const costKeys = [
  'pageFaultNs',
  'hintFaultNs',
  'migrationFixedNs',
  'tlbShootdownNs',
  'reclaimPerPageNs',
  'majorFaultNs',
  'writebackPageNs',
  'deviceRemoteAccessNs',
  'source',
] as const;
const cpuAccessValues = ['coherent', 'faults'] as const;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

class Checker {
  constructor(private readonly origin: Origin) {}

  object(value: unknown, path: FieldPath, expected: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw invalidField(this.origin, path, expected, value);
    }
    return value as Fields;
  }

  onlyKeys(fields: Fields, allowed: readonly string[], path: FieldPath): void {
    for (const key of Object.keys(fields)) {
      if (!allowed.includes(key)) {
        throw invalidField(this.origin, [...path, key], `one of the fields ${allowed.join(', ')}`, fields[key], {
          note: 'unknown field',
        });
      }
    }
  }

  present(fields: Fields, key: string, path: FieldPath, expected: string): unknown {
    const value = fields[key];
    if (value === undefined) throw invalidField(this.origin, [...path, key], expected, value, { missing: true });
    return value;
  }

  positiveNumber(fields: Fields, key: string, path: FieldPath): number {
    const expected = 'a positive number';
    const value = this.present(fields, key, path, expected);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw invalidField(this.origin, [...path, key], expected, value);
    }
    return value;
  }

  nonNegativeNumber(fields: Fields, key: string, path: FieldPath): number {
    const expected = 'a number of nanoseconds, 0 or more';
    const value = this.present(fields, key, path, expected);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw invalidField(this.origin, [...path, key], expected, value);
    }
    return value;
  }

  nonNegativeInteger(fields: Fields, key: string, path: FieldPath, expected: string): number {
    const value = this.present(fields, key, path, expected);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw invalidField(this.origin, [...path, key], expected, value);
    }
    return value;
  }

  boolean(fields: Fields, key: string, path: FieldPath): boolean {
    const expected = 'true or false';
    const value = this.present(fields, key, path, expected);
    if (typeof value !== 'boolean') throw invalidField(this.origin, [...path, key], expected, value);
    return value;
  }

  optionalBoolean(fields: Fields, key: string, path: FieldPath): boolean | undefined {
    return fields[key] === undefined ? undefined : this.boolean(fields, key, path);
  }

  text(fields: Fields, key: string, path: FieldPath): string {
    const expected = 'a non-empty string';
    const value = this.present(fields, key, path, expected);
    if (typeof value !== 'string' || value.trim() === '') throw invalidField(this.origin, [...path, key], expected, value);
    return value;
  }

  optionalText(fields: Fields, key: string, path: FieldPath): string | undefined {
    return fields[key] === undefined ? undefined : this.text(fields, key, path);
  }

  oneOf<T extends string>(fields: Fields, key: string, path: FieldPath, allowed: readonly T[]): T {
    const expected = `one of ${allowed.join(', ')}`;
    const value = this.present(fields, key, path, expected);
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      throw invalidField(this.origin, [...path, key], expected, value);
    }
    return value as T;
  }

  node(value: unknown, path: FieldPath): NodeSpec {
    const fields = this.object(value, path, 'a node (an object with name, kind, capacity, latencies, bandwidths...)');
    this.onlyKeys(fields, nodeKeys, path);
    const name = this.text(fields, 'name', path);
    if (!namePattern.test(name)) {
      throw invalidField(this.origin, [...path, 'name'], 'a short name of letters, digits, ".", "_" or "-" (e.g. dram0)', name);
    }
    const kind = this.oneOf<NodeKind>(fields, 'kind', path, nodeKinds);
    const capacity = this.present(fields, 'capacity', path, 'a capacity (bytes, e.g. "64GiB", or a share of the footprint, e.g. "25%")');
    parseCapacityValue(capacity, [...path, 'capacity'], this.origin);
    const readLatencyNs = this.positiveNumber(fields, 'readLatencyNs', path);
    const writeLatencyNs = this.positiveNumber(fields, 'writeLatencyNs', path);
    const readBandwidthGBs = this.positiveNumber(fields, 'readBandwidthGBs', path);
    const writeBandwidthGBs = this.positiveNumber(fields, 'writeBandwidthGBs', path);
    const persistent = this.boolean(fields, 'persistent', path);
    const cpuAccess = this.oneOf(fields, 'cpuAccess', path, cpuAccessValues);
    const structPages = this.boolean(fields, 'structPages', path);
    const abstractDistance = this.nonNegativeInteger(
      fields,
      'abstractDistance',
      path,
      'a whole number 0 or more (the kernel abstract distance: 576 for DRAM, larger is slower)',
    );
    const hasCpus = this.optionalBoolean(fields, 'hasCpus', path);
    const inFallbackZonelist = this.optionalBoolean(fields, 'inFallbackZonelist', path);
    const movableOnly = this.optionalBoolean(fields, 'movableOnly', path);
    const source = this.optionalText(fields, 'source', path);
    const watermarks = fields.watermarks === undefined ? undefined : this.watermarks(fields.watermarks, [...path, 'watermarks']);
    if (hasCpus === true && cpuAccess === 'faults') {
      throw invalidField(this.origin, [...path, 'hasCpus'], 'false for a node the CPU cannot load from (cpuAccess: faults)', hasCpus);
    }
    if (inFallbackZonelist === true && kind === 'device-private') {
      throw invalidField(
        this.origin,
        [...path, 'inFallbackZonelist'],
        'false: device-private memory is ZONE_DEVICE, never in an allocation zonelist',
        inFallbackZonelist,
      );
    }
    return {
      name,
      kind,
      capacity: capacity as number | string,
      readLatencyNs,
      writeLatencyNs,
      readBandwidthGBs,
      writeBandwidthGBs,
      persistent,
      cpuAccess,
      structPages,
      abstractDistance,
      ...(hasCpus !== undefined ? { hasCpus } : {}),
      ...(inFallbackZonelist !== undefined ? { inFallbackZonelist } : {}),
      ...(movableOnly !== undefined ? { movableOnly } : {}),
      ...(watermarks !== undefined ? { watermarks } : {}),
      ...(source !== undefined ? { source } : {}),
    };
  }

  watermarks(value: unknown, path: FieldPath): NonNullable<NodeSpec['watermarks']> {
    const fields = this.object(value, path, 'watermarks in pages (an object with min, low, high and optionally promo)');
    this.onlyKeys(fields, watermarkKeys, path);
    const what = 'a whole number of pages, 0 or more';
    const min = this.nonNegativeInteger(fields, 'min', path, what);
    const low = this.nonNegativeInteger(fields, 'low', path, what);
    const high = this.nonNegativeInteger(fields, 'high', path, what);
    const promo = fields.promo === undefined ? undefined : this.nonNegativeInteger(fields, 'promo', path, what);
    if (!(min <= low && low <= high && (promo === undefined || high <= promo))) {
      throw invalidField(this.origin, path, 'min <= low <= high <= promo', value);
    }
    return { min, low, high, ...(promo !== undefined ? { promo } : {}) };
  }

  costs(value: unknown, path: FieldPath): CostSpec {
    const fields = this.object(value, path, `the cost constants (an object with ${costKeys.slice(0, -2).join(', ')})`);
    this.onlyKeys(fields, costKeys, path);
    const source = this.optionalText(fields, 'source', path);
    return {
      pageFaultNs: this.nonNegativeNumber(fields, 'pageFaultNs', path),
      hintFaultNs: this.nonNegativeNumber(fields, 'hintFaultNs', path),
      migrationFixedNs: this.nonNegativeNumber(fields, 'migrationFixedNs', path),
      tlbShootdownNs: this.nonNegativeNumber(fields, 'tlbShootdownNs', path),
      reclaimPerPageNs: this.nonNegativeNumber(fields, 'reclaimPerPageNs', path),
      majorFaultNs: this.nonNegativeNumber(fields, 'majorFaultNs', path),
      writebackPageNs: this.nonNegativeNumber(fields, 'writebackPageNs', path),
      ...(fields.deviceRemoteAccessNs !== undefined
        ? { deviceRemoteAccessNs: this.nonNegativeNumber(fields, 'deviceRemoteAccessNs', path) }
        : {}),
      ...(source !== undefined ? { source } : {}),
    };
  }

  machine(value: unknown): MachineSpec {
    const fields = this.object(value, [], 'a machine description (an object with name, nodes and costs)');
    this.onlyKeys(fields, machineKeys, []);
    const name = this.text(fields, 'name', []);
    const description = this.optionalText(fields, 'description', []);
    const nodesValue = this.present(fields, 'nodes', [], 'a list of nodes');
    if (!Array.isArray(nodesValue) || nodesValue.length === 0) {
      throw invalidField(this.origin, ['nodes'], 'a list of at least one node', nodesValue);
    }
    const nodes = nodesValue.map((node, index) => this.node(node, ['nodes', index]));
    const firstByName = new Map<string, number>();
    nodes.forEach((node, index) => {
      const first = firstByName.get(node.name);
      if (first !== undefined) {
        throw invalidField(this.origin, ['nodes', index, 'name'], `a name no other node has (nodes[${first}] is also called that)`, node.name);
      }
      firstByName.set(node.name, index);
    });
    if (!nodes.some((node) => node.hasCpus === true) && !nodes.every((node) => node.hasCpus === false)) {
      throw invalidField(
        this.origin,
        ['nodes'],
        'hasCpus: true on the node(s) with CPUs (or hasCpus: false on every node, for a machine whose CPUs are all elsewhere)',
        nodesValue,
        { note: 'no node has CPUs', showValue: false },
      );
    }
    const costs = this.costs(this.present(fields, 'costs', [], 'the cost constants'), ['costs']);
    let sources: string[] | undefined;
    if (fields.sources !== undefined) {
      if (!Array.isArray(fields.sources)) throw invalidField(this.origin, ['sources'], 'a list of citations (strings)', fields.sources);
      sources = (fields.sources as unknown[]).map((entry, index) => {
        if (typeof entry !== 'string' || entry.trim() === '') {
          throw invalidField(this.origin, ['sources', index], 'a citation (a non-empty string)', entry);
        }
        return entry;
      });
    }
    return {
      name,
      ...(description !== undefined ? { description } : {}),
      nodes,
      costs,
      ...(sources !== undefined ? { sources } : {}),
    };
  }
}

/**
 * Check a machine description field by field and return a clean copy. Throws a TierlabError
 * (MACHINE_INVALID) naming the first bad field by its path, e.g.
 * `nodes[1].readLatencyNs: expected a positive number, got '"x"'`.
 */
export function validateMachineSpec(value: unknown, origin: Origin = {}): MachineSpec {
  return new Checker(origin).machine(value);
}
