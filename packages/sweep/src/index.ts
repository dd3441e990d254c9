export { INDEX_FILE, SWEEP_SCHEMA, runSweep } from './sweep.js';
export type {
  CellError,
  SweepEventType,
  SweepIndex,
  SweepIndexCell,
  SweepOptions,
  SweepOutcome,
  SweepProgress,
} from './sweep.js';
export { RESULTS_DIR, SWEEP_KEY_VERSION, compareCells, planSweep } from './plan.js';
export type { CellTask, PlanOptions, PlannedCell, SweepCell, SweepTrace } from './plan.js';
export { parsePolicySpec, builtinPolicies } from './policies.js';
export type { PolicySpec } from './policies.js';
export { describeCell, formatDuration, formatSweepBar, formatSweepLine, formatSweepProgress } from './progress.js';
export type { ProgressFormatOptions } from './progress.js';
export { SWEEP_USAGE, runSweepCommand } from './command.js';
export type { SweepCommandIo, SweepCommandOutput } from './command.js';
export { removeStaleTempFiles, writeFileAtomic } from './atomic.js';
export { codeFingerprint } from './fingerprint.js';
