// Exclusive prefix sum over u32, in place, of any length up to the storage binding limit (the GPU twin
// of `exclusiveScan` in kernels/common/cpu.ts; sums wrap modulo 2^32 like a Uint32Array store).
//
// Multi-level (sim/gpu/primitives.ts records the passes):
//   1. `scan_blocks` on level 0 (the data): each workgroup scans one block of SCAN_BLOCK elements in
//      place and writes the block's total into `sums[block]`, which is level 1.
//   2. The same on level 1, level 2, ... until a level fits in one block (16M elements: 3 levels).
//   3. `add_block_offsets` from the second-highest level down to level 0: every element of block b > 0
//      gets the (now scanned) `sums[b]` added.
//
// The total slot: with `len = n + 1` the scan treats the input at index n as 0, so `data[n]` gets the
// total, as `exclusiveScan(a, n)` does when `a.length > n`. With `len = n` there is no total slot.
//
// Workgroups are numbered `wid.x + wid.y * nwg.x`, so the host may fold more than
// maxComputeWorkgroupsPerDimension (65535) workgroups into a 2D grid; extra workgroups return at once.

const SCAN_WG: u32 = 256u;     // invocations per workgroup
const SCAN_ITEMS: u32 = 4u;    // consecutive elements per invocation
const SCAN_BLOCK: u32 = 1024u; // SCAN_WG * SCAN_ITEMS elements per workgroup
const SCAN_RAKE: u32 = 16u;    // sqrt(SCAN_WG): runs of totals scanned serially

struct ScanParams {
  n: u32,    // elements of input; index >= n reads as 0
  len: u32,  // elements written: n, or n + 1 for a total slot
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: ScanParams;
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@group(0) @binding(2) var<storage, read_write> sums: array<u32>;

/* layout: tile[k * SCAN_WG + t] = the block's element k * SCAN_WG + t (loads and stores coalesced) */
var<workgroup> tile: array<u32, SCAN_BLOCK>;
/* layout: partial[t] = invocation t's total, then the exclusive scan of the totals within its run */
var<workgroup> partial: array<u32, SCAN_WG>;
/* layout: rake[r] = exclusive scan of the run totals (run r = invocations r*SCAN_RAKE ..); rake[SCAN_RAKE] = block total */
var<workgroup> rake: array<u32, 17>; // SCAN_RAKE + 1

@compute @workgroup_size(SCAN_WG)
fn scan_blocks(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) t: u32,
) {
  let block = wid.x + wid.y * nwg.x;
  let base = block * SCAN_BLOCK;
  if (base >= params.len) { return; } // uniform: depends only on the workgroup id and the uniform

  for (var k = 0u; k < SCAN_ITEMS; k++) {
    let i = base + k * SCAN_WG + t;
    var x = 0u;
    if (i < params.n) { x = data[i]; }
    tile[k * SCAN_WG + t] = x;
  }
  workgroupBarrier();

  // Each invocation scans its SCAN_ITEMS consecutive elements of the tile.
  var own: array<u32, SCAN_ITEMS>;
  var run = 0u;
  for (var k = 0u; k < SCAN_ITEMS; k++) {
    own[k] = run;
    run += tile[t * SCAN_ITEMS + k];
  }

  // Exclusive scan of the per-invocation totals by raking: SCAN_RAKE invocations each scan a run of
  // SCAN_RAKE totals serially, one invocation scans the run totals, then each adds its run's offset.
  // Three barriers instead of 2 log2(SCAN_WG) for Hillis-Steele; on lavapipe, where a barrier is
  // costly, this halves the kernel's time.
  partial[t] = run;
  workgroupBarrier();
  if (t < SCAN_RAKE) {
    var acc = 0u;
    for (var k = 0u; k < SCAN_RAKE; k++) {
      let x = partial[t * SCAN_RAKE + k];
      partial[t * SCAN_RAKE + k] = acc;
      acc += x;
    }
    rake[t] = acc;
  }
  workgroupBarrier();
  if (t == 0u) {
    var acc = 0u;
    for (var k = 0u; k < SCAN_RAKE; k++) {
      let x = rake[k];
      rake[k] = acc;
      acc += x;
    }
    rake[SCAN_RAKE] = acc;
  }
  workgroupBarrier();
  let before = partial[t] + rake[t / SCAN_RAKE];

  for (var k = 0u; k < SCAN_ITEMS; k++) {
    tile[t * SCAN_ITEMS + k] = before + own[k];
  }
  workgroupBarrier();
  for (var k = 0u; k < SCAN_ITEMS; k++) {
    let i = base + k * SCAN_WG + t;
    if (i < params.len) { data[i] = tile[k * SCAN_WG + t]; }
  }
  if (t == 0u) { sums[block] = rake[SCAN_RAKE]; }
}

@compute @workgroup_size(SCAN_WG)
fn add_block_offsets(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) t: u32,
) {
  let block = wid.x + wid.y * nwg.x;
  let base = block * SCAN_BLOCK;
  if (block == 0u || base >= params.len) { return; } // block 0 adds 0
  let add = sums[block];
  for (var k = 0u; k < SCAN_ITEMS; k++) {
    let i = base + k * SCAN_WG + t;
    if (i < params.len) { data[i] += add; }
  }
}
