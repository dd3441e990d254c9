/**
 * `tierlab compare` as a function: arguments in, exit code and output out.
 * It prints nothing and exits nothing; the app writes what it returns.
 */

import { parseArgs } from 'node:util';
import { ErrorCode, TierlabError, isTierlabError } from '@tierlab/memory-tier-api';
import { type CompareReport, compareExitCode, compareExitCodes, compareResults } from './compare.js';
import { formatCompareMarkdown, formatCompareText } from './format.js';

export const COMPARE_USAGE = `usage:
  tierlab compare <base> <head> [--threshold metric=+2%]... [--format text|markdown|json]
  tierlab compare --base <file|dir> [--base ...] --head <file|dir> [--head ...] [options]

  <base>, <head>      a result of 'tierlab replay --json', or a folder of them
  --threshold M=+2%   head worse than base by more than 2% of base is a regression;
                      M=+5 is absolute (metric units), S=-1pt is percentage points
                      of a share, M=off drops a default threshold
  --no-default-thresholds
                      gate only on the --threshold given (defaults:
                      totalCostNs=+1%, meanAccessCostNs=+1%, fastTierAccessShare=-1pt)
  --format F          text (default), markdown (a pull-request comment), json
  --max-rows N        changed cells listed in text and markdown (default 100;
                      every regression is always listed)

exit status: 0 within thresholds, 1 regression, 2 bad usage or bad input`;

export interface CompareCommandOutput {
  /** 0 within thresholds, 1 regression, 2 bad usage or bad input. */
  readonly exitCode: 0 | 1 | 2;
  readonly stdout: string;
  readonly stderr: string;
  /** The comparison, when it ran. */
  readonly report: CompareReport | null;
}

function usage(message: string, excerpt?: string): TierlabError {
  return new TierlabError({
    code: ErrorCode.usage,
    source: 'compare',
    message,
    expected: "tierlab compare <base> <head> (see 'tierlab compare --help')",
    ...(excerpt !== undefined ? { excerpt } : {}),
  });
}

/**
 * Run `tierlab compare` with the arguments after `compare`. Bad usage and bad
 * input (an unreadable or invalid result, a bad threshold) come back as exit
 * code 2 with the message on stderr; other errors (bugs) are thrown.
 */
export function runCompareCommand(args: readonly string[]): CompareCommandOutput {
  if (args.includes('--help') || args.includes('-h')) {
    return { exitCode: 0, stdout: `${COMPARE_USAGE}\n`, stderr: '', report: null };
  }
  try {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(args);
    } catch (error) {
      if (isTierlabError(error)) throw error;
      throw usage(error instanceof Error ? error.message : String(error));
    }
    const { values, positionals } = parsed;
    let base = values.base ?? [];
    let head = values.head ?? [];
    if (positionals.length > 0) {
      if (positionals.length !== 2 || base.length > 0 || head.length > 0) {
        throw usage('give a base and a head: two paths, or --base and --head', positionals.join(' '));
      }
      base = [positionals[0]!];
      head = [positionals[1]!];
    }
    if (base.length === 0 || head.length === 0) throw usage(`no ${base.length === 0 ? 'base' : 'head'} results given`);
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'markdown' && format !== 'json') throw usage('bad --format (text, markdown or json)', format);
    const maxRows = values['max-rows'] === undefined ? 100 : Number(values['max-rows']);
    if (!(Number.isInteger(maxRows) && maxRows >= 0)) throw usage('bad --max-rows (a whole number)', values['max-rows']);
    const report = compareResults(base, head, {
      thresholds: values.threshold ?? [],
      defaultThresholds: !values['no-default-thresholds'],
    });
    const stdout =
      format === 'json'
        ? `${JSON.stringify(report, null, 2)}\n`
        : format === 'markdown'
          ? formatCompareMarkdown(report, { maxRows })
          : formatCompareText(report, { maxRows });
    return { exitCode: compareExitCode(report), stdout, stderr: '', report };
  } catch (error) {
    if (!isTierlabError(error)) throw error;
    return { exitCode: compareExitCodes.badInput, stdout: '', stderr: `tierlab: ${error.message}\n`, report: null };
  }
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      base: { type: 'string', multiple: true },
      head: { type: 'string', multiple: true },
      threshold: { type: 'string', multiple: true, short: 't' },
      'no-default-thresholds': { type: 'boolean', default: false },
      format: { type: 'string' },
      'max-rows': { type: 'string' },
    },
  });
}
