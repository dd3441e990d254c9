import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PolicyFactory, definePolicy, isTierlabError, metricNames, seriesColumns } from '@tierlab/memory-tier-api';
import type { ReplayResult } from '@tierlab/replay';
import { bundledTraces, repoRoot, sharedTraces } from '@tierlab/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import { type EditableResult, firstTouchPolicy, replayResult } from './test-replays.js';
import { RESULT_SCHEMA_V1, loadResultSchema, resultSchemaPath, validateResult } from './validate.js';

/** Through JSON, as a result file holds it. */
const asFile = (result: ReplayResult): EditableResult => JSON.parse(JSON.stringify(result)) as EditableResult;

type SchemaNode = { properties: Record<string, SchemaNode>; required: string[]; $defs: Record<string, SchemaNode> };

describe('the schema file', () => {
  const schema = loadResultSchema() as unknown as SchemaNode & { $schema: string; $id: string };

  it('is JSON Schema draft 2020-12 with id tierlab-result/1, shipped in the package', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe(RESULT_SCHEMA_V1);
    const pkg = JSON.parse(readFileSync(join(resultSchemaPath(), '../../package.json'), 'utf8')) as {
      files: string[];
      exports: Record<string, string>;
    };
    expect(pkg.files).toContain('schema');
    expect(pkg.exports['./schema/result-v1.schema.json']).toBe('./schema/result-v1.schema.json');
  });

  it('describes every metric of metricNames, and only those', () => {
    const metrics = schema.$defs.metrics!;
    expect(Object.keys(metrics.properties).sort()).toEqual([...metricNames].sort());
    for (const name of metrics.required) expect(metricNames).toContain(name);
  });

  it('describes every series column', () => {
    const series = schema.$defs.series!;
    expect(Object.keys(series.properties).sort()).toEqual([...seriesColumns, 'intervalMs', 'usedPages'].sort());
  });
});

describe('results of real replays validate', () => {
  const bundled = readdirSync(bundledTraces()).filter((name) => name.endsWith('.zst'));

  it.each(bundled)('bundled %s through first-touch and kmem-tiering', async (name) => {
    const result = await replayResult({ trace: name });
    expect(result.policies.map((p) => p.policy)).toEqual(['first-touch', 'kmem-tiering']);
    expect(validateResult(asFile(result))).toEqual({ valid: true, errors: [] });
  });

  it('the JSON the tierlab command writes', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'tierlab-report-')), 'r.json');
    const cli = join(repoRoot(), 'apps', 'replay', 'dist', 'cli.js');
    const trace = join(bundledTraces(), 'py_named_threads.tracefs.txt.zst');
    const run = spawnSync(process.execPath, [cli, 'replay', trace, '--json', out, '--quiet'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(validateResult(JSON.parse(readFileSync(out, 'utf8')))).toEqual({ valid: true, errors: [] });
  });

  it('a result whose policy failed (a real run of a policy that breaks the allocator contract)', async () => {
    const broken = definePolicy({
      name: 'broken-placement',
      version: '0.0.1',
      description: 'returns a node the machine does not have',
      knobs: {},
      build: () => ({ placePage: () => 99 }),
    }) as unknown as PolicyFactory;
    const result = await replayResult({ trace: 'py_named_threads.perf-script.txt.zst', policies: [{ factory: firstTouchPolicy }, { factory: broken }] });
    expect(result.policies[1]!.error?.code).toBe('POLICY_DECISION');
    expect(validateResult(asFile(result))).toEqual({ valid: true, errors: [] });
  });
});

const shared = sharedTraces();
describe.skipIf(shared === null)('results of real replays of the shared captures validate', () => {
  const captures = shared === null ? [] : readdirSync(shared).filter((name) => name.endsWith('.zst')).sort();

  it.for(captures)('%s', async (name, ctx) => {
    let result: ReplayResult;
    try {
      result = await replayResult({ trace: join(shared!, name) });
    } catch (error) {
      // A format this checkout has no reader for yet (perf.data, trace.dat): nothing to validate.
      if (isTierlabError(error) && error.code === 'TRACE_FORMAT') return ctx.skip();
      throw error;
    }
    const { valid, errors } = validateResult(asFile(result));
    expect(errors).toEqual([]);
    expect(valid).toBe(true);
  });
});

describe('broken results do not validate, and the errors name the path', () => {
  let result: EditableResult;
  beforeAll(async () => {
    result = asFile(await replayResult({ trace: 'py_named_threads.perf-script.txt.zst' }));
  });
  const edited = (edit: (r: EditableResult) => void) => {
    const copy = structuredClone(result);
    edit(copy);
    return validateResult(copy);
  };

  it('every top-level field is required', () => {
    for (const key of Object.keys(result)) {
      if (key === 'overlay') continue; // optional: results of tools without overlays lack it
      expect(edited((r) => delete r[key])).toEqual({ valid: false, errors: [`/${key}: is missing`] });
    }
  });

  it('a metric removed', () => {
    expect(edited((r) => delete r.policies[1].metrics.totalCostNs)).toEqual({
      valid: false,
      errors: ['/policies/1/metrics/totalCostNs: is missing'],
    });
  });

  it('fields of the wrong type', () => {
    const r = edited((x) => {
      x.trace.sha256 = 12;
      x.policies[0].metrics.meanAccessCostNs = '113 ns';
      x.options.seed = 1.5;
      x.machine.nodes[1].kind = 'optane';
      x.anomalies[0].severity = 'fatal';
      x.policies[1].knobs.hotThresholdMs = { ms: 1000 };
    });
    expect(r.valid).toBe(false);
    expect(r.errors).toEqual(
      expect.arrayContaining([
        '/trace/sha256: must be string',
        '/policies/0/metrics/meanAccessCostNs: must be number',
        '/options/seed: must be integer',
        expect.stringMatching(/^\/machine\/nodes\/1\/kind: must be one of "dram", "pmem"/),
        '/anomalies/0/severity: must be one of "info", "warning", "error"',
        '/policies/1/knobs/hotThresholdMs: must be number,boolean,string',
      ]),
    );
  });

  it('a share out of 0..1, a negative count, a bad hash', () => {
    const r = edited((x) => {
      x.policies[0].metrics.fastTierAccessShare = 9.4;
      x.trace.records = -1;
      x.trace.sha256 = 'abc';
    });
    expect(r.errors).toEqual(
      expect.arrayContaining([
        '/policies/0/metrics/fastTierAccessShare: must be <= 1',
        '/trace/records: must be >= 0',
        '/trace/sha256: must match pattern "^[0-9a-f]{64}$"',
      ]),
    );
  });

  it('a field the schema does not know', () => {
    expect(edited((r) => (r.policies[0].speedup = 2))).toEqual({
      valid: false,
      errors: ['/policies/0/speedup: is not a field of tierlab-result/1'],
    });
    expect(edited((r) => (r.trace.host = 'x')).errors).toEqual(['/trace/host: is not a field of tierlab-result/1']);
  });

  it('metrics, normalizer counters and options a later tool adds are allowed, with the right type', () => {
    expect(
      edited((r) => {
        r.policies[0].metrics.someNewMetric = 2;
        r.normalizer.someNewCounter = 3;
        r.options.someNewOption = { on: true };
      }),
    ).toEqual({ valid: true, errors: [] });
    expect(edited((r) => (r.policies[0].metrics.someNewMetric = -1)).errors).toEqual(['/policies/0/metrics/someNewMetric: must be >= 0']);
    expect(edited((r) => (r.normalizer.someNewCounter = 'x')).errors).toEqual(['/normalizer/someNewCounter: must be integer']);
  });

  it('another schema id', () => {
    expect(edited((r) => (r.schema = 'tierlab-result/2')).errors).toEqual(['/schema: must be "tierlab-result/1"']);
  });

  it('a policy with neither results nor an error', () => {
    expect(edited((r) => delete r.policies[0].series).errors).toEqual(['/policies/0/series: is missing']);
  });

  it('series columns of different lengths, nodes that do not match the machine, a policy named twice', () => {
    const r = edited((x) => {
      x.policies[0].series.accessCostNs.pop();
      x.policies[0].series.usedPages[1].push(0);
      x.policies[1].nodes.pop();
      x.policies[1].policy = 'first-touch';
    });
    const rows = result.policies[0].series.timeMs.length;
    expect(r).toEqual({
      valid: false,
      errors: [
        `/policies/0/series/accessCostNs: has ${rows - 1} rows, timeMs has ${rows}`,
        `/policies/0/series/usedPages/1: has ${rows + 1} rows, timeMs has ${rows}`,
        "/policies/1/policy: 'first-touch' is also /policies/0/policy (names must be unique)",
        '/policies/1/nodes: has 1 entries, the machine has 2 nodes',
      ],
    });
  });

  it('something that is not a result at all', () => {
    expect(validateResult([1, 2]).errors).toEqual(['/: must be object']);
    expect(validateResult(null).valid).toBe(false);
  });
});
