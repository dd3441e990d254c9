/**
 * How a sweep's progress reads: a bar with an ETA for a terminal, one line
 * per cell for a log. These return text; the app writes it to stderr.
 */

import type { SweepCell } from './plan.js';
import type { SweepProgress } from './sweep.js';

export interface ProgressFormatOptions {
  /** A terminal: redraw one bar line (`\r`), failures printed above it. Otherwise one line per cell. */
  readonly tty: boolean;
  /** Width of the terminal; default 80. */
  readonly columns?: number;
}

/** The text to write for this event (null: nothing). */
export function formatSweepProgress(progress: SweepProgress, options: ProgressFormatOptions): string | null {
  if (!options.tty) return formatSweepLine(progress);
  const clear = '\r\x1b[K';
  if (progress.type === 'end') return `${clear}${formatSweepLine(progress)}`;
  const above = progress.type === 'cell-failed' ? `${clear}${formatSweepLine(progress)}` : '';
  return `${above}${clear}${formatSweepBar(progress, options.columns ?? 80)}`;
}

/** `sweep [#######-------] 3/8  1 skipped  2 running  0:12  ETA 0:20`, at most `columns` wide. */
export function formatSweepBar(progress: SweepProgress, columns = 80): string {
  const finished = finishedOf(progress);
  const parts = [`${finished}/${progress.total}`];
  if (progress.skipped > 0) parts.push(`${progress.skipped} skipped`);
  if (progress.failed > 0) parts.push(`${progress.failed} failed`);
  if (progress.running > 0) parts.push(`${progress.running} running`);
  parts.push(formatDuration(progress.elapsedMs));
  parts.push(`ETA ${progress.etaMs === null ? '--:--' : formatDuration(progress.etaMs)}`);
  const text = parts.join('  ');
  const room = columns - 1 - 'sweep [] '.length - text.length;
  if (room < 5) return `sweep ${text}`.slice(0, Math.max(0, columns - 1));
  const width = Math.min(40, room);
  const filled = progress.total === 0 ? width : Math.round((width * finished) / progress.total);
  return `sweep [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`;
}

/** One line (with its newline) for a log: the start, each finished or skipped cell, the end; null for other events. */
export function formatSweepLine(progress: SweepProgress): string | null {
  const counter = `[${finishedOf(progress)}/${progress.total}]`;
  switch (progress.type) {
    case 'begin': {
      const toRun = progress.total - progress.alreadyDone;
      return `sweep: ${progress.total} cells${progress.alreadyDone > 0 ? ` (${progress.alreadyDone} already done)` : ''}, ${toRun} to replay on ${toRun === 0 ? 0 : progress.jobs} worker${progress.jobs === 1 ? '' : 's'} -> ${progress.outDir}\n`;
    }
    case 'cell-skipped':
      return `${counter} skipped ${describeCell(progress.cell!)} (already in ${progress.cell!.file})\n`;
    case 'cell-done': {
      const eta = progress.etaMs === null || progress.running + finishedOf(progress) >= progress.total ? '' : `, ETA ${formatDuration(progress.etaMs)}`;
      return `${counter} done ${describeCell(progress.cell!)} in ${formatSeconds(progress.cellMs ?? 0)}${eta}\n`;
    }
    case 'cell-failed':
      return `${counter} FAILED ${describeCell(progress.cell!)}: ${progress.error!.code}: ${progress.error!.message.split('\n')[0]}\n`;
    case 'end':
      if (progress.aborted) {
        const onDisk = progress.computed + progress.skipped;
        return `sweep: stopped after ${formatDuration(progress.elapsedMs)}; ${onDisk} of ${progress.total} cells are on disk: run the same sweep again to resume\n`;
      }
      return `sweep: ${progress.computed} replayed, ${progress.skipped} skipped, ${progress.failed} failed in ${formatDuration(progress.elapsedMs)} -> ${progress.outDir}\n`;
    default:
      return null;
  }
}

/** `sqlite_orders.perf-script.txt.zst on dram-pmem: first-touch, kmem-tiering`. */
export function describeCell(cell: SweepCell): string {
  const overlay = cell.overlay === null ? '' : ` + ${cell.overlay.path}`;
  return `${cell.trace.file}${overlay} on ${cell.machine}: ${cell.policies.join(', ')}`;
}

/** `0:07`, `12:30`, `1:02:03`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function finishedOf(progress: SweepProgress): number {
  return progress.computed + progress.skipped + progress.failed;
}
