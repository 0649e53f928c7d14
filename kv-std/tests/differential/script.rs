//! The script language: one command per line, run on a named connection.
//!
//! ```text
//! # a comment
//! SET k "a value\r\n"          run on connection `a`, compare every reply frame
//! [b] SUBSCRIBE ch             run on connection `b` (opened on first use)
//! [b] read                     collect what arrived on `b` (pushes), compare
//! {sort} PUBSUB CHANNELS       compare the frames, and each aggregate's elements, sorted
//! {pairs} CONFIG GET a b       compare each frame's elements sorted as (key, value) pairs
//! {frames=1} GET k             read exactly one frame (no PING to mark the end: for a
//!                              connection that must not run PING, such as before AUTH)
//! ~ CLIENT NO-TOUCH on => "+OK\r\n"
//!                              a reply that differs from redis-server 7.0 by design: both
//!                              run; kv's must be the bytes after `=>`
//! [b] close                    close connection `b`
//! sleep 100                    wait 100 ms
//! ```
//!
//! A line `#! redis-server --flag value` starts redis-server with those flags too, where kv
//! behaves by design as redis-server does with them (`--enable-debug-command yes`).
//!
//! Arguments are separated by spaces; double quotes group and take the escapes `\r`, `\n`,
//! `\t`, `\\`, `\"` and `\xHH`. `$id(b)` and `$addr(b)` stand for connection `b`'s client id and
//! address on the server the line runs on.

/// One step of a script.
#[derive(Clone, Debug)]
pub struct Step {
    /// The script line number, for reports.
    pub line: usize,
    /// The line as written.
    pub text: String,
    /// The connection it runs on.
    pub conn: String,
    /// What it does.
    pub action: Action,
    /// Compare frames and aggregate elements in sorted order.
    pub sort: bool,
    /// Compare each frame's elements sorted by pairs.
    pub pairs: bool,
    /// Read exactly this many frames instead of marking the end with a PING.
    pub frames: Option<usize>,
    /// A known difference: kv's reply must be these bytes, whatever Redis answers.
    pub expect_kv: Option<Vec<u8>>,
}

/// What a step does.
#[derive(Clone, Debug)]
pub enum Action {
    /// Send a command.
    Command(Vec<Vec<u8>>),
    /// Collect what has arrived.
    Read,
    /// Close the connection.
    Close,
    /// Wait this many milliseconds.
    Sleep(u64),
}

/// Splits a script into steps; panics with the line number on a malformed line.
pub fn parse(script: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, raw) in script.lines().enumerate() {
        let line = i + 1;
        let mut rest = raw.trim();
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        let mut expect_kv = None;
        if let Some(known) = rest.strip_prefix('~') {
            let (command, expected) = known
                .split_once("=>")
                .unwrap_or_else(|| panic!("line {line}: `~` needs `=> \"kv's reply\"`"));
            let words = split(expected.trim(), line);
            assert_eq!(words.len(), 1, "line {line}: one quoted reply after =>");
            expect_kv = Some(words.into_iter().next().unwrap());
            rest = command.trim();
        }
        let mut conn = "a".to_string();
        if let Some(after) = rest.strip_prefix('[') {
            let (name, tail) = after
                .split_once(']')
                .unwrap_or_else(|| panic!("line {line}: unclosed ["));
            conn = name.to_string();
            rest = tail.trim();
        }
        let mut sort = false;
        let mut pairs = false;
        let mut frames = None;
        while let Some(after) = rest.strip_prefix('{') {
            let (option, tail) = after
                .split_once('}')
                .unwrap_or_else(|| panic!("line {line}: unclosed {{"));
            match option.split_once('=') {
                None if option == "sort" => sort = true,
                None if option == "pairs" => pairs = true,
                Some(("frames", n)) => frames = Some(n.parse().expect("frames=N")),
                _ => panic!("line {line}: unknown option {{{option}}}"),
            }
            rest = tail.trim();
        }
        let action = if rest == "read" {
            Action::Read
        } else if rest == "close" {
            Action::Close
        } else if let Some(ms) = rest.strip_prefix("sleep ") {
            Action::Sleep(ms.trim().parse().expect("sleep MS"))
        } else {
            let args = split(rest, line);
            assert!(!args.is_empty(), "line {line}: no command");
            Action::Command(args)
        };
        steps.push(Step {
            line,
            text: raw.trim().to_string(),
            conn,
            action,
            sort,
            pairs,
            frames,
            expect_kv,
        });
    }
    steps
}

/// Splits `text` into arguments: spaces separate, double quotes group with escapes.
fn split(text: &str, line: usize) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let mut arg = Vec::new();
        if bytes[i] == b'"' {
            i += 1;
            loop {
                let Some(&b) = bytes.get(i) else {
                    panic!("line {line}: unclosed quote");
                };
                i += 1;
                match b {
                    b'"' => break,
                    b'\\' => {
                        let e = bytes[i];
                        i += 1;
                        match e {
                            b'r' => arg.push(b'\r'),
                            b'n' => arg.push(b'\n'),
                            b't' => arg.push(b'\t'),
                            b'\\' => arg.push(b'\\'),
                            b'"' => arg.push(b'"'),
                            b'x' => {
                                let hex = std::str::from_utf8(&bytes[i..i + 2]).unwrap();
                                arg.push(u8::from_str_radix(hex, 16).expect("\\xHH"));
                                i += 2;
                            }
                            other => panic!("line {line}: unknown escape \\{}", other as char),
                        }
                    }
                    _ => arg.push(b),
                }
            }
        } else {
            while i < bytes.len() && bytes[i] != b' ' {
                arg.push(bytes[i]);
                i += 1;
            }
        }
        args.push(arg);
    }
    args
}

#[test]
fn scripts_parse_into_steps() {
    let steps = parse(
        "# c\nSET k \"a b\\r\\n\\x00\" \"\"\n[b] {sort} {frames=2} PUBSUB CHANNELS\n\
         ~ CLIENT NO-TOUCH on => \"+OK\\r\\n\"\n[b] read\nsleep 5\n",
    );
    assert_eq!(steps.len(), 5);
    let Action::Command(args) = &steps[0].action else {
        panic!()
    };
    assert_eq!(
        args,
        &[
            b"SET".to_vec(),
            b"k".to_vec(),
            b"a b\r\n\0".to_vec(),
            vec![]
        ]
    );
    assert_eq!(
        (steps[1].conn.as_str(), steps[1].sort, steps[1].frames),
        ("b", true, Some(2))
    );
    assert_eq!(steps[2].expect_kv.as_deref(), Some(&b"+OK\r\n"[..]));
    assert!(matches!(steps[3].action, Action::Read));
    assert!(matches!(steps[4].action, Action::Sleep(5)));
}
