//! `DEBUG`: only what cannot hurt the server or its data. `DEBUG SLEEP` and `DEBUG HELP`; every
//! other subcommand of Redis's (crashes, reloads, memory leaks, protocol tests) is answered as
//! Redis answers one it does not know.
//!
//! Unlike Redis 7.0, kv does not refuse `DEBUG` by default (`enable-debug-command no`): it has
//! nothing dangerous behind it. `DEBUG SLEEP` stops the worker that serves the client, and so
//! every client of that worker, as Redis's stops its one thread.

use crate::reply::Out;
use kv_nostd::resp::Args;

/// `DEBUG subcommand [arg ...]`.
pub fn debug(mut args: Args<'_>, out: &mut Out) {
    let sub = args.next().unwrap_or_default();
    let rest: Vec<&[u8]> = args.collect();
    if sub.eq_ignore_ascii_case(b"help") && rest.is_empty() {
        const LINES: &[&str] = &[
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "HELP",
            "    Prints this help.",
        ];
        out.help(LINES);
    } else if sub.eq_ignore_ascii_case(b"sleep") && rest.len() == 1 {
        let seconds = strtod(rest[0]);
        if seconds > 0.0 {
            std::thread::sleep(std::time::Duration::from_secs_f64(seconds.min(1e9)));
        }
        out.ok();
    } else {
        out.error_fmt(format_args!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(sub)
        ));
    }
}

/// A number as C's `strtod` reads it for Redis: the longest prefix that is one, 0 if none.
fn strtod(text: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(text);
    let text = text.trim_start();
    (1..=text.len())
        .rev()
        .filter(|&end| text.is_char_boundary(end))
        .find_map(|end| text[..end].parse::<f64>().ok())
        .filter(|n| n.is_finite())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::strtod;

    #[test]
    fn sleep_reads_its_seconds_as_strtod_does() {
        assert_eq!(strtod(b"0.5"), 0.5);
        assert_eq!(strtod(b" 2abc"), 2.0);
        assert_eq!(strtod(b"x"), 0.0);
        assert_eq!(strtod(b"-1"), -1.0);
    }
}
