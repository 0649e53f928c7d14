//! `LATENCY DOCTOR|LATEST|HISTORY|RESET|HELP`: kv records no latency events (Redis's latency
//! monitor, off by default there too), so the lists are empty, a reset resets none, and the
//! doctor says why. The slow log (`SLOWLOG`) is where slow commands are kept.

use crate::reply::Out;

/// `LATENCY subcommand [arg ...]`.
pub fn latency(sub: &str, out: &mut Out) {
    match sub {
        "latest" | "history" => out.array(0),
        "reset" => out.int(0),
        "doctor" => out.verbatim(
            b"I'm sorry, Dave, I can't do that. Latency monitoring is not available in this \
              server: kv records no latency events. Its slow log (SLOWLOG GET) lists the \
              commands that ran longer than slowlog-log-slower-than microseconds.\n",
        ),
        _ => {
            const LINES: &[&str] = &[
                "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DOCTOR",
                "    Return a human readable latency analysis report.",
                "HISTORY <event>",
                "    Return time-latency samples for the <event> class.",
                "LATEST",
                "    Return the latest latency samples for all events.",
                "RESET [<event> ...]",
                "    Reset latency data of one or more <event> classes.",
                "    (default: reset all data for all event classes)",
                "HELP",
                "    Prints this help.",
            ];
            out.help(LINES);
        }
    }
}
