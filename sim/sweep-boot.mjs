// Loads the sweep task (sim/sweep-task.ts) through tsx when simloom runs from sources (tests, tsx).
// The built package never uses this file: piscina starts dist/sim/sweep-task.js directly.
const { register } = await import('tsx/esm/api');
register();
const mod = await import('./sweep-task.ts');
export default mod.default;
