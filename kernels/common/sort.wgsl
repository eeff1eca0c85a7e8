// Stable counting sort of message records by key: the GPU twin of `countingSortByKey` in
// kernels/common/cpu.ts. Needs scan.wgsl's passes in between (sim/gpu/primitives.ts records them all).
//
// Records: sender s owns slots s*max_per .. s*max_per + sent[s]; slot r has receiver key key[r].
// Outputs: offsets[0..keys] (records of key k are at offsets[k] .. offsets[k+1], offsets[keys] = total),
// perm[i] = slot of sorted record i, sender[i] = its sender. Within a key, records are in slot order,
// that is (sender, sequence), as on the CPU, whatever the number of workgroups.
//
// Why not scatter with atomics: `dest = atomicAdd(&cursor[key], 1)` hands out places in whatever order
// invocations reach the atomic, so the order within a key would change from run to run. Instead:
//
//   offsets: `sort_histogram` on pass 0 counts records per key with global atomics (a count does not
//            depend on order); an exclusive scan with a total slot turns the counts into offsets.
//   order:   an LSD radix sort on the key, SORT_RADIX_BITS (8) bits per pass, passes = bytes needed for
//            keys - 1 (one pass for up to 256 keys, two for 65536, three for 16M). Each pass is stable,
//            so records of equal key keep the slot order in which pass 0 read them:
//            - Each workgroup owns one contiguous chunk of SORT_CHUNK records (chunk c holds records
//              c*SORT_CHUNK ..), so the order of chunks is the order of records.
//            - `sort_histogram` counts the chunk's records per digit into table[digit * chunks + c]
//              (digit-major). The exclusive scan of the whole table gives, for each (digit, chunk), the
//              number of records that go before the chunk's first record of that digit: all records of
//              smaller digits, plus those of the same digit in earlier chunks.
//            - `sort_scatter` reads the chunk again in rounds of SORT_WG records in order; a record's
//              place is table[digit * chunks + c] + (records of its digit in earlier rounds of this
//              chunk) + (invocations before it in this round with the same digit). The last term is a
//              popcount over per-digit bit masks in workgroup memory: an atomicOr sets the bits
//              (the order in which bits are set does not matter), and the rank is read after a barrier.
//   Only pass 0 reads the raw slots (and skips the invalid ones: j >= sent[s]); later passes read the
//   previous pass's dense (key, slot) arrays up to the total, offsets[keys].
//
// Faults (first fault wins, codes as in src/kernel.ts `Fault`): fault[0] = code, fault[1] = slot.
//   2 (address):  a key >= keys; the record is left out of the sort.
//   3 (capacity): sent[s] > max_per; only the first max_per records of s are sorted.

const SORT_WG: u32 = 256u;       // invocations per workgroup = records per round
const SORT_ROUNDS: u32 = 4u;
const SORT_CHUNK: u32 = 1024u;   // SORT_WG * SORT_ROUNDS records per workgroup
const SORT_RADIX: u32 = 256u;    // digits per pass (SORT_RADIX_BITS = 8); equals SORT_WG on purpose
const SORT_MASK_WORDS: u32 = 8u; // SORT_WG / 32 bits per digit per round

const FAULT_ADDRESS: u32 = 2u;
const FAULT_CAPACITY: u32 = 3u;

struct SortParams {
  records: u32, // raw slots: senders * max_per
  max_per: u32,
  keys: u32,
  chunks: u32,  // ceil(records / SORT_CHUNK)
  shift: u32,   // 8 * pass
  first: u32,   // 1 on pass 0: records are raw slots (sent, key_in); else dense (key_in, slot_in)
  last: u32,    // 1 on the last pass: also write sender_out
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: SortParams;
@group(0) @binding(1) var<storage, read> sent: array<u32>;
@group(0) @binding(2) var<storage, read> key_in: array<u32>;
@group(0) @binding(3) var<storage, read> slot_in: array<u32>;
/* layout: counts[0..keys] per-key counts, then in place the offsets; counts[keys] = total after the scan */
@group(0) @binding(4) var<storage, read_write> counts: array<atomic<u32>>;
/* layout: table[digit * chunks + chunk] = records of `digit` in `chunk`; scanned in place */
@group(0) @binding(5) var<storage, read_write> table: array<u32>;
@group(0) @binding(6) var<storage, read_write> key_out: array<u32>;
@group(0) @binding(7) var<storage, read_write> slot_out: array<u32>;
@group(0) @binding(8) var<storage, read_write> sender_out: array<u32>;
/* layout: [code, slot] of the first fault; 0 = none */
@group(0) @binding(9) var<storage, read_write> fault: array<atomic<u32>, 2>;

/* layout: hist[digit] = records of the chunk with that digit */
var<workgroup> hist: array<atomic<u32>, SORT_RADIX>;
/* layout: masks[digit * SORT_MASK_WORDS + w] bit b = invocation w*32+b of this round has `digit` */
var<workgroup> masks: array<atomic<u32>, 2048>; // SORT_RADIX * SORT_MASK_WORDS
/* layout: running[digit] = place of the next record of `digit` from this chunk */
var<workgroup> running: array<u32, SORT_RADIX>;

// A record of this pass: whether there is one, and its key. (The slot is read only by sort_scatter, so
// that sort_histogram does not use binding 3.)
struct SortRecord {
  valid: bool,
  key: u32,
}

fn raise_fault(code: u32, slot: u32) {
  // First fault wins; the weak exchange may fail spuriously, so retry while the word is still 0.
  loop {
    let r = atomicCompareExchangeWeak(&fault[0], 0u, code);
    if (r.exchanged) {
      atomicStore(&fault[1], slot);
      return;
    }
    if (r.old_value != 0u) { return; }
  }
}

// Record `r` of this pass. Pass 0 reads raw slot r; later passes read dense position r.
fn load_record(r: u32, total: u32) -> SortRecord {
  var rec = SortRecord(false, 0u);
  if (params.first != 0u) {
    if (r >= params.records) { return rec; }
    let s = r / params.max_per;
    let j = r - s * params.max_per;
    if (j >= min(sent[s], params.max_per)) { return rec; }
    rec.key = key_in[r];
    rec.valid = rec.key < params.keys;
  } else {
    if (r >= total) { return rec; }
    rec.key = key_in[r];
    rec.valid = true;
  }
  return rec;
}

// The raw slot of record `r` of this pass (pass 0: r itself).
fn load_slot(r: u32) -> u32 {
  if (params.first != 0u) { return r; }
  return slot_in[r];
}

fn chunk_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// The total after pass 0 (offsets[keys] once the offsets are scanned); unused on pass 0.
fn sorted_total() -> u32 {
  if (params.first != 0u) { return 0u; }
  return atomicLoad(&counts[params.keys]);
}

@compute @workgroup_size(SORT_WG)
fn sort_histogram(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) t: u32,
) {
  let chunk = chunk_index(wid, nwg);
  if (chunk >= params.chunks) { return; } // uniform
  atomicStore(&hist[t], 0u);
  workgroupBarrier();
  let total = sorted_total();
  for (var round = 0u; round < SORT_ROUNDS; round++) {
    let r = chunk * SORT_CHUNK + round * SORT_WG + t;
    if (params.first != 0u && r < params.records) {
      let s = r / params.max_per;
      let j = r - s * params.max_per;
      let c = sent[s];
      if (j == 0u && c > params.max_per) { raise_fault(FAULT_CAPACITY, r); }
      if (j < min(c, params.max_per) && key_in[r] >= params.keys) { raise_fault(FAULT_ADDRESS, r); }
    }
    let rec = load_record(r, total);
    if (rec.valid) {
      atomicAdd(&hist[(rec.key >> params.shift) & (SORT_RADIX - 1u)], 1u);
      if (params.first != 0u) { atomicAdd(&counts[rec.key], 1u); }
    }
  }
  workgroupBarrier();
  table[t * params.chunks + chunk] = atomicLoad(&hist[t]);
}

@compute @workgroup_size(SORT_WG)
fn sort_scatter(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) t: u32,
) {
  let chunk = chunk_index(wid, nwg);
  if (chunk >= params.chunks) { return; } // uniform
  running[t] = table[t * params.chunks + chunk];
  for (var w = 0u; w < SORT_MASK_WORDS; w++) { atomicStore(&masks[t * SORT_MASK_WORDS + w], 0u); }
  workgroupBarrier();

  let total = sorted_total();
  let word = t >> 5u;
  let bit = 1u << (t & 31u);
  for (var round = 0u; round < SORT_ROUNDS; round++) {
    let r = chunk * SORT_CHUNK + round * SORT_WG + t;
    let rec = load_record(r, total);
    let digit = (rec.key >> params.shift) & (SORT_RADIX - 1u);
    if (rec.valid) { atomicOr(&masks[digit * SORT_MASK_WORDS + word], bit); }
    workgroupBarrier();

    if (rec.valid) {
      // Invocations before t in this round with the same digit.
      var rank = countOneBits(atomicLoad(&masks[digit * SORT_MASK_WORDS + word]) & (bit - 1u));
      for (var w = 0u; w < word; w++) { rank += countOneBits(atomicLoad(&masks[digit * SORT_MASK_WORDS + w])); }
      let dest = running[digit] + rank;
      key_out[dest] = rec.key;
      let slot = load_slot(r);
      slot_out[dest] = slot;
      if (params.last != 0u) { sender_out[dest] = slot / params.max_per; }
    }
    workgroupBarrier();

    // Invocation t owns digit t: advance its running place past this round's records, clear its masks.
    var here = 0u;
    for (var w = 0u; w < SORT_MASK_WORDS; w++) {
      here += countOneBits(atomicLoad(&masks[t * SORT_MASK_WORDS + w]));
      atomicStore(&masks[t * SORT_MASK_WORDS + w], 0u);
    }
    running[t] += here;
    workgroupBarrier();
  }
}
