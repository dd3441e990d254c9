export { openTextTrace, sniffTextFormat } from './reader.js';
export type { TextReaderOptions, TextTraceReader } from './reader.js';
export type { TextFormat } from './layout.js';
