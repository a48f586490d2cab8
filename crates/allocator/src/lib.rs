//! The allocator of piratenldap's binaries and the one call that gives freed memory back.
//!
//! mimalloc instead of glibc malloc: the directory view is many small strings built on all
//! cores, and glibc's per-thread arenas keep what each thread freed (measured in
//! docs/performance-memory.md). mimalloc gives freed pages back to the system only after a
//! delay and only when the thread that freed them allocates again. Two kinds of work free a
//! lot at once and then rest: an argon2 verification (19 MiB with the default parameters, on a
//! hashing thread that may idle for long) and a view rebuild (the old view and the snapshot).
//! Each calls [`give_back_freed_memory`] after it, so the process's resident memory follows
//! what it holds (issue 17: about 40 MB less after a bind load at 50 000 members).

/// The global allocator the binaries declare (`#[global_allocator]`).
pub type Allocator = mimalloc::MiMalloc;

/// The allocator value for `#[global_allocator] static A: Allocator = ALLOCATOR;`.
pub const ALLOCATOR: Allocator = mimalloc::MiMalloc;

/// Gives the memory this thread and the process's arenas freed back to the system now. Costs
/// tens of microseconds: call it after work that freed megabytes, not per request. Harmless in
/// a process whose global allocator is another one (mimalloc's heaps are then empty).
pub fn give_back_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and only walks mimalloc's own heaps; mimalloc
    // documents it as callable from any thread at any time. No safe binding exists.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_collect(true)
    }
}
