export { maxCapacityPages, parseCapacity } from './capacity.js';
export type { FieldPath, Origin, Position } from './errors.js';
export { listPresets, loadMachine, loadPreset } from './load.js';
export {
  memoryTierStart,
  memtierAdistanceDram,
  memtierChunkBits,
  memtierChunkSize,
  memtierDefaultDaxAdistance,
  perfToAbstractDistance,
} from './memory-tiers.js';
export type { NodePerformance } from './memory-tiers.js';
export { resolveMachine } from './resolve.js';
export type { ResolveOptions } from './resolve.js';
export { validateMachineSpec } from './validate.js';
export {
  calculateMinFreeKbytes,
  computeWatermarks,
  defaultWatermarkScaleFactor,
  intSqrt,
  minFreeKbytesCeiling,
  minFreeKbytesFloor,
} from './watermarks.js';
export type { WatermarkOptions } from './watermarks.js';
