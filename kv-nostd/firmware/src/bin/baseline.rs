#![no_std]
#![no_main]
use panic_semihosting as _;
#[cortex_m_rt::entry]
fn main() -> ! {
    cortex_m_semihosting::hprintln!("hi");
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_SUCCESS);
    loop {}
}
