export { ASSUMPTIONS, RESULT_SCHEMA, TOOL_NAME, TOOL_VERSION, replay } from './replay.js';
export type { PolicyRequest, PolicyResult, ReplayOptions, ReplayProgress, ReplayResult } from './replay.js';
export { formatComparison } from './table.js';
export { openAnyTrace, traceHead } from './readers.js';
export type { ReaderOptions, TraceReader } from './readers.js';
export { loadOverlay } from './overlay.js';
export type { OverlayInfo } from './overlay.js';
