//! The reviewed list of what may differ between redis-server and kv in a reply that is otherwise
//! compared byte for byte: connection ids, addresses, descriptors, times, buffer sizes, versions
//! and the fields of INFO. Each entry says which command it applies to and why it may differ.

use crate::frame::Frame;

/// What is masked in the replies to one command.
enum Mask {
    /// The values of these keys of a map (or of a RESP2 flat array of pairs).
    MapValues(&'static [&'static str]),
    /// An integer reply.
    Integer,
    /// An integer reply that is not negative (a negative one is a status, such as TTL's -2 for
    /// a missing key, and is compared).
    NonNegative,
    /// These `field=value` fields of every line of a text reply (`CLIENT INFO`, `CLIENT LIST`).
    ClientFields(&'static [&'static str]),
    /// INFO's text: its section headers, and the lines of `Commandstats` and `Latencystats` (in
    /// name order, their times masked) and `Errorstats`, are compared; the other fields are
    /// kv's own.
    Info,
    /// Every element of an aggregate (TIME's seconds and microseconds).
    Elements,
    /// The time, duration and client address of each `SLOWLOG GET` entry.
    Slowlog,
    /// The distribution of each command's latencies in a `LATENCY HISTOGRAM` map.
    Histogram,
}

/// The fields of a `CLIENT LIST` line that depend on the connection, the moment or the memory
/// layout of the server rather than on what the client did.
const CLIENT_FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "age",
    "idle",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
];

/// (command, mask, why). The command is the lower-cased name and, for commands with
/// subcommands, the subcommand.
const MASKS: &[(&str, Mask, &str)] = &[
    (
        "hello",
        Mask::MapValues(&["version", "id"]),
        "the server's version and the connection's id",
    ),
    (
        "client id",
        Mask::Integer,
        "ids count connections, and redis-server has its own",
    ),
    (
        "client info",
        Mask::ClientFields(CLIENT_FIELDS),
        "addresses, descriptors, times and buffer sizes",
    ),
    (
        "client list",
        Mask::ClientFields(CLIENT_FIELDS),
        "addresses, descriptors, times and buffer sizes",
    ),
    (
        "info",
        Mask::Info,
        "kv reports its own fields; the sections, command and error counts are compared",
    ),
    ("time", Mask::Elements, "the time"),
    (
        "latency histogram",
        Mask::Histogram,
        "how long each command took; the commands and their calls are compared",
    ),
    (
        "slowlog get",
        Mask::Slowlog,
        "when each command ran, how long it took, and from which port",
    ),
    ("lastsave", Mask::Integer, "a time"),
    (
        "pttl",
        Mask::NonNegative,
        "milliseconds left, which pass while the script runs",
    ),
];

/// The frames of a reply to `args` with what may differ masked.
pub fn apply(args: &[Vec<u8>], frames: &mut [Frame]) {
    let name = args
        .first()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .unwrap_or_default();
    let sub = args
        .get(1)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .unwrap_or_default();
    for (command, mask, _why) in MASKS {
        let hit = match command.split_once(' ') {
            Some((c, s)) => c == name && s == sub,
            None => *command == name,
        };
        if hit {
            for frame in frames.iter_mut() {
                mask_frame(mask, frame);
            }
        }
    }
}

fn mask_frame(mask: &Mask, frame: &mut Frame) {
    match (mask, frame) {
        (Mask::MapValues(keys), Frame::Aggregate { items, .. }) => {
            for pair in items.chunks_mut(2) {
                if let [Frame::Text { text, .. }, value] = pair {
                    if keys.iter().any(|k| k.as_bytes() == text.as_slice()) {
                        *value = masked(value);
                    }
                }
            }
        }
        (Mask::Integer, f @ Frame::Int(_)) => *f = masked(f),
        (Mask::NonNegative, f @ Frame::Int(_)) => {
            if matches!(f, Frame::Int(n) if *n >= 0) {
                *f = masked(f);
            }
        }
        (Mask::ClientFields(fields), Frame::Text { text, .. }) => {
            let lines: Vec<String> = String::from_utf8_lossy(text)
                .split('\n')
                .map(|line| {
                    line.split(' ')
                        .map(|kv| match kv.split_once('=') {
                            Some((k, _)) if fields.contains(&k) => format!("{k}=*"),
                            _ => kv.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            *text = lines.join("\n").into_bytes();
        }
        (Mask::Info, Frame::Text { text, .. }) => *text = info(text),
        (Mask::Elements, Frame::Aggregate { items, .. }) => {
            for item in items.iter_mut() {
                *item = masked(item);
            }
        }
        (Mask::Histogram, Frame::Aggregate { items, .. }) => {
            for command in items.iter_mut().skip(1).step_by(2) {
                if let Frame::Aggregate { items: fields, .. } = command {
                    for pair in fields.chunks_mut(2) {
                        if let [Frame::Text { text, .. }, value] = pair {
                            if text == b"histogram_usec" {
                                *value = Frame::Other(b"*\r\n".to_vec());
                            }
                        }
                    }
                }
            }
        }
        (Mask::Slowlog, Frame::Aggregate { items, .. }) => {
            for entry in items.iter_mut() {
                if let Frame::Aggregate { items: fields, .. } = entry {
                    for i in [1, 2, 4] {
                        if let Some(f) = fields.get_mut(i) {
                            *f = masked(f);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// INFO's text as compared: headers and blank lines, the `cmdstat_` and
/// `latency_percentiles_usec_` lines sorted by name (Redis lists them in a hash table's order)
/// with their times masked, the `errorstat_` lines.
fn info(text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let mut out: Vec<String> = Vec::new();
    let mut commands: Vec<String> = Vec::new();
    let flush = |out: &mut Vec<String>, commands: &mut Vec<String>| {
        commands.sort();
        out.append(commands);
    };
    for line in text.split("\r\n") {
        if let Some(latencies) = line.strip_prefix("latency_percentiles_usec_") {
            let (name, values) = latencies.split_once(':').unwrap_or((latencies, ""));
            let values: Vec<String> = values
                .split(',')
                .filter(|v| !v.is_empty())
                .map(|v| format!("{}=*", v.split_once('=').map_or(v, |(k, _)| k)))
                .collect();
            commands.push(format!(
                "latency_percentiles_usec_{name}:{}",
                values.join(",")
            ));
            continue;
        }
        if let Some(stat) = line.strip_prefix("cmdstat_") {
            let fields: Vec<String> = stat
                .split(',')
                .map(|f| match f.split_once('=') {
                    Some((k, _)) if k.ends_with("usec") || k == "usec_per_call" => format!("{k}=*"),
                    _ => f.to_string(),
                })
                .collect();
            commands.push(format!("cmdstat_{}", fields.join(",")));
            continue;
        }
        flush(&mut out, &mut commands);
        if line.is_empty() || line.starts_with('#') || line.starts_with("errorstat_") {
            out.push(line.to_string());
        }
    }
    flush(&mut out, &mut commands);
    out.join("\r\n").into_bytes()
}

/// The time and client address of `MONITOR` lines, on whatever step they arrive.
pub fn apply_monitor(frames: &mut [Frame]) {
    for frame in frames {
        if let Frame::Text {
            prefix: b'+', text, ..
        } = frame
        {
            let line = String::from_utf8_lossy(text).into_owned();
            let monitor = line.split_once(" [0 ").filter(|(time, _)| {
                time.contains('.') && time.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            });
            if let Some((_, rest)) = monitor {
                if let Some((_, args)) = rest.split_once("] ") {
                    *text = format!("*.* [0 *] {args}").into_bytes();
                }
            }
        }
    }
}

/// A placeholder of the same type as `frame`.
fn masked(frame: &Frame) -> Frame {
    match frame {
        Frame::Text { prefix, format, .. } => Frame::Text {
            prefix: *prefix,
            format: *format,
            text: b"*".to_vec(),
        },
        Frame::Int(_) => Frame::Other(b":*\r\n".to_vec()),
        other => other.clone(),
    }
}
