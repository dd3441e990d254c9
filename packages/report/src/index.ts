export { RESULT_SCHEMA_V1, loadResultSchema, resultSchemaPath, validateResult } from './validate.js';
export type { ValidationResult } from './validate.js';
export { loadResults } from './load.js';
export type { LoadedResult, ResultSource } from './load.js';
export { metricDirections, metricUnits } from './metric-directions.js';
export type { MetricDirection, MetricUnit } from './metric-directions.js';
export { defaultThresholds, formatThreshold, parseThreshold, resolveThresholds } from './thresholds.js';
export type { ResolveThresholdOptions, Threshold } from './thresholds.js';
export { compareErrorExitCode, compareExitCode, compareExitCodes, compareResults } from './compare.js';
export type {
  AnomalyChange,
  CellStatus,
  CompareOptions,
  CompareReport,
  CompareSummary,
  MetricDelta,
  PolicyChange,
  TraceComparison,
  Verdict,
} from './compare.js';
export { formatCompareMarkdown, formatCompareText, formatDelta, formatPair } from './format.js';
export type { FormatOptions } from './format.js';
export { COMPARE_USAGE, runCompareCommand } from './command.js';
export type { CompareCommandOutput } from './command.js';
export { SWEEP_INDEX_SCHEMA, isSweepIndex, loadReportInput, renderHtmlReport, renderHtmlReportFrom } from './html.js';
export type { HtmlReportOptions, MissingCell, SweepIndexLike } from './html.js';
export { REPORT_USAGE, runReportCommand } from './html-command.js';
export type { ReportCommandOutput } from './html-command.js';
