//! The allocator of piratenldap's binaries, the call that gives freed memory back, and the
//! page-size switch for the start-up build.
//!
//! mimalloc instead of glibc malloc: the directory view is many small strings built on all
//! cores, and glibc's per-thread arenas keep what each thread freed (measured in
//! docs/performance-memory.md). mimalloc gives freed pages back to the system only after a
//! delay and only when the thread that freed them allocates again. Two kinds of work free a
//! lot at once and then rest: an argon2 verification (19 MiB with the default parameters, on a
//! hashing thread that may idle for long) and a view rebuild (the old view and the snapshot).
//! Each calls [`give_back_freed_memory`] after it, so the process's resident memory follows
//! what it holds (issue 17: about 40 MB less after a bind load at 50 000 members).
//!
//! [`SmallPages`] turns transparent huge pages off while the server builds its view at start:
//! the build at 100 000 members spent 42 % of its CPU in the kernel zeroing fresh 2 MiB pages
//! (`perf`, issue 17).

/// The global allocator the binaries declare (`#[global_allocator]`).
pub type Allocator = mimalloc::MiMalloc;

/// The allocator value for `#[global_allocator] static A: Allocator = ALLOCATOR;`.
pub const ALLOCATOR: Allocator = mimalloc::MiMalloc;

/// Transparent huge pages off for the process while this lives (Linux `PR_SET_THP_DISABLE`,
/// which overrides the `MADV_HUGEPAGE` mimalloc sets on its arenas); dropped, it puts back what
/// was before (an operator who started the process with huge pages off keeps them off).
///
/// For the start-up build of the view: on a virtual machine whose host takes back free memory
/// (free page reporting), the first touch of a fresh 2 MiB page costs about 4 ms, of a 4 KiB
/// page far less (the guest reuses pages the host still backs). Measured at 100 000 members, a
/// cold start: kernel time 0.86–0.99 s → 0.15–0.18 s, first search 1.0–1.3 s → 0.64–0.82 s.
/// Afterwards khugepaged merges the view into huge pages in the background (about 15 MB every
/// 10 s with the kernel's defaults), so searches keep huge pages' TLB reach
/// (docs/performance-memory.md). Without the call (an old kernel) nothing changes.
#[must_use = "huge pages come back when this is dropped"]
pub struct SmallPages {
    /// Whether huge pages were off already (then they stay off).
    were_off: bool,
}

impl SmallPages {
    /// Turns huge pages off until the value is dropped.
    pub fn now() -> Self {
        let were_off = thp_disabled();
        set_thp_disabled(true);
        Self { were_off }
    }
}

impl Drop for SmallPages {
    fn drop(&mut self) {
        set_thp_disabled(self.were_off);
    }
}

#[cfg(target_os = "linux")]
fn thp_disabled() -> bool {
    // SAFETY: prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) takes no pointers and only reads this
    // process's flag (1 off, 0 on, -1 an old kernel).
    #[allow(unsafe_code)]
    let flag = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
    flag == 1
}

#[cfg(target_os = "linux")]
fn set_thp_disabled(disabled: bool) {
    // SAFETY: prctl(PR_SET_THP_DISABLE, 0 or 1, 0, 0, 0) takes no pointers and changes only
    // this process's memory-management flags; an error (an old kernel) leaves them as they were.
    #[allow(unsafe_code)]
    unsafe {
        let _ = libc::prctl(libc::PR_SET_THP_DISABLE, libc::c_ulong::from(disabled), 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn thp_disabled() -> bool {
    false
}

#[cfg(not(target_os = "linux"))]
fn set_thp_disabled(_disabled: bool) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn small_pages_are_on_while_the_guard_lives_and_what_was_before_comes_back() {
        let before = thp_disabled();
        {
            let _pages = SmallPages::now();
            assert!(thp_disabled());
            {
                let _inner = SmallPages::now();
            }
            assert!(thp_disabled(), "an inner guard puts back the outer one's setting");
        }
        assert_eq!(thp_disabled(), before);
    }
}

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
