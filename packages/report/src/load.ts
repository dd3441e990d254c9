/**
 * Reading the results of one side of a comparison: result files, folders of
 * them, or results in memory. Every version 1 result is validated; a result
 * of another schema version is kept (to be reported as not comparable) when
 * it names its trace and machine.
 */

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';
import type { ReplayResult } from '@tierlab/replay';
import { RESULT_SCHEMA_V1, validateResult } from './validate.js';

/** One side of a comparison: a path (a result file or a folder of `*.json` results), a result, or a list of them. */
export type ResultSource = string | ReplayResult | readonly (string | ReplayResult)[];

export interface LoadedResult {
  /** The file it was read from, or `(in memory #n)`. */
  readonly source: string;
  /** Its `schema` field, e.g. `tierlab-result/1`. */
  readonly schema: string;
  readonly traceFile: string;
  readonly traceSha256: string;
  readonly machineName: string;
  /** The result when `schema` is tierlab-result/1 (validated); null for other versions. */
  readonly result: ReplayResult | null;
  /** The parsed JSON as read. */
  readonly raw: Readonly<Record<string, unknown>>;
}

const schemaPattern = /^tierlab-result\/\d+$/;
const shownErrors = 5;

function badInput(file: string, message: string, extra: { expected?: string; cause?: unknown } = {}): TierlabError {
  return new TierlabError({ code: ErrorCode.usage, source: 'compare', file, message, ...extra });
}

/** Read and check every result of one side. Throws a TierlabError (USAGE) naming the file and what is wrong. */
export function loadResults(source: ResultSource): LoadedResult[] {
  const entries = typeof source === 'string' || !Array.isArray(source) ? [source as string | ReplayResult] : source;
  const out: LoadedResult[] = [];
  let memory = 0;
  for (const entry of entries) {
    if (typeof entry === 'string') {
      for (const file of expandPath(entry)) out.push(checkResult(file, readJson(file)));
    } else if (typeof entry === 'object' && entry !== null) {
      memory++;
      // Through JSON, as a file would hold it (NaN becomes null, undefined fields vanish).
      out.push(checkResult(`(in memory #${memory})`, JSON.parse(JSON.stringify(entry)) as unknown));
    } else {
      throw new TypeError(`a result source is a path or a result object, got ${typeof entry}`);
    }
  }
  return out;
}

function expandPath(path: string): string[] {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (cause) {
    throw badInput(path, `cannot read: ${describeIoError(cause)}`, { cause });
  }
  if (!isDirectory) return [path];
  let names: string[];
  try {
    names = readdirSync(path);
  } catch (cause) {
    throw badInput(path, `cannot list the folder: ${describeIoError(cause)}`, { cause });
  }
  const files = names.filter((name) => name.endsWith('.json')).sort();
  if (files.length === 0) throw badInput(path, 'the folder holds no .json result files', { expected: 'files written by tierlab replay --json' });
  return files.map((name) => join(path, name));
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw badInput(file, `cannot read: ${describeIoError(cause)}`, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw badInput(file, `not JSON (${cause instanceof Error ? cause.message : String(cause)})`, {
      expected: 'a result written by tierlab replay --json',
      cause,
    });
  }
}

function checkResult(source: string, json: unknown): LoadedResult {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw badInput(source, 'not a tierlab result (not a JSON object)', { expected: 'a result written by tierlab replay --json' });
  }
  const raw = json as Record<string, unknown>;
  const schema = raw.schema;
  if (typeof schema !== 'string' || !schemaPattern.test(schema)) {
    throw badInput(source, `not a tierlab result (schema is ${JSON.stringify(schema) ?? 'missing'})`, {
      expected: `"schema": "${RESULT_SCHEMA_V1}"`,
    });
  }
  if (schema === RESULT_SCHEMA_V1) {
    const { valid, errors } = validateResult(raw);
    if (!valid) {
      const more = errors.length > shownErrors ? `; and ${errors.length - shownErrors} more` : '';
      throw badInput(source, `not a valid ${RESULT_SCHEMA_V1} result: ${errors.slice(0, shownErrors).join('; ')}${more}`);
    }
    const result = raw as unknown as ReplayResult;
    return {
      source,
      schema,
      traceFile: result.trace.file,
      traceSha256: result.trace.sha256,
      machineName: result.machine.name,
      result,
      raw,
    };
  }
  // Another version: read only what matching needs.
  const trace = raw.trace as Record<string, unknown> | undefined;
  const machine = raw.machine as Record<string, unknown> | undefined;
  const traceFile = trace?.file;
  const traceSha256 = trace?.sha256;
  const machineName = machine?.name;
  if (typeof traceFile !== 'string' || typeof traceSha256 !== 'string' || typeof machineName !== 'string') {
    throw badInput(source, `a ${schema} result without trace.file, trace.sha256 and machine.name: cannot be matched`);
  }
  return { source, schema, traceFile, traceSha256, machineName, result: null, raw };
}

function describeIoError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file or folder';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a folder';
  return error instanceof Error ? error.message : String(error);
}
