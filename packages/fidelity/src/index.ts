export { reclaimFidelity } from './reclaim.js';
export type { ReclaimFidelity, ReclaimFidelityOptions } from './reclaim.js';
export { foldSweeps, guestKnobs, guestMachine, parseZoneinfo, readTieringRun, relativeError, readWorkloadLog, taskClockOf, tieringCounters, tieringFidelity } from './tiering.js';
export type { Sweep, WorkloadLog, TieringCounter, TieringFidelity, TieringFidelityOptions, TieringRun, ZoneInfo } from './tiering.js';
export { formatFixtureResult, listFixtures, readFixture, runFixture, tieringResult } from './suite.js';
export type { Band, FidelityRow, FixtureResult, FixtureSpec } from './suite.js';
