/** Field type tags and the typed arrays behind them. */
export type DType = 'f32' | 'f64' | 'i32' | 'u32' | 'u8';

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

export const DTYPES: readonly DType[] = ['f32', 'f64', 'i32', 'u32', 'u8'];

export const BYTES_PER: Readonly<Record<DType, number>> = { f32: 4, f64: 8, i32: 4, u32: 4, u8: 1 };

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

/** Creates a typed array view of `length` elements of `dtype` over `buffer` at `byteOffset`. */
export function typedView(dtype: DType, buffer: ArrayBufferLike, byteOffset = 0, length?: number): TypedArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(buffer, byteOffset, length);
    case 'f64':
      return new Float64Array(buffer, byteOffset, length);
    case 'i32':
      return new Int32Array(buffer, byteOffset, length);
    case 'u32':
      return new Uint32Array(buffer, byteOffset, length);
    case 'u8':
      return new Uint8Array(buffer, byteOffset, length);
  }
}

/** Allocates a zeroed SharedArrayBuffer-backed column of `length` elements. */
export function sharedColumn(dtype: DType, length: number): TypedArray {
  const bytes = Math.max(8, Math.ceil((length * BYTES_PER[dtype]) / 8) * 8);
  return typedView(dtype, new SharedArrayBuffer(bytes), 0, length);
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'f64';
}
