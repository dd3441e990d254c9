export {
  AccessSource,
  EventFlag,
  EventKind,
  PageKind,
  accessSourceNames,
  createEventBatch,
  pageKindNames,
} from './events.js';
export type { EventBatch, PageIdentity } from './events.js';
export { PAGE_SHIFT, PAGE_SIZE, nodeKinds } from './machine.js';
export type {
  CostSpec,
  MachineSpec,
  NodeKind,
  NodeSpec,
  ResolvedMachine,
  ResolvedNode,
  Watermarks,
} from './machine.js';
export { FaultKind, SPEC_VERSION, SUPPORTED_SPEC_VERSIONS, policyCapabilities } from './policy.js';
export type {
  AccessSample,
  AllocHint,
  Counter,
  FaultInfo,
  IoInfo,
  KnobSpec,
  NodeId,
  NumaScanRequest,
  ObservationRequest,
  PageRef,
  PolicyCapability,
  PolicyContext,
  PolicyFactory,
  ReclaimOptions,
  ReclaimResult,
  TierPolicy,
} from './policy.js';
export { ErrorCode, TierlabError, formatErrorMessage, isTierlabError } from './errors.js';
export type { ErrorLocation, TierlabErrorInit } from './errors.js';
export { metricNames, seriesColumns } from './metrics.js';
export type { AnomalyStat, MetricName, SeriesColumn, Severity } from './metrics.js';
export { definePolicy, parseKnobValue, resolveKnobs } from './define-policy.js';
