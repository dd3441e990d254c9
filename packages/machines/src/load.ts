import { readFileSync, readdirSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, type MachineSpec } from '@tierlab/memory-tier-api';
import { LineCounter, type Node as YamlNode, parseDocument } from 'yaml';
import { type FieldPath, type Origin, type Position, machineFileError, machineNotFound } from './errors.js';
import { validateMachineSpec } from './validate.js';

/** presets/ beside src/ and dist/: the same relative path from both. */
const presetsDirectory = fileURLToPath(new URL('../presets/', import.meta.url));
const machineFileExtensions = ['.json', '.yaml', '.yml'];

/** Names of the machine presets shipped with this package, sorted. */
export function listPresets(): string[] {
  return readdirSync(presetsDirectory)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();
}

function presetList(): string {
  return listPresets().join(', ');
}

/** A preset by name (`dram-pmem`, `dram-cxl`, `dram-only`). */
export function loadPreset(name: string): MachineSpec {
  if (typeof name !== 'string') throw new TypeError(`preset name must be a string, got ${typeof name}`);
  if (!listPresets().includes(name)) {
    throw machineNotFound(`unknown machine preset '${name}'`, `one of ${presetList()}`);
  }
  return readMachineFile(join(presetsDirectory, `${name}.json`));
}

/**
 * A machine by preset name, or from a `.json`, `.yaml` or `.yml` file (a relative path is
 * taken from the working directory). Throws MACHINE_NOT_FOUND when there is no such preset or
 * file, MACHINE_INVALID (with the file, line and column, and the field's path) when the
 * description is not valid.
 */
export function loadMachine(nameOrPath: string): MachineSpec {
  if (typeof nameOrPath !== 'string') throw new TypeError(`machine must be a preset name or a path, got ${typeof nameOrPath}`);
  const presets = listPresets();
  if (presets.includes(nameOrPath)) return loadPreset(nameOrPath);
  const extension = extname(nameOrPath).toLowerCase();
  const expected = `a preset name (${presets.join(', ')}) or a path to a .json, .yaml or .yml machine file`;
  if (!machineFileExtensions.includes(extension)) {
    const looksLikePath = extension !== '' || /[\\/]/.test(nameOrPath);
    throw machineNotFound(
      looksLikePath ? `'${nameOrPath}' is not a machine file` : `unknown machine '${nameOrPath}'`,
      expected,
    );
  }
  return readMachineFile(resolve(nameOrPath), expected);
}

function readMachineFile(file: string, expectedIfMissing?: string): MachineSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? String(error)})`;
    throw machineNotFound(reason, expectedIfMissing ?? 'a readable machine file', file, error);
  }
  const { value, locate } = extname(file).toLowerCase() === '.json' ? parseJson(text, file) : parseYaml(text, file);
  const origin: Origin = { file, ...(locate !== undefined ? { locate } : {}) };
  return validateMachineSpec(value, origin);
}

interface Parsed {
  readonly value: unknown;
  readonly locate?: (path: FieldPath) => Position | undefined;
}

function positionAt(text: string, offset: number): Position {
  let line = 1;
  let lineStart = 0;
  for (let index = 0; index < offset && index < text.length; index += 1) {
    if (text.charCodeAt(index) === 10) {
      line += 1;
      lineStart = index + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function parseJson(text: string, file: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');
    const offset = /at position (\d+)/.exec(message)?.[1];
    // Node 20 does not always say where; the YAML parser (JSON is YAML flow syntax) often can.
    const position = offset !== undefined ? positionAt(text, Number(offset)) : firstYamlErrorPosition(text);
    throw machineFileError(ErrorCode.machineInvalid, file, `not valid JSON: ${message}`, {
      expected: 'a JSON machine description',
      ...(position !== undefined ? { position } : {}),
      cause: error,
    });
  }
  // JSON is YAML 1.2 flow syntax: the YAML parser gives positions for field errors.
  return { value, ...locatorFor(text) };
}

function parseYaml(text: string, file: string): Parsed {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const error = document.errors[0];
  if (error !== undefined) {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    throw machineFileError(ErrorCode.machineInvalid, file, `not valid YAML: ${error.message.split('\n')[0]}`, {
      expected: 'a YAML machine description',
      position: { line, column: col },
      cause: error,
    });
  }
  return { value: document.toJS({ maxAliasCount: 1000 }), locate: makeLocator(document, lineCounter) };
}

function firstYamlErrorPosition(text: string): Position | undefined {
  const lineCounter = new LineCounter();
  const error = parseDocument(text, { lineCounter, prettyErrors: false }).errors[0];
  if (error === undefined) return undefined;
  const { line, col } = lineCounter.linePos(error.pos[0]);
  return { line, column: col };
}

function locatorFor(text: string): Pick<Parsed, 'locate'> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  return document.errors.length === 0 ? { locate: makeLocator(document, lineCounter) } : {};
}

function makeLocator(
  document: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
): (path: FieldPath) => Position | undefined {
  return (path) => {
    for (let length = path.length; length >= 0; length -= 1) {
      const node = (length === 0 ? document.contents : document.getIn(path.slice(0, length), true)) as YamlNode | null | undefined;
      const start = node?.range?.[0];
      if (start !== undefined) {
        const { line, col } = lineCounter.linePos(start);
        return { line, column: col };
      }
    }
    return undefined;
  };
}
