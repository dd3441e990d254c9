export { openPerfData, sniffPerfData } from './reader.js';
export type { PerfDataReader, PerfReaderOptions } from './reader.js';
export type { PerfReaderStats } from './parser.js';
