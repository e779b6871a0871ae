// keepFreedMemoryResident: once a process receives large messages, glibc's malloc keeps the memory they are freed
// into instead of handing it back to the kernel and faulting it in again for the next ones.
//
// Why: every received message of 64 KiB or more gets a buffer of its own (malloc'd; the garbage collector frees them
// in batches). glibc returns the top of its heap to the kernel as soon as more than M_TRIM_THRESHOLD (128 KiB by
// default) is free there, so the next batch of messages faults fresh pages in, one per 4 KiB. On this project's
// virtual machines a page fault costs tens of microseconds: 64 KiB echo measured 0.05 to 1.9 faults per message from
// run to run, and the runs with many faults ran at a third of the speed (615 against 1,931 MB/s).
//
// How: glibc raises its thresholds by itself the first time a memory-mapped block between 128 KiB and 32 MiB is
// freed (the "dynamic mmap threshold", glibc 2.8 and later): blocks up to that size then come from the heap, and up
// to twice that size may stay free at the heap's top. Every Node process that ever frees such a buffer (a file read
// whole, a large request body) gets this. Here it is made to happen on the first large message, with a block of just
// under 32 MiB that is never touched: the garbage collector frees message buffers 10 MB and more at a time, and a
// 4 MiB block (8 MiB kept) still let most of each batch go back (strace: 11 trims of about 10 MB in 2 s). So a
// process that received large messages keeps up to 64 MiB of freed memory resident for the next ones. Measured on
// 64 KiB echo: 0.00-0.01 faults per message and 1.8-2.1 GB/s in every run. Elsewhere than glibc it costs one
// untouched allocation.
//
// Processes that never receive a large message are left as they are (an idle server's memory is returned as usual).
// HAYATE_KEEP_FREED_MEMORY=0 in the environment turns it off.

/** A received message of at least this many bytes turns it on (each such message is a malloc'd buffer of its own). */
export const LARGE_MESSAGE_BYTES = 64 * 1024;

/** The block whose release sets glibc's mmap threshold (to its size, under 32 MiB) and trim threshold (twice that). */
const THRESHOLD_BLOCK_BYTES = 32 * 1024 * 1024 - 64 * 1024;

let kept = false;

/**
 * keepFreedMemoryResident makes glibc keep freed large buffers for reuse (see the module header); once per process,
 * and not at all when HAYATE_KEEP_FREED_MEMORY=0.
 */
export function keepFreedMemoryResident(): void {
  if (kept) return;
  kept = true;
  if (process.env.HAYATE_KEEP_FREED_MEMORY === '0') return;
  // Allocated (memory-mapped, never touched) and dropped: glibc raises its thresholds when the garbage collector
  // frees it, on the next collection. Where address space is short (strict overcommit, a low ulimit -v) the
  // allocation can fail: then nothing changes, and the message is delivered as always.
  try {
    Buffer.allocUnsafeSlow(THRESHOLD_BLOCK_BYTES);
  } catch {
    // RangeError: Array buffer allocation failed
  }
}

/** freedMemoryKept says whether `keepFreedMemoryResident` has run in this process. */
export function freedMemoryKept(): boolean {
  return kept;
}
