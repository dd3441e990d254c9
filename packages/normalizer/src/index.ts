export { Normalizer } from './normalizer.js';
export type { NormalizerOptions, NormalizerStats, ResolvedOverlay } from './normalizer.js';
