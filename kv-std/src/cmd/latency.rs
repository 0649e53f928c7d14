//! `LATENCY HISTOGRAM|DOCTOR|LATEST|HISTORY|RESET|HELP`. `HISTOGRAM` gives each command's
//! latencies, kept as Redis keeps them (`latency-tracking`). kv records no latency events (Redis's
//! latency monitor, off by default there too), so the other lists are empty, a reset resets none,
//! and the doctor says why. The slow log (`SLOWLOG`) is where slow commands are kept.

use crate::db::Db;
use crate::reply::Out;
use kv_nostd::resp::Args;

/// `LATENCY subcommand [arg ...]`.
pub fn latency(sub: &str, args: Args<'_>, db: &Db, out: &mut Out) {
    match sub {
        "histogram" => {
            let names: Vec<&[u8]> = args.collect();
            db.commands.latency_histogram(&names, out);
        }
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
                "HISTOGRAM [COMMAND ...]",
                "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                "    If no commands are specified then all histograms are replied.",
                "HELP",
                "    Prints this help.",
            ];
            out.help(LINES);
        }
    }
}
