export { conformanceCaseIds, conformanceCases, runPolicyConformance } from './conformance.js';
export type {
  ConformanceCase,
  ConformanceCaseId,
  ConformanceOptions,
  DescribeFunction,
  ExpectFunction,
  ItFunction,
} from './conformance.js';
export { ConformanceError, isConformanceError } from './errors.js';
export { createClockGuard } from './guard.js';
export type { ClockGuard, GuardMode, GuardViolation } from './guard.js';
export { defaultMachines, deviceMachine, tieredMachine, tightMachine } from './machines.js';
export { hookNames, runInterleaved, runPolicy } from './run.js';
export type { AnyPolicyFactory, HookName, RunOutcome, RunSpec } from './run.js';
export {
  StreamBuilder,
  everyEventKindStream,
  generatedStreams,
  hotSlowTierStream,
  pressureStream,
  staleIdsStream,
} from './streams.js';
export type { EventStream } from './streams.js';
export { bundledTrace, loadTraceEvents } from './trace-events.js';
