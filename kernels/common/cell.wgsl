// Spatial grid cell of a position: the WGSL twin of `cellOf` in kernels/common/cpu.ts. Prepend this file
// to any kernel that bins positions (like rng.wgsl, it declares functions only: no bindings).
//
// Per axis: floor((p - grid_min) * inv_cell_size), clamped into [0, dims); the cell id is
// (cz * dims.y + cy) * dims.x + cx. Positions outside the grid land in the border cells, as on the CPU.
//
// Pass inv_cell_size = Math.fround(1 / cellSize) per axis from the host: it is then the correctly
// rounded f32 reciprocal, whereas WGSL's `1.0 / x` is only accurate to 2.5 ULP.
//
// Agreement with the CPU (tested in test/wgsl-primitives.test.ts): the CPU computes in f64, this in f32,
// so a position within about one f32 rounding of a cell boundary may land in the neighbouring cell
// (never further: the index moves by at most 1 per axis). Away from boundaries, and exactly on the
// boundaries when cellSize and the grid minimum are powers of two (or sums of few of them), the cells
// are equal. Neighbour queries that scan the +-1 cells around a cell and then filter by distance are
// unaffected except for pairs within that rounding of the query radius.

fn cell_of(p: vec3f, grid_min: vec3f, inv_cell_size: vec3f, dims: vec3u) -> u32 {
  let c = floor((p - grid_min) * inv_cell_size);
  // Clamp in float (every dims value up to 2^24 is exact there) before converting, so that the
  // conversion to u32 never sees a negative or out-of-range value.
  let top = vec3f(dims) - vec3f(1.0);
  let cc = vec3u(clamp(c, vec3f(0.0), top));
  return (cc.z * dims.y + cc.y) * dims.x + cc.x;
}
