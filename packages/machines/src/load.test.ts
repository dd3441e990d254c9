import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { type TierlabError, isTierlabError } from '@tierlab/memory-tier-api';
import { afterAll, describe, expect, it } from 'vitest';
import { loadMachine, loadPreset } from './load.js';
import { resolveMachine } from './resolve.js';

const directory = mkdtempSync(join(tmpdir(), 'tierlab-machines-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = join(directory, name);
  writeFileSync(file, text);
  return file;
}

function thrown(action: () => unknown): TierlabError {
  try {
    action();
  } catch (error) {
    if (isTierlabError(error)) return error;
    throw error;
  }
  throw new Error('expected a TierlabError');
}

const yamlMachine = `# a two-socket box: local DRAM and the other socket's DRAM as a slower node
name: my-box
description: DRAM plus a CXL expander, numbers from our own MLC run
nodes:
  - name: dram0
    kind: dram
    capacity: 16GiB
    readLatencyNs: 92
    writeLatencyNs: 92
    readBandwidthGBs: 120
    writeBandwidthGBs: 80
    persistent: false
    cpuAccess: coherent
    structPages: true
    abstractDistance: 576
    hasCpus: true
    source: mlc --idle_latency, mlc --max_bandwidth on node 0
  - name: cxl0
    kind: cxl
    capacity: 64GiB
    readLatencyNs: 250
    writeLatencyNs: 250
    readBandwidthGBs: 30
    writeBandwidthGBs: 30
    persistent: false
    cpuAccess: coherent
    structPages: true
    abstractDistance: 1100
    hasCpus: false
costs:
  pageFaultNs: 2000
  hintFaultNs: 2000
  migrationFixedNs: 1000
  tlbShootdownNs: 4000
  reclaimPerPageNs: 1000
  majorFaultNs: 80000
  writebackPageNs: 20000
sources:
  - our lab, 2025
`;

describe('loadMachine', () => {
  it('loads presets by name', () => {
    expect(loadMachine('dram-pmem')).toEqual(loadPreset('dram-pmem'));
  });

  it('loads a YAML machine file (.yaml and .yml, absolute and relative paths)', () => {
    const file = write('box.yaml', yamlMachine);
    const spec = loadMachine(file);
    expect(spec.name).toBe('my-box');
    expect(spec.nodes.map((node) => node.name)).toEqual(['dram0', 'cxl0']);
    expect(loadMachine(relative(process.cwd(), file))).toEqual(spec);
    expect(loadMachine(write('box.yml', yamlMachine))).toEqual(spec);

    const machine = resolveMachine(spec, null);
    expect(machine.nodes.map((node) => [node.capacityPages, node.tier])).toEqual([
      [4_194_304, 0],
      [16_777_216, 1],
    ]);
    expect(machine.sources).toEqual(['our lab, 2025', 'mlc --idle_latency, mlc --max_bandwidth on node 0']);
  });

  it('loads the example in the README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    if (example === undefined) throw new Error('README has a YAML example');
    const file = write('readme.yaml', example);
    const spec = loadMachine(file);
    expect(spec.name).toBe('my-box');
    expect(resolveMachine(spec, null).nodes.map((node) => node.tier)).toEqual([0, 1]);
    const broken = thrown(() => loadMachine(write('readme.yaml', example.replace('readLatencyNs: 250', 'readLatencyNs: "x"'))));
    expect(broken.message).toBe(`[machine] ${file}:21:20 nodes[1].readLatencyNs: expected a positive number, got '"x"'`);
  });

  it('loads a JSON machine file', () => {
    const spec = loadMachine(write('box.yaml', yamlMachine));
    const file = write('box.json', JSON.stringify(spec, null, 2));
    expect(loadMachine(file)).toEqual(spec);
  });

  it('says what it searched for when a machine is not found', () => {
    const unknown = thrown(() => loadMachine('dram-hbm'));
    expect(unknown.code).toBe('MACHINE_NOT_FOUND');
    expect(unknown.message).toBe(
      "[machine] unknown machine 'dram-hbm': expected a preset name (dram-coherent-gpu, dram-cxl, dram-gpu, dram-only, dram-pmem) or a path to a .json, .yaml or .yml machine file",
    );

    const missing = thrown(() => loadMachine(join(directory, 'nope.yaml')));
    expect(missing.code).toBe('MACHINE_NOT_FOUND');
    expect(missing.file).toBe(join(directory, 'nope.yaml'));
    expect(missing.message).toMatch(/nope\.yaml no such file: expected a preset name \(dram-coherent-gpu, dram-cxl, dram-gpu, dram-only, dram-pmem\) or a path/);

    const notAFile = thrown(() => loadMachine('machines/box.txt'));
    expect(notAFile.code).toBe('MACHINE_NOT_FOUND');
    expect(notAFile.message).toMatch(/'machines\/box\.txt' is not a machine file: expected .*\.json, \.yaml or \.yml/);

    const preset = thrown(() => loadPreset('dram-hbm'));
    expect(preset.message).toBe("[machine] unknown machine preset 'dram-hbm': expected one of dram-coherent-gpu, dram-cxl, dram-gpu, dram-only, dram-pmem");
  });

  it('names the bad field with its path, file, line and column (YAML)', () => {
    const file = write('bad-latency.yaml', yamlMachine.replace('readLatencyNs: 250', 'readLatencyNs: "x"'));
    const error = thrown(() => loadMachine(file));
    expect(error.code).toBe('MACHINE_INVALID');
    expect(error.message).toBe(`[machine] ${file}:21:20 nodes[1].readLatencyNs: expected a positive number, got '"x"'`);
    expect([error.file, error.line, error.column]).toEqual([file, 21, 20]);
  });

  it('names the bad field with its path, file, line and column (JSON)', () => {
    const spec = loadMachine(write('box.yaml', yamlMachine));
    const text = JSON.stringify({ ...spec, nodes: [spec.nodes[0], { ...spec.nodes[1], kind: 'nvdimm' }] }, null, 2);
    const file = write('bad-kind.json', text);
    const error = thrown(() => loadMachine(file));
    const line = text.split('\n').findIndex((row) => row.includes('"nvdimm"')) + 1;
    expect(error.message).toBe(
      `[machine] ${file}:${line}:15 nodes[1].kind: expected one of dram, pmem, cxl, hbm, device-private, device-coherent, got '"nvdimm"'`,
    );
  });

  it('reports missing and unknown fields, and bad values of every type', () => {
    const cases: [string, string, RegExp][] = [
      ['    abstractDistance: 1100\n', '', /nodes\[1\]\.abstractDistance is missing: expected a whole number 0 or more/],
      ['    persistent: false\n    cpuAccess: coherent\n    structPages: true\n    abstractDistance: 1100', '    persistent: false\n    cpuAccess: coherent\n    structPages: true\n    abstractDistance: 1100.5', /nodes\[1\]\.abstractDistance: expected a whole number/],
      ['readLatencyNs: 92', 'readLatencyNS: 92', /nodes\[0\]\.readLatencyNS \(unknown field\): expected one of the fields name, kind, capacity/],
      ['persistent: false\n    cpuAccess: coherent\n    structPages: true\n    abstractDistance: 576', 'persistent: no\n    cpuAccess: coherent\n    structPages: true\n    abstractDistance: 576', /nodes\[0\]\.persistent: expected true or false, got '"no"'/],
      ['capacity: 64GiB', 'capacity: 64 gigs', /nodes\[1\]\.capacity: expected bytes as a number, a size with a unit .*got '"64 gigs"'/],
      ['cpuAccess: coherent\n    structPages: true\n    abstractDistance: 1100', 'cpuAccess: maybe\n    structPages: true\n    abstractDistance: 1100', /nodes\[1\]\.cpuAccess: expected one of coherent, faults, got '"maybe"'/],
      ['  tlbShootdownNs: 4000', '  tlbShootdownNs: -4', /costs\.tlbShootdownNs: expected a number of nanoseconds, 0 or more, got '-4'/],
      ['  - name: cxl0', '  - name: dram0', /nodes\[1\]\.name: expected a name no other node has \(nodes\[0\] is also called that\), got '"dram0"'/],
      ['    hasCpus: true\n', '', /nodes \(no node has CPUs\): expected hasCpus: true on the node\(s\) with CPUs/],
      ['name: my-box', 'name: 42', /\] .*:2:7 name: expected a non-empty string, got '42'/],
      ['sources:\n  - our lab, 2025', 'sources:\n  - 7', /sources\[0\]: expected a citation/],
    ];
    for (const [from, to, pattern] of cases) {
      expect(yamlMachine).toContain(from);
      const file = write('case.yaml', yamlMachine.replace(from, to));
      const error = thrown(() => loadMachine(file));
      expect(error.code).toBe('MACHINE_INVALID');
      expect(error.message).toMatch(pattern);
      expect(error.line).toBeGreaterThan(0);
    }
  });

  it('reports syntax errors with their line', () => {
    const yamlError = thrown(() => loadMachine(write('syntax.yaml', 'name: a\nnodes: [\n  - x')));
    expect(yamlError.code).toBe('MACHINE_INVALID');
    expect(yamlError.message).toMatch(/syntax\.yaml:\d+:\d+ not valid YAML/);

    const duplicate = thrown(() => loadMachine(write('duplicate.yaml', 'name: a\nname: b\n')));
    expect(duplicate.message).toMatch(/duplicate\.yaml:2:1 not valid YAML: Map keys must be unique/);

    const jsonError = thrown(() => loadMachine(write('syntax.json', '{\n  "name": "a",\n  "nodes": [,]\n}')));
    expect(jsonError.message).toMatch(/syntax\.json:3:13 not valid JSON/);
    const trailing = thrown(() => loadMachine(write('trailing.json', '{\n  "name": "a",\n}')));
    expect(trailing.message).toMatch(/trailing\.json:\d+:\d+ not valid JSON/);

    const empty = thrown(() => loadMachine(write('empty.yaml', '')));
    expect(empty.message).toMatch(/\(top level\): expected a machine description \(an object with name, nodes and costs\), got 'null'/);
  });
});
