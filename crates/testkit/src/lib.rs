//! Test helpers shared across the workspace: a counting global allocator that proves
//! a piece of code allocates nothing, and (feature `lockstep`) the runtime's lockstep
//! loop driver with a test's conveniences, [`lockstep::Lockstep`], and (feature `images`) signed
//! firmware images, [`images::signed`].
//!
//! A test binary installs it with
//! `#[global_allocator] static GLOBAL: embody_testkit::Counting = embody_testkit::Counting;`
//! and then asks [`allocations_during`] how many allocations a closure made.

#![allow(unsafe_code)] // a GlobalAlloc implementation is unsafe by definition

#[cfg(feature = "images")]
pub mod images;
#[cfg(feature = "lockstep")]
pub mod lockstep;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // Const-initialised and without a destructor: touching it never allocates.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: a thread being torn down has no counter left; its allocations are not
    // the code under test.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

/// A global allocator that forwards to the system allocator and counts every
/// allocation and reallocation (frees are not counted) per thread, so the test
/// harness's own threads cannot disturb a measurement.
pub struct Counting;

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations counted so far on the calling thread (only meaningful when [`Counting`]
/// is the global allocator).
pub fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Allocations the calling thread made while `f` ran.
pub fn allocations_during(f: impl FnOnce()) -> usize {
    let before = allocations();
    f();
    allocations() - before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    #[test]
    fn counts_this_threads_allocations_and_not_others() {
        let count = allocations_during(|| {
            std::hint::black_box(vec![1u8; 16]);
        });
        assert_eq!(count, 1);
        let count = allocations_during(|| {
            std::thread::spawn(|| std::hint::black_box(vec![1u8; 16]))
                .join()
                .ok();
        });
        // Spawning allocates on this thread; the other thread's vector is not counted
        // here (it would be one more than the spawn alone).
        let spawn_only = allocations_during(|| {
            std::thread::spawn(|| ()).join().ok();
        });
        assert_eq!(count, spawn_only);
        assert_eq!(allocations_during(|| ()), 0);
    }
}
