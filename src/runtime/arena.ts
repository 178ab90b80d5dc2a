/**
 * The arena: a first-fit allocator over the runtime's one WebAssembly.Memory.
 *
 * Kernels never allocate; every buffer they touch (tensor data, gradients, optimizer
 * state, GEMM packing scratch) is carved out here by the TypeScript side. Blocks are
 * 16-byte aligned (one v128), freed blocks return to an address-ordered free list and
 * coalesce with their neighbours, and the memory grows by whole pages when nothing fits.
 */

import { RESERVED_BYTES } from "./static-layout.js";

export const ALIGN = 16;
/** Bytes kept at the bottom of memory for the module's own static data (static-layout.ts). */
export { RESERVED_BYTES };
const PAGE = 65536;
/** wasm32 addresses 2³² bytes at most. */
export const WASM32_MAX_BYTES = 65536 * PAGE;

export interface MemoryStats {
  /** Bytes held by live allocations (after alignment). */
  bytesInUse: number;
  /** The most `bytesInUse` has ever been. */
  peakBytes: number;
  /** Size of the linear memory now. */
  capacityBytes: number;
  /** Number of live allocations. */
  liveAllocations: number;
  /** Allocations made since the runtime started; a training step that allocates nothing leaves it unchanged. */
  totalAllocations: number;
}

interface Block {
  offset: number;
  size: number;
}

export class Arena {
  /** Free blocks, sorted by offset, never adjacent (they coalesce). */
  private free: Block[] = [];
  /** Live blocks: offset → size. */
  private live = new Map<number, number>();
  private inUse = 0;
  private peak = 0;
  private total = 0;
  /** End of the region handed out so far; above it memory is untouched. */
  private top = RESERVED_BYTES;

  constructor(readonly memory: WebAssembly.Memory) {
    if (memory.buffer.byteLength < RESERVED_BYTES) this.growTo(RESERVED_BYTES, 0);
  }

  /** Allocates `bytes` (rounded up to 16) and returns the offset. Throws a clear error,
   *  leaving the arena unchanged, when wasm32 cannot hold it. */
  alloc(bytes: number, what = "alloc"): number {
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new RangeError(`${what}: cannot allocate ${bytes} bytes`);
    }
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let offset = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.size >= size) {
        offset = b.offset;
        if (b.size === size) this.free.splice(i, 1);
        else {
          b.offset += size;
          b.size -= size;
        }
        break;
      }
    }
    if (offset < 0) {
      // Take from the top; a free block ending at the top is extended instead of skipped.
      const last = this.free[this.free.length - 1];
      const start = last && last.offset + last.size === this.top ? last.offset : this.top;
      const end = start + size;
      if (end > WASM32_MAX_BYTES) {
        throw new RangeError(
          `${what}: out of memory: ${fmtBytes(bytes)} requested with ${fmtBytes(this.inUse)} in use; ` +
            `wasm32 linear memory holds at most 4 GiB`,
        );
      }
      this.growTo(end, bytes, what);
      if (start !== this.top) this.free.pop();
      this.top = end;
      offset = start;
    }
    this.live.set(offset, size);
    this.inUse += size;
    this.total++;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return offset;
  }

  /** Returns a block to the free list. Freeing an unknown offset is an error. */
  release(offset: number): void {
    const size = this.live.get(offset);
    if (size === undefined) throw new Error(`free: ${offset} is not a live allocation`);
    this.live.delete(offset);
    this.inUse -= size;
    // Insert in address order, then merge with neighbours.
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.free[mid]!.offset < offset) lo = mid + 1;
      else hi = mid;
    }
    const block: Block = { offset, size };
    this.free.splice(lo, 0, block);
    const next = this.free[lo + 1];
    if (next && block.offset + block.size === next.offset) {
      block.size += next.size;
      this.free.splice(lo + 1, 1);
    }
    const prev = this.free[lo - 1];
    if (prev && prev.offset + prev.size === block.offset) {
      prev.size += block.size;
      this.free.splice(lo, 1);
    }
  }

  /** Size in bytes of a live block. */
  sizeOf(offset: number): number {
    return this.live.get(offset) ?? 0;
  }

  stats(): MemoryStats {
    return {
      bytesInUse: this.inUse,
      peakBytes: this.peak,
      capacityBytes: this.memory.buffer.byteLength,
      liveAllocations: this.live.size,
      totalAllocations: this.total,
    };
  }

  private growTo(end: number, requested: number, what = "alloc"): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    // Grow by at least an eighth of what we have, so many small allocations stay cheap.
    const need = Math.ceil((end - have) / PAGE);
    const want = Math.min(Math.max(need, Math.ceil(have / PAGE / 8)), 65536 - have / PAGE);
    try {
      this.memory.grow(want);
    } catch {
      try {
        this.memory.grow(need);
      } catch {
        throw new RangeError(
          `${what}: out of memory: ${fmtBytes(requested)} requested with ${fmtBytes(this.inUse)} in use; ` +
            `the WebAssembly memory could not grow to ${fmtBytes(end)}`,
        );
      }
    }
  }
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(2)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}
