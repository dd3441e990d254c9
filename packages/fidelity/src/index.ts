export { reclaimFidelity } from './reclaim.js';
export type { ReclaimFidelity, ReclaimFidelityOptions } from './reclaim.js';
