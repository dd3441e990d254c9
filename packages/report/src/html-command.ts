/**
 * `tierlab report` as a function: results in, one HTML file out. It prints
 * nothing; with `--out` it writes the file (temp file, then rename) and
 * says so, without it the HTML is the stdout.
 */

import { renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ErrorCode, TierlabError, isTierlabError } from '@tierlab/memory-tier-api';
import { loadReportInput, renderHtmlReportFrom } from './html.js';

export const REPORT_USAGE = `usage:
  tierlab report <result.json|folder|sweep-folder>... [--out report.html] [--title TEXT]

  One self-contained HTML file (no network needed to view it): per result, the
  comparison table of every metric and, per policy, charts over trace time of
  the fast-tier share, migrations, occupancy per node, dirty bytes at risk and
  metadata bytes. A sweep folder (holding index.json) gives every cell of the sweep.

exit status: 0 written, 2 bad usage or bad input`;

export interface ReportCommandOutput {
  readonly exitCode: 0 | 2;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `tierlab report` with the arguments after `report`. Bad usage and bad input come back as exit code 2; bugs are thrown. */
export function runReportCommand(args: readonly string[]): ReportCommandOutput {
  if (args.includes('--help') || args.includes('-h')) return { exitCode: 0, stdout: `${REPORT_USAGE}\n`, stderr: '' };
  try {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(args);
    } catch (error) {
      throw usage(error instanceof Error ? error.message : String(error));
    }
    const { values, positionals } = parsed;
    if (positionals.length === 0) throw usage('give result files, folders of them, or sweep folders');
    const loaded = loadReportInput(positionals);
    if (loaded.results.length === 0 && loaded.missing.length === 0) throw usage('no results found', positionals.join(' '));
    const html = renderHtmlReportFrom(loaded, values.title !== undefined ? { title: values.title } : {});
    if (values.out === undefined) return { exitCode: 0, stdout: html, stderr: '' };
    const temp = `${values.out}.tmp-${process.pid}`;
    writeFileSync(temp, html);
    renameSync(temp, values.out);
    const failed = loaded.missing.length > 0 ? `; ${loaded.missing.length} sweep cells without a result are listed at the top` : '';
    return {
      exitCode: 0,
      stdout: `wrote ${values.out}: ${loaded.results.length} results, ${(html.length / 1024).toFixed(0)} KiB, opens with no network${failed}\n`,
      stderr: '',
    };
  } catch (error) {
    if (!isTierlabError(error)) throw error;
    return { exitCode: 2, stdout: '', stderr: `tierlab: ${error.message}\n` };
  }
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string', short: 'o' },
      title: { type: 'string' },
    },
  });
}

function usage(message: string, excerpt?: string): TierlabError {
  return new TierlabError({
    code: ErrorCode.usage,
    source: 'report',
    message,
    expected: "tierlab report <results>... --out report.html (see 'tierlab report --help')",
    ...(excerpt !== undefined ? { excerpt } : {}),
  });
}
