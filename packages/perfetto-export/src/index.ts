export {
  CATEGORY,
  SEQUENCE_ID,
  counterValue,
  encodeReplayPerfetto,
  planTracks,
  policyTrackUuid,
  toNs,
  writeReplayPerfetto,
} from './writer.js';
export type { PerfettoExportStats, ReplayResultLike, SeriesLike, TrackKind, TrackPlan } from './writer.js';
export { CounterUnit, SequenceFlags, TrackEventType, loadExportSchema } from './schema.js';
export type { ExportSchema } from './schema.js';
