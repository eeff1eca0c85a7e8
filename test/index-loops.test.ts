/**
 * The compiled index loops (kernels/common/index-loops.ts) against a host oracle written here
 * (records grouped per key by a plain loop, in sender order), and against the uncompiled shared
 * functions (kernels/common/cpu.ts countingSortByKey, which runs the same loop without a copy, and
 * gather), with one and several records per sender, serial and split over 1–3 parts. The engine
 * runs these loops for every direct, bucket and spatial message, so the message, determinism and
 * crash tests run them too. Last, the `indexSplit` option: the forced split and serial sorts give
 * the state of the automatic choice.
 */
import { describe, expect, it } from 'vitest';
import { countingSortByKey, gather } from '../kernels/common/cpu.js';
import { specialisedCopies } from '../kernels/common/specialize.js';
import { compileIndexLoops, type IndexArrays } from '../kernels/common/index-loops.js';
import { loadScenario, parseParams } from '../sim/scenario.js';
import { Simulation } from '../sim/simulation.js';
import { compileModel } from '../src/model.js';
import { randomRecords } from './fixtures/records.js';

function records(senders: number, maxPer: number, keys: number, seed: number) {
  const r = randomRecords(senders, maxPer, keys, seed);
  return { sent: r.sent, key: r.key, a: r.values, b: r.tags };
}

function arrays(senders: number, maxPer: number, keys: number, parts: number, sent: Uint32Array, key: Uint32Array): IndexArrays {
  return {
    keys,
    maxPer,
    sent,
    key,
    offsets: new Uint32Array(keys + 1).fill(77),
    perm: new Uint32Array(senders * maxPer),
    sender: new Uint32Array(senders * maxPer),
    cursor: new Uint32Array(keys),
    hist: new Uint32Array(parts * keys).fill(5),
    splitCursor: new Uint32Array(parts * keys),
    dest: new Uint32Array(senders * maxPer),
  };
}

describe('compiled index loops', () => {
  for (const maxPer of [1, 3]) {
    it(`serial sort and gather equal countingSortByKey + gather and the host oracle (maxPerActor ${maxPer})`, () => {
      const senders = 12_000;
      const keys = 211;
      const { sent, key, a, b } = records(senders, maxPer, keys, 3 + maxPer);
      const before = specialisedCopies().makeMessageLoops ?? 0;
      const arr = arrays(senders, maxPer, keys, 1, sent, key);
      const sa = new Float32Array(senders * maxPer);
      const sb = new Uint32Array(senders * maxPer);
      const loops = compileIndexLoops(arr, [
        [sa, a],
        [sb, b],
      ]);
      expect(specialisedCopies().makeMessageLoops).toBe(before + 1);
      // Twice: the second build must not see the first one's counts or cursors.
      for (let rep = 0; rep < 2; rep++) {
        const total = loops.message.sort(senders);
        for (const f of loops.fields) f.gather(0, total);
        // Shared functions.
        const offsets = new Uint32Array(keys + 1);
        const perm = new Uint32Array(senders * maxPer);
        const sender = new Uint32Array(senders * maxPer);
        expect(countingSortByKey(senders, maxPer, sent, key, keys, offsets, perm, sender, new Uint32Array(keys))).toBe(total);
        expect(arr.offsets).toEqual(offsets);
        expect(arr.perm.subarray(0, total)).toEqual(perm.subarray(0, total));
        expect(arr.sender.subarray(0, total)).toEqual(sender.subarray(0, total));
        const ga = new Float32Array(total);
        gather(ga, a, perm, total);
        expect(sa.subarray(0, total)).toEqual(ga);
        // Oracle: per key, the records in (sender, sequence) order.
        let i = 0;
        for (let k = 0; k < keys; k++) {
          expect(arr.offsets[k]).toBe(i);
          for (let s = 0; s < senders; s++) {
            for (let j = 0; j < sent[s]!; j++) {
              const q = s * maxPer + j;
              if (key[q] !== k) continue;
              expect([arr.sender[i], sa[i], sb[i]]).toEqual([s, a[q], b[q]]);
              i++;
            }
          }
        }
        expect(arr.offsets[keys]).toBe(i);
      }
    });

    for (const parts of [1, 2, 3]) {
      it(`split over ${parts} part(s): count, offsets and scatter give the serial index (maxPerActor ${maxPer})`, () => {
        const senders = 9_001;
        const keys = 97;
        const { sent, key, a, b } = records(senders, maxPer, keys, 40 + parts);
        const serial = arrays(senders, maxPer, keys, 1, sent, key);
        const sa = new Float32Array(senders * maxPer);
        const sb = new Uint32Array(senders * maxPer);
        const ref = compileIndexLoops(serial, [
          [sa, a],
          [sb, b],
        ]);
        const total = ref.message.sort(senders);
        for (const f of ref.fields) f.gather(0, total);
        const arr = arrays(senders, maxPer, keys, parts, sent, key);
        const pa = new Float32Array(senders * maxPer);
        const pb = new Uint32Array(senders * maxPer);
        const loops = compileIndexLoops(arr, [
          [pa, a],
          [pb, b],
        ]);
        const chunk = Math.ceil(senders / parts);
        const range = (p: number): [number, number] => [Math.min(senders, p * chunk), Math.min(senders, (p + 1) * chunk)];
        const kchunk = Math.ceil(keys / parts);
        const perRange = Array.from({ length: parts }, () => new Float64Array(parts));
        for (let p = 0; p < parts; p++) loops.message.count(...range(p), p * keys, perRange[p]!, kchunk);
        // Records per key range add up to the records of each part.
        for (let p = 0; p < parts; p++) {
          let n = 0;
          for (let k = 0; k < keys; k++) n += arr.hist[p * keys + k]!;
          expect(perRange[p]!.reduce((x, y) => x + y, 0)).toBe(n);
        }
        // Step 2 (offsets and cursors, what Executor.sortOffsets computes), by hand here.
        let run = 0;
        for (let k = 0; k < keys; k++) {
          arr.offsets[k] = run;
          for (let p = 0; p < parts; p++) {
            arr.splitCursor[p * keys + k] = run;
            run += arr.hist[p * keys + k]!;
          }
        }
        arr.offsets[keys] = run;
        expect(run).toBe(total);
        // Scatter the parts in reverse order: each part's records go to its own cursors.
        for (let p = parts - 1; p >= 0; p--) {
          loops.message.scatter(...range(p), p * keys);
          for (const f of loops.fields) f.scatter(...range(p));
        }
        expect(arr.offsets).toEqual(serial.offsets);
        expect(arr.perm.subarray(0, total)).toEqual(serial.perm.subarray(0, total));
        expect(arr.sender.subarray(0, total)).toEqual(serial.sender.subarray(0, total));
        expect(pa.subarray(0, total)).toEqual(sa.subarray(0, total));
        expect(pb.subarray(0, total)).toEqual(sb.subarray(0, total));
      });
    }
  }
});

describe('SimulationOptions.indexSplit', () => {
  it("'split' and 'serial' give the auto run's state; an unknown value is refused", async () => {
    // 70,000 nodes: enough senders for the split sort.
    const s = await loadScenario('deliveries');
    const setup = s.setup(parseParams(s, { n: '70000', hubs: '5' }));
    const spec = compileModel(setup.model);
    const sums: Record<string, string> = {};
    for (const indexSplit of ['auto', 'split', 'serial'] as const) {
      const sim = await Simulation.create(spec, { workers: 2, seed: 9, inlineBelow: 0, indexSplit });
      try {
        await setup.init(sim);
        sim.run(4);
        sums[indexSplit] = sim.checksum();
        const split = Object.values(sim.indexBuildTimes()).map((t) => t.split);
        if (indexSplit === 'split') expect(split.length > 0 && split.every(Boolean)).toBe(true);
        if (indexSplit === 'serial') expect(split).toEqual([]);
      } finally {
        await sim.close();
      }
    }
    expect(sums.split).toBe(sums.auto);
    expect(sums.serial).toBe(sums.auto);
    await expect(Simulation.create(spec, { workers: 1, indexSplit: 'sometimes' as 'auto' })).rejects.toThrow(/indexSplit must be 'auto', 'split' or 'serial'/);
  });
});
