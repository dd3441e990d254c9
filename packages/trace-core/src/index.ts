export {
  GfpClass,
  LruFlag,
  Tracepoint,
  createRawBatch,
  createReaderStats,
  tracepointNames,
} from './raw-batch.js';
export type { RawBatch, ReaderStats } from './raw-batch.js';
export {
  describeDecoder,
  detectCompression,
  findZstdProgram,
  hashFile,
  lineBlocks,
  openTrace,
  readHead,
} from './source.js';
export type { Compression, LineBlock, OpenOptions } from './source.js';
export { syntaxError, excerptOf } from './errors.js';
export { reorderBatches } from './reorder.js';
export { classifyGfpNames, gfpNameClass } from './gfp.js';
export { MigrateMode, MigrateReason, migrateModeNames, migrateReasonNames, migrateReasonOf } from './migrate.js';
