export { openLackey, sniffLackey } from './reader.js';
export type { LackeyOptions, LackeyReader } from './reader.js';
