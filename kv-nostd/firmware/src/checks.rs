//! Checks counted as they run; the summary ends the program with QEMU's exit status.

use core::fmt::Debug;

use cortex_m_semihosting::{debug, hprintln};

/// Counts passed and failed checks; each failure is printed as it happens.
#[derive(Default)]
pub struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    /// No check run yet.
    pub const fn new() -> Self {
        Self {
            passed: 0,
            failed: 0,
        }
    }

    /// Records that `what` holds if `ok`; returns `ok`.
    pub fn check(&mut self, ok: bool, what: &str) -> bool {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            hprintln!("FAIL: {}", what);
        }
        ok
    }

    /// Records that `got` equals `want`, printing both when it does not; returns whether it did.
    pub fn eq<T: PartialEq + Debug>(&mut self, got: T, want: T, what: &str) -> bool {
        if got == want {
            self.passed += 1;
            true
        } else {
            self.failed += 1;
            hprintln!("FAIL: {}: got {:?}, want {:?}", what, got, want);
            false
        }
    }

    /// Prints `name: N passed, M failed` and ends the run: success only if nothing failed.
    pub fn finish(self, name: &str) -> ! {
        hprintln!("{}: {} passed, {} failed", name, self.passed, self.failed);
        debug::exit(if self.failed == 0 {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
        // Semihosting exit does not return under QEMU; on a probe without it, stop here.
        loop {
            cortex_m::asm::bkpt();
        }
    }
}
