/**
 * simloom's public API: what `import … from 'simloom'` gives (package.json `exports`).
 *
 * - Declaring models: {@link defineActor}, {@link defineModel}, {@link compileModel}, {@link moduleUrl}.
 * - Writing kernels: the kernel context types, {@link Fault}, the counter-based RNG, and
 *   {@link freshCopy} / {@link InstanceCache} for loops compiled over their arrays (docs/guide.md,
 *   "Speed").
 * - Running: {@link Simulation} (CPU), {@link selectBackend} + {@link createSimulation} (CPU or
 *   WebGPU), scenarios ({@link defineScenario}, {@link runScenario}, {@link resumeRun}).
 * - Errors a user can act on: {@link SimloomError} and its subclasses.
 * - External input: {@link RecordRing}, {@link RingSet}.
 *
 * @example
 * ```ts
 * import { compileModel, defineActor, defineModel, moduleUrl, Simulation } from 'simloom';
 *
 * const Particle = defineActor({
 *   name: 'Particle',
 *   kernels: moduleUrl(import.meta.url, './particle-kernels'), // exports `kernels`
 *   state: { x: { type: 'f32' } },
 *   functions: { move: { kernel: 'particle.move', reads: ['x'], writes: ['x'] } },
 * });
 * const sim = await Simulation.create(compileModel(defineModel({ name: 'p', actors: [Particle], population: { Particle: { capacity: 1000 } } })), { workers: 2, seed: 1 });
 * sim.run(100);
 * await sim.close();
 * ```
 */
export { defineActor, defineModel, compileModel, REDUCTIONS } from './src/model.js';
export type { ActorDecl, ModelDecl, ModelSpec, MessageDecl, FunctionDecl, FieldDecl, ParamDecl, Delivery, Activation, Reduction, GraphDecl, PopulationDecl, KindSpec, MessageSpec, FunctionSpec } from './src/model.js';
export { moduleUrl } from './src/module-url.js';
export { Fault, KernelRegistry, webgpuModuleUrl } from './src/kernel.js';
export type { FaultCode, CpuKernel, CpuKernelContext, KernelRegistration, CpuKernelRegistration, WebGpuKernelRegistration, AnyKernelRegistration, MessageIn, MessageOut, MessageColumns, GraphView, SpatialGrid } from './src/kernel.js';
export type { TypedArray, DType } from './src/types.js';
export { uniform, normal, makeRng, type Rng } from './src/rng.js';
export { SimloomError, CheckError, CapacityError, BackendError, InternalError, UsageError } from './src/errors.js';
export { RecordRing, RingSet } from './src/ring.js';
export { freshCopy, InstanceCache } from './kernels/common/specialize.js';
export { Simulation, WorkerLostError, WorkerHungError, type SimulationOptions, type PhaseTiming } from './sim/simulation.js';
export { selectBackend, createSimulation, type SimulationLike, type BackendSelection, type CreateOptions, type ReductionSpec, type ReductionSpecs } from './sim/backend.js';
export { defineScenario, parseParams, type Scenario, type ScenarioSetup, type SetupContext, type InitHost, type RunSummary, type ParamValue, type ParamValues } from './sim/scenario.js';
export { runScenario, resumeRun, RunFailed, type RunOptions, type ResumeOptions } from './sim/run.js';
