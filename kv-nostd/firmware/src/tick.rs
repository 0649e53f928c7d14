//! SysTick, the interrupt that pre-empts the main loop, and the counters of what its calls met.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};

/// Processor cycles between two SysTick interrupts: short, so that many of them land while the
/// main loop is inside a write.
pub const PERIOD_CYCLES: u32 = 4_000;

/// How one call made from the interrupt handler ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It did its work, with the expected result.
    Completed,
    /// It found a bucket locked or mid-write and returned at once.
    Busy,
    /// A write found no memory for its new value (the main loop had filled the arena).
    NoSpace,
    /// It returned something a correct table never returns (a torn value, a missing key).
    Wrong,
}

/// Counts of the handler's calls, by outcome. Atomics: the handler writes them, the main loop
/// reads them.
pub struct Counters {
    ticks: AtomicU32,
    completed: AtomicU32,
    busy: AtomicU32,
    no_space: AtomicU32,
    wrong: AtomicU32,
}

impl Counters {
    /// All zero.
    pub const fn new() -> Self {
        Self {
            ticks: AtomicU32::new(0),
            completed: AtomicU32::new(0),
            busy: AtomicU32::new(0),
            no_space: AtomicU32::new(0),
            wrong: AtomicU32::new(0),
        }
    }

    /// Counts one interrupt and returns its number, from 0.
    pub fn tick(&self) -> u32 {
        self.ticks.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts one call's outcome.
    pub fn record(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Completed => &self.completed,
            Outcome::Busy => &self.busy,
            Outcome::NoSpace => &self.no_space,
            Outcome::Wrong => &self.wrong,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Interrupts taken so far.
    pub fn ticks(&self) -> u32 {
        self.ticks.load(Ordering::Relaxed)
    }

    /// Calls that completed so far.
    pub fn completed(&self) -> u32 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Calls that found a bucket busy so far.
    pub fn busy(&self) -> u32 {
        self.busy.load(Ordering::Relaxed)
    }

    /// Writes that found no memory so far.
    pub fn no_space(&self) -> u32 {
        self.no_space.load(Ordering::Relaxed)
    }

    /// Calls that returned a wrong result so far.
    pub fn wrong(&self) -> u32 {
        self.wrong.load(Ordering::Relaxed)
    }
}

impl Default for Counters {
    fn default() -> Self {
        Self::new()
    }
}

/// Makes SysTick fire every [`PERIOD_CYCLES`] processor cycles.
pub fn start(syst: &mut SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(PERIOD_CYCLES - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Stops SysTick; no interrupt is taken after this returns.
pub fn stop(syst: &mut SYST) {
    syst.disable_interrupt();
    syst.disable_counter();
    SCB::clear_pendst();
}
