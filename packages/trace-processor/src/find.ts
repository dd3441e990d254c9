/** Locating Perfetto's trace_processor_shell. */

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { ErrorCode, TierlabError } from '@tierlab/memory-tier-api';

export interface FindTraceProcessorOptions {
  /** Explicit binary (the CLI's `--trace-processor PATH`); when given, nothing else is searched. */
  binary?: string;
  /** Environment to read TRACE_PROCESSOR_SHELL and PATH from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Names looked up on PATH, in order. */
export const BINARY_NAMES = ['trace_processor_shell', 'trace_processor'] as const;
export const ENV_VAR = 'TRACE_PROCESSOR_SHELL';

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The trace_processor_shell to run: `binary` if given, else $TRACE_PROCESSOR_SHELL,
 * else `trace_processor_shell` / `trace_processor` on PATH. Throws a
 * TierlabError (TRACE_IO) listing every place searched.
 */
export function findTraceProcessor(options: FindTraceProcessorOptions = {}): string {
  const env = options.env ?? process.env;
  const searched: string[] = [];
  const fail = (message: string): never => {
    throw new TierlabError({
      code: ErrorCode.traceIo,
      source: 'trace-processor',
      message: `${message}; searched: ${searched.join(', ')}`,
      expected:
        'an executable trace_processor_shell: pass --trace-processor PATH, set TRACE_PROCESSOR_SHELL, or put it on PATH (https://perfetto.dev/docs/analysis/trace-processor)',
    });
  };
  if (options.binary !== undefined && options.binary !== '') {
    const file = resolve(options.binary);
    searched.push(`--trace-processor ${file}`);
    if (isExecutable(file)) return file;
    return fail(`trace_processor_shell not found or not executable at ${file}`);
  }
  const fromEnv = env[ENV_VAR];
  if (fromEnv) {
    const file = resolve(fromEnv);
    searched.push(`$${ENV_VAR}=${file}`);
    if (isExecutable(file)) return file;
    return fail(`$${ENV_VAR} names ${file}, which is not an executable file`);
  }
  searched.push(`$${ENV_VAR} (unset)`);
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '' && isAbsolute(d));
  for (const name of BINARY_NAMES) {
    for (const dir of dirs) {
      const file = join(dir, name);
      if (isExecutable(file)) return file;
    }
  }
  searched.push(`PATH (${BINARY_NAMES.join(', ')} in ${dirs.length} directories: ${dirs.join(delimiter)})`);
  return fail('trace_processor_shell not found');
}
