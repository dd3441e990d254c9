export { Normalizer } from './normalizer.js';
export type { NormalizerOptions, NormalizerStats } from './normalizer.js';
