//! Stack measurement by painting: fill unused stack with a pattern, run, and find the lowest
//! word that no longer holds it. The stack grows down from the top of RAM towards `_stack_end`,
//! the end of `.bss` (both defined by cortex-m-rt's linker script).

use core::arch::asm;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The pattern painted into unused stack.
const PAINT: u32 = 0x5AA5_C33C;

/// How far below the current stack pointer [`measure`] paints; a call deeper than this reads
/// as exactly this deep.
pub const WINDOW: usize = 8 * 1024;

/// How far below the stack pointer at [`paint_run`] the whole run is watched.
const RUN_WINDOW: usize = 64 * 1024;

/// The lowest address the run's painting reaches, and the deepest address seen used so far.
static RUN_BOTTOM: AtomicUsize = AtomicUsize::new(0);
static RUN_LOWEST: AtomicUsize = AtomicUsize::new(usize::MAX);

extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

fn stack_top() -> usize {
    core::ptr::addr_of!(_stack_start) as usize
}

fn stack_limit() -> usize {
    core::ptr::addr_of!(_stack_end) as usize
}

/// Paints every word from `bottom` up to the stack pointer, touching no stack itself (so the
/// painting cannot overwrite its own frame). Returns the stack pointer.
#[inline(always)]
fn paint_to_sp(bottom: usize) -> usize {
    let sp: usize;
    // SAFETY: the words from `bottom` (at or above `_stack_end`, so not `.bss` or `.data`) up to
    // the stack pointer are below every live frame: nothing lives there until a call or an
    // exception pushes a frame. The loop keeps its state in registers and pushes nothing.
    unsafe {
        asm!(
            "2:",
            "cmp {p}, sp",
            "bhs 3f",
            "str {v}, [{p}], #4",
            "b 2b",
            "3:",
            "mov {sp}, sp",
            p = inout(reg) bottom & !3 => _,
            v = in(reg) PAINT,
            sp = out(reg) sp,
            options(nostack),
        );
    }
    sp
}

/// The lowest address in `bottom..top` that no longer holds the paint, or `top`.
fn lowest_used(bottom: usize, top: usize) -> usize {
    let mut at = bottom & !3;
    while at < top {
        // SAFETY: `at` is a word-aligned address between `_stack_end` and the stack pointer
        // read when painting, inside RAM; a volatile read of RAM has no side effect.
        if unsafe { core::ptr::read_volatile(at as *const u32) } != PAINT {
            return at;
        }
        at += 4;
    }
    top
}

/// Paints the stack below the caller, so that [`run_peak`] can tell the deepest the run went.
/// Call once, first thing in `main`.
pub fn paint_run() {
    let bottom = stack_limit().max(current_sp().saturating_sub(RUN_WINDOW));
    RUN_BOTTOM.store(bottom, Ordering::Relaxed);
    paint_to_sp(bottom);
}

/// The deepest stack use of the run so far, interrupt handlers included, in bytes below the
/// top of the stack.
pub fn run_peak() -> usize {
    note_run_lowest();
    stack_top().saturating_sub(RUN_LOWEST.load(Ordering::Relaxed))
}

fn note_run_lowest() {
    let bottom = RUN_BOTTOM.load(Ordering::Relaxed);
    if bottom != 0 {
        let low = lowest_used(bottom, current_sp());
        RUN_LOWEST.fetch_min(low, Ordering::Relaxed);
    }
}

fn current_sp() -> usize {
    cortex_m::register::msp::read() as usize
}

/// Runs `f` with interrupts masked and returns what it returned and the most stack it used, in
/// bytes below the caller's stack pointer (the call's own return frame included).
#[inline(never)]
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    cortex_m::interrupt::free(|_| {
        // Repainting erases earlier marks; take the run's deepest point first.
        note_run_lowest();
        let bottom = stack_limit().max(current_sp().saturating_sub(WINDOW));
        let sp = paint_to_sp(bottom);
        let r = f();
        (r, sp - lowest_used(bottom, sp))
    })
}
