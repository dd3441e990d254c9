export { openTraceDat, sniffTraceDat } from './reader.js';
export type { TraceDatOptions, TraceDatReader } from './reader.js';
