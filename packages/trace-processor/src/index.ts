export { openTraceProcessor, eventsQuery, freePort, READER_NAME, EVENT_QUERY_COLUMNS } from './processor.js';
export type { TraceProcessorOptions, TraceProcessorReader, TraceProcessorStats } from './processor.js';
export { findTraceProcessor, BINARY_NAMES, ENV_VAR } from './find.js';
export type { FindTraceProcessorOptions } from './find.js';
export {
  decodeQueryResult,
  QueryResultDecoder,
  RpcStreamDecoder,
  encodeQueryRequest,
  int64ToNumber,
} from './decode.js';
export type { Cell, Row, DecodedQueryResult, QueryResultMessage, RpcMessage } from './decode.js';
export { loadTpSchema, CellType } from './schema.js';
export type { TpSchema } from './schema.js';
export { argSpecs, tracepointIdByName, eventFilterSql, lruFlagsOfPagemap } from './events.js';
