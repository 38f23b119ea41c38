//! The process's memory allocator: large buffers in transparent huge pages.
//!
//! A 1024-px generator's activations, Winograd transforms and im2col columns are tens to
//! hundreds of MB each and live for one layer. The system allocator maps such a buffer afresh
//! every time, and the kernel then faults it in one 4 KiB page at a time; a page that is read
//! before it is written (mapped to the shared zero page first) costs a TLB shoot-down on every
//! other core that runs the process's threads. Measured on the 2-core host: about half of a
//! 1024-px generator's time was spent in the kernel that way (`bench generator --model
//! ffhq1024`: 3.0 s, 1.55 s with 2 MiB pages).
//!
//! So on Linux every allocation of at least [`HUGE_BUFFER`] bytes gets a mapping of its own,
//! aligned to 2 MiB and advised as huge pages (`MADV_HUGEPAGE`: honoured where transparent huge
//! pages are enabled as `always` or `madvise`, a no-op elsewhere); when freed it is kept for
//! the next allocation of its length, as long as the kept and the handed-out mappings stay
//! within the most ever handed out at once, and unmapped otherwise or when [`release_kept`]
//! is called. Everything smaller, and every allocation on other systems, goes to the system
//! allocator.

use std::alloc::{GlobalAlloc, Layout, System};

/// The allocator that `lib.rs` installs as the global one.
pub struct HugePageAllocator;

/// The size of a transparent huge page on x86-64 and aarch64 (4 KiB base pages).
pub const HUGE_PAGE: usize = 2 << 20;

/// Allocations from this size up get huge pages. glibc maps these afresh on every allocation
/// (its adaptive mmap threshold tops out at 32 MiB); smaller ones it serves from its heaps,
/// which reuse freed memory without new faults — taking those over too (from 4 MiB) made the
/// 64-px tuning step slower (0.08 → 0.12 s).
pub const HUGE_BUFFER: usize = 32 << 20;

/// Unmaps the freed large buffers kept for reuse (see `mapping::map`): for when a burst of
/// work ends (the engine going idle, a benchmark row finished), so that an idle process does
/// not hold them.
pub fn release_kept() {
    mapping::release_kept();
}

fn is_huge(layout: &Layout) -> bool {
    cfg!(target_os = "linux") && layout.size() >= HUGE_BUFFER && layout.align() <= HUGE_PAGE
}

// SAFETY: small allocations are the system allocator's; a huge one is a private anonymous
// mapping of at least its size (zeroed, aligned to 2 MiB, so to any `align` it may ask for up
// to that), owned by the caller until `dealloc` unmaps exactly it. Which of the two an
// allocation is follows from its layout alone, and `realloc` keeps the two apart.
unsafe impl GlobalAlloc for HugePageAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_huge(&layout) {
            mapping::map(layout.size()).0
        } else {
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_huge(&layout) {
            let (block, reused) = mapping::map(layout.size());
            if reused {
                // SAFETY: `block` holds at least `layout.size()` bytes (a fresh mapping reads
                // as zeros already)
                unsafe { block.write_bytes(0, layout.size()) };
            }
            block
        } else {
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_huge(&layout) {
            // SAFETY: allocated by `map` with this size (same layout as at allocation).
            unsafe { mapping::unmap(ptr, layout.size()) }
        } else {
            // SAFETY: allocated by the system allocator with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` with `layout.align()` is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if !is_huge(&layout) && !is_huge(&new_layout) {
            // SAFETY: forwarded; both the old and the new block are the system allocator's.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        if is_huge(&layout)
            && is_huge(&new_layout)
            && mapping::rounded(new_size) == mapping::rounded(layout.size())
        {
            // the mapping already holds the new size
            return ptr;
        }
        // SAFETY: as `alloc`/`dealloc` above; the copy stays inside both blocks.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(target_os = "linux")]
mod mapping {
    use super::HUGE_PAGE;

    /// `size` rounded up to whole huge pages: the length of its mapping.
    pub fn rounded(size: usize) -> usize {
        size.div_ceil(HUGE_PAGE) * HUGE_PAGE
    }

    /// At most this many freed mappings are kept.
    const KEEP_BLOCKS: usize = 256;

    /// Freed mappings kept for the next allocation of the same rounded length: a training
    /// step or a generator pass frees and asks again for the same sizes, and a kept mapping
    /// is neither faulted in nor zeroed by the kernel again. What is kept stays within what
    /// the work has needed: handed out + kept is at most the most that was ever handed out
    /// at once since the last release, so the process's peak stays what its work needs. (A
    /// 1024-px tuning step frees and asks again for several GB, more than the fixed 1.5 GiB
    /// keep this replaces held: 6.4 → 4.7 s a step. Allowing a fixed amount beyond the mark
    /// as well — 0.5 or 1.5 GiB — took it back to 6.4–7.6 s.)
    struct Kept {
        /// `(start, len, when freed)`; `len` 0: an empty slot.
        blocks: [(usize, usize, u64); KEEP_BLOCKS],
        /// Bytes kept.
        bytes: usize,
        /// Bytes handed out now.
        live: usize,
        /// The most bytes handed out at once since the last `release_kept`.
        peak: usize,
        clock: u64,
    }

    impl Kept {
        /// Takes the oldest kept mapping out of the keep, for unmapping.
        fn evict_oldest(&mut self) -> Option<(usize, usize)> {
            let oldest = (0..KEEP_BLOCKS)
                .filter(|&i| self.blocks[i].1 != 0)
                .min_by_key(|&i| self.blocks[i].2)?;
            let (start, len, _) = self.blocks[oldest];
            self.blocks[oldest] = (0, 0, 0);
            self.bytes -= len;
            Some((start, len))
        }

        /// The bytes that may be kept with `live` bytes handed out.
        fn room(&self, live: usize) -> usize {
            self.peak.saturating_sub(live)
        }

        fn hand_out(&mut self, len: usize) {
            self.live += len;
            self.peak = self.peak.max(self.live);
        }
    }

    static KEPT: std::sync::Mutex<Kept> = std::sync::Mutex::new(Kept {
        blocks: [(0, 0, 0); KEEP_BLOCKS],
        bytes: 0,
        live: 0,
        peak: 0,
        clock: 0,
    });

    fn kept() -> std::sync::MutexGuard<'static, Kept> {
        KEPT.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// (bytes handed out, bytes kept, their high-water mark): for the tests.
    #[cfg(test)]
    pub fn usage() -> (usize, usize, usize) {
        let kept = kept();
        (kept.live, kept.bytes, kept.peak)
    }

    /// A mapping of `size` bytes (rounded up to whole huge pages) starting on a huge-page
    /// boundary: a kept one of that length (`true`: its contents are unspecified) or a new,
    /// zeroed one advised as huge pages (`false`; kept mappings of other lengths are given
    /// back first as far as the new one would raise the high-water mark); null when the
    /// system has no memory for it.
    pub fn map(size: usize) -> (*mut u8, bool) {
        let len = rounded(size);
        let mut evicted = Vec::new();
        {
            let mut kept = kept();
            let newest = (0..KEEP_BLOCKS)
                .filter(|&i| kept.blocks[i].1 == len)
                .max_by_key(|&i| kept.blocks[i].2);
            if let Some(i) = newest {
                let (start, _, _) = kept.blocks[i];
                kept.blocks[i] = (0, 0, 0);
                kept.bytes -= len;
                kept.hand_out(len);
                return (start as *mut u8, true);
            }
            let room = kept.room(kept.live + len);
            while kept.bytes > room {
                evicted.extend(kept.evict_oldest());
            }
            kept.hand_out(len);
        }
        for (start, old_len) in evicted {
            // SAFETY: a kept mapping: freed by its owner, referred to by nothing.
            unsafe { libc::munmap(start as *mut libc::c_void, old_len) };
        }
        let block = new_mapping(len);
        if block.is_null() {
            kept().live -= len;
        }
        (block, false)
    }

    fn new_mapping(len: usize) -> *mut u8 {
        // one huge page more than needed, so that an aligned start lies inside
        let Some(padded) = len.checked_add(HUGE_PAGE) else {
            return std::ptr::null_mut();
        };
        // SAFETY: a new anonymous mapping; no existing memory is touched.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                padded,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        let raw = raw as usize;
        let start = raw.next_multiple_of(HUGE_PAGE);
        let head = start - raw;
        let tail = padded - head - len;
        // SAFETY: the head and the tail are the parts of the new mapping outside
        // [start, start + len), which nothing refers to; the advice only concerns that range.
        unsafe {
            if head > 0 {
                libc::munmap(raw as *mut libc::c_void, head);
            }
            if tail > 0 {
                libc::munmap((start + len) as *mut libc::c_void, tail);
            }
            // only advice: without transparent huge pages the range stays in 4 KiB pages
            libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
        start as *mut u8
    }

    pub fn release_kept() {
        let blocks = {
            let mut kept = kept();
            kept.bytes = 0;
            kept.peak = kept.live;
            std::mem::replace(&mut kept.blocks, [(0, 0, 0); KEEP_BLOCKS])
        };
        for (start, len, _) in blocks {
            if len > 0 {
                // SAFETY: a kept mapping: freed by its owner, referred to by nothing.
                unsafe { libc::munmap(start as *mut libc::c_void, len) };
            }
        }
    }

    /// Gives back what `map(size)` returned: kept for reuse (the oldest kept mappings make
    /// way when all slots are taken or the keep has no room; it always has room for a block
    /// that was counted in the high-water mark).
    ///
    /// # Safety
    /// `ptr` comes from `map(size)` with the same `size` and is not used afterwards.
    pub unsafe fn unmap(ptr: *mut u8, size: usize) {
        let len = rounded(size);
        let evicted = {
            let mut kept = kept();
            kept.live -= len;
            kept.clock += 1;
            let mut evicted = Vec::new();
            if kept.blocks.iter().all(|b| b.1 != 0) {
                evicted.extend(kept.evict_oldest());
            }
            let free = (0..KEEP_BLOCKS)
                .find(|&i| kept.blocks[i].1 == 0)
                .expect("a slot is free");
            let clock = kept.clock;
            kept.blocks[free] = (ptr as usize, len, clock);
            kept.bytes += len;
            let room = kept.room(kept.live);
            while kept.bytes > room {
                evicted.extend(kept.evict_oldest());
            }
            evicted
        };
        for (start, len) in evicted {
            // SAFETY: kept mappings (this one included) that nothing refers to any more.
            unsafe { libc::munmap(start as *mut libc::c_void, len) };
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod mapping {
    // `is_huge` is false off Linux, so these are never reached.
    pub fn rounded(size: usize) -> usize {
        size
    }
    pub fn map(_size: usize) -> (*mut u8, bool) {
        (std::ptr::null_mut(), false)
    }
    pub unsafe fn unmap(_ptr: *mut u8, _size: usize) {}
    pub fn release_kept() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keep is one per process: its tests take turns.
    static KEEP_IN_USE: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Through the allocator's own entry points: large blocks start on a huge-page boundary
    /// and read as zeros when asked for zeros, also when a kept block is handed out again; a
    /// block that grows from small to huge, inside
    /// its mapping, past it, and shrinks back keeps its values at every step (the system
    /// allocator and the mappings handing over in `realloc`).
    #[test]
    fn blocks_keep_their_values_across_sizes() {
        let _turn = KEEP_IN_USE.lock().unwrap_or_else(|p| p.into_inner());
        let a = HugePageAllocator;
        let layout = |size| Layout::from_size_align(size, 8).unwrap();
        // SAFETY: every block is used inside its current layout and freed with it.
        unsafe {
            let zeros = a.alloc_zeroed(layout(HUGE_BUFFER));
            assert!(!zeros.is_null());
            let values = std::slice::from_raw_parts(zeros, HUGE_BUFFER);
            assert!(values.iter().all(|&v| v == 0));
            if cfg!(target_os = "linux") {
                assert_eq!(zeros as usize % HUGE_PAGE, 0);
            }
            // dirtied and freed, it is kept; asked for zeros again (the same size: it is
            // handed back), it reads as zeros all the same
            zeros.write_bytes(0xa5, HUGE_BUFFER);
            a.dealloc(zeros, layout(HUGE_BUFFER));
            let again = a.alloc_zeroed(layout(HUGE_BUFFER));
            if cfg!(target_os = "linux") {
                assert_eq!(again, zeros, "the kept block is reused");
            }
            let values = std::slice::from_raw_parts(again, HUGE_BUFFER);
            assert!(values.iter().all(|&v| v == 0));
            a.dealloc(again, layout(HUGE_BUFFER));
            release_kept();

            let pattern = |i: usize| (i % 251) as u8;
            let mut size = 1000;
            let mut block = a.alloc(layout(size));
            for i in 0..size {
                *block.add(i) = pattern(i);
            }
            for new_size in [
                HUGE_BUFFER + 3,     // small → huge
                HUGE_BUFFER + 1000,  // inside the same mapping
                3 * HUGE_BUFFER + 7, // to a longer mapping
                HUGE_BUFFER + 5,     // to a shorter one
                500,                 // huge → small
            ] {
                block = a.realloc(block, layout(size), new_size);
                assert!(!block.is_null());
                for i in 0..size.min(new_size) {
                    assert_eq!(
                        *block.add(i),
                        pattern(i),
                        "byte {i} after {size} → {new_size}"
                    );
                }
                for i in size.min(new_size)..new_size {
                    *block.add(i) = pattern(i);
                }
                size = new_size;
            }
            a.dealloc(block, layout(size));
        }
    }

    /// Freed blocks are kept, and a new size gives back the oldest kept ones as far as it
    /// would raise the most that was ever handed out at once; a kept
    /// block of the asked size is handed out again; a release gives everything back. (The
    /// blocks are only mapped, never touched: no memory is used.)
    #[cfg(target_os = "linux")]
    #[test]
    fn the_keep_stays_under_the_high_water_mark() {
        let _turn = KEEP_IN_USE.lock().unwrap_or_else(|p| p.into_inner());
        const MB: usize = 1 << 20;
        const GB: usize = 1 << 30;
        let a = HugePageAllocator;
        let layout = |size| Layout::from_size_align(size, 8).unwrap();
        release_kept();
        // SAFETY: every block is freed with its layout and not used after.
        unsafe {
            let first = a.alloc(layout(GB));
            let second = a.alloc(layout(GB));
            assert!(!first.is_null() && !second.is_null());
            assert_eq!(mapping::usage(), (2 * GB, 0, 2 * GB));
            a.dealloc(first, layout(GB));
            a.dealloc(second, layout(GB));
            assert_eq!(mapping::usage(), (0, 2 * GB, 2 * GB));
            // 32 MB new + 2 GB kept would pass 2 GB: the older kept block goes
            let third = a.alloc(layout(32 * MB));
            assert_eq!(mapping::usage(), (32 * MB, GB, 2 * GB));
            let again = a.alloc(layout(GB));
            assert_eq!(again, second, "the kept block of that size is handed out");
            assert_eq!(mapping::usage(), (GB + 32 * MB, 0, 2 * GB));
            a.dealloc(third, layout(32 * MB));
            a.dealloc(again, layout(GB));
        }
        release_kept();
        assert_eq!(mapping::usage(), (0, 0, 0));
    }
}
