/**
 * The result schema, version 1 (`schema/result-v1.schema.json`, JSON Schema
 * draft 2020-12), and a validator: ajv for the shape, then the cross-field
 * checks a schema cannot say (series columns of one length, one node entry per
 * machine node, unique policy names).
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import Ajv2020Module from 'ajv/dist/2020.js';

/** The `schema` value of a version 1 result. */
export const RESULT_SCHEMA_V1 = 'tierlab-result/1';

/** schema/ beside src/ and dist/: the same relative path from both. */
const schemaPath = fileURLToPath(new URL('../schema/result-v1.schema.json', import.meta.url));

/** Path of the shipped schema file (`@tierlab/report/schema/result-v1.schema.json`). */
export function resultSchemaPath(): string {
  return schemaPath;
}

let schemaCache: Record<string, unknown> | null = null;
let validatorCache: ValidateFunction | null = null;

/** The schema, parsed (a fresh copy each call). */
export function loadResultSchema(): Record<string, unknown> {
  schemaCache ??= JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
  return structuredClone(schemaCache);
}

// ajv is CommonJS: its default export is the class under NodeNext, `.default` under some bundlers.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;

function validator(): ValidateFunction {
  if (validatorCache === null) {
    // strictRequired off: the policy entry's if/else names fields defined beside it, which strict mode cannot see.
    const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
    validatorCache = ajv.compile(loadResultSchema());
  }
  return validatorCache;
}

export interface ValidationResult {
  readonly valid: boolean;
  /** One line per problem: `<JSON pointer>: <what is wrong>`, e.g. `/policies/0/metrics/totalCostNs: must be number`. */
  readonly errors: string[];
}

/** Check a parsed result file against tierlab-result/1. */
export function validateResult(json: unknown): ValidationResult {
  const validate = validator();
  if (!validate(json)) {
    const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'if').map(describeAjvError);
    return { valid: false, errors: [...new Set(errors)] };
  }
  const errors = crossFieldErrors(json as ResultShape);
  return { valid: errors.length === 0, errors };
}

function describeAjvError(error: ErrorObject): string {
  const at = error.instancePath;
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') return `${at}/${String(params.missingProperty)}: is missing`;
  if (error.keyword === 'additionalProperties') return `${at}/${String(params.additionalProperty)}: is not a field of ${RESULT_SCHEMA_V1}`;
  if (error.keyword === 'const') return `${at || '/'}: must be ${JSON.stringify(params.allowedValue)}`;
  if (error.keyword === 'enum') return `${at || '/'}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return `${at || '/'}: ${error.message ?? error.keyword}`;
}

interface ResultShape {
  machine: { nodes: unknown[] };
  policies: Array<{
    policy: string;
    nodes?: unknown[];
    series?: Record<string, unknown> & { timeMs: unknown[]; usedPages: unknown[][] };
  }>;
}

function crossFieldErrors(result: ResultShape): string[] {
  const errors: string[] = [];
  const nodeCount = result.machine.nodes.length;
  const seen = new Map<string, number>();
  result.policies.forEach((p, i) => {
    const at = `/policies/${i}`;
    const first = seen.get(p.policy);
    if (first !== undefined) errors.push(`${at}/policy: '${p.policy}' is also /policies/${first}/policy (names must be unique)`);
    else seen.set(p.policy, i);
    if (p.nodes !== undefined && p.nodes.length !== nodeCount) {
      errors.push(`${at}/nodes: has ${p.nodes.length} entries, the machine has ${nodeCount} nodes`);
    }
    const s = p.series;
    if (s === undefined) return;
    const rows = s.timeMs.length;
    for (const [column, value] of Object.entries(s)) {
      if (column === 'intervalMs' || column === 'usedPages' || !Array.isArray(value)) continue;
      if (value.length !== rows) errors.push(`${at}/series/${column}: has ${value.length} rows, timeMs has ${rows}`);
    }
    if (s.usedPages.length !== nodeCount) errors.push(`${at}/series/usedPages: has ${s.usedPages.length} nodes, the machine has ${nodeCount}`);
    s.usedPages.forEach((column, node) => {
      if (column.length !== rows) errors.push(`${at}/series/usedPages/${node}: has ${column.length} rows, timeMs has ${rows}`);
    });
  });
  return errors;
}
