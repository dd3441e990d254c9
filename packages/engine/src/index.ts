export { Engine } from './engine.js';
export type { EngineOptions, EngineResult, NodeResult } from './engine.js';
export type { SeriesResult } from './series.js';
export { createRandom } from './random.js';
export { LifetimeRecorder } from './lifetimes.js';
