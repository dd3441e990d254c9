import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

let counter = 0;

/** Suffix of the temporary files {@link writeFileAtomic} writes before the rename (never `.json`, so a folder of results never shows one). */
const TEMP_PATTERN = /\.tmp-(\d+)-\d+$/;

/**
 * Write `text` to `path` so that a reader (or a later run after a crash)
 * sees either the old file, no file, or the whole new one: write a
 * temporary file beside it, flush it to disk, rename it over `path`.
 */
export function writeFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}-${++counter}`;
  const fd = openSync(temp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Remove the temporary files an interrupted {@link writeFileAtomic} left in `dir` (not those of a process still running); returns how many. */
export function removeStaleTempFiles(dir: string): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const match = TEMP_PATTERN.exec(name);
    if (match === null || isRunning(Number(match[1]))) continue;
    rmSync(join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}
