// Loads the TypeScript worker through tsx when simloom runs from sources (tests, tsx).
// The built package never uses this file: dist/sim/worker.js is started directly.
import { workerData } from 'node:worker_threads';
const { register } = await import('tsx/esm/api');
register();
await import(workerData.entry);
