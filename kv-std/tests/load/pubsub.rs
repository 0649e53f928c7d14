//! Pub/sub under load: 200 subscribers on every worker, 4 publishers × 50,000 messages; each
//! subscriber gets every message of its channels exactly once and in each publisher's order; a
//! subscriber that never reads is disconnected at its output buffer limit while the others keep
//! up; the server's memory stays bounded.

use crate::ServerProcess;
use kv_nostd::resp::{decode_reply, Limits, Reply};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PUBLISHERS: usize = 4;
const MESSAGES: u64 = 50_000;
const SUBSCRIBERS: usize = 200;
/// Of the subscribers, these listen to every publisher through a pattern.
const PATTERN_SUBSCRIBERS: usize = 10;
const DEADLINE: Duration = Duration::from_secs(180);

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut bytes = vec![0u8; kv_nostd::resp::encoded_request_len(args)];
    kv_nostd::resp::encode_request(args, &mut bytes).expect("sized");
    bytes
}

fn connect(s: &ServerProcess) -> TcpStream {
    let stream = TcpStream::connect(s.addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Reads replies until `f` says stop; panics on a read error or the deadline.
fn read_replies(stream: &mut TcpStream, start: Instant, mut f: impl FnMut(Reply<'_>) -> bool) {
    let mut buf = Vec::with_capacity(256 * 1024);
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let mut used = 0;
        while let Some((reply, n)) = decode_reply(&buf[used..], &Limits::REDIS).expect("valid") {
            used += n;
            if !f(reply) {
                return;
            }
        }
        buf.drain(..used);
        assert!(start.elapsed() < DEADLINE, "deadline passed");
        let n = stream.read(&mut chunk).expect("read");
        assert!(n > 0, "the server closed a subscriber that reads");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `(publisher, sequence)` of a message payload `p<publisher>:<sequence>`.
fn parse_payload(payload: &[u8]) -> (usize, u64) {
    let text = std::str::from_utf8(payload).expect("ascii");
    let (p, seq) = text[1..].split_once(':').expect("p:seq");
    (p.parse().unwrap(), seq.parse().unwrap())
}

#[test]
#[ignore = "load test: the README's test command runs it in a release build"]
fn every_subscriber_gets_every_message_in_order_and_a_stalled_one_is_dropped() {
    let server = ServerProcess::start(&[
        "--reserve",
        "1gb",
        "--client-output-buffer-limit",
        "pubsub 4mb 1mb 10",
    ]);
    let start = Instant::now();
    let rss_before = server.rss();

    // A subscriber that never reads, to every publisher.
    let mut stalled = connect(&server);
    stalled
        .write_all(&command(&[b"PSUBSCRIBE", b"ch*"]))
        .unwrap();

    let received = Arc::new(AtomicU64::new(0));
    let mut subscribers = Vec::new();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    for i in 0..SUBSCRIBERS {
        let mut stream = connect(&server);
        let pattern = i < PATTERN_SUBSCRIBERS;
        let channel = format!("ch{}", i % PUBLISHERS);
        let subscribe = if pattern {
            command(&[b"PSUBSCRIBE", b"ch*"])
        } else {
            command(&[b"SUBSCRIBE", channel.as_bytes()])
        };
        stream.write_all(&subscribe).unwrap();
        let ready = ready_tx.clone();
        let received = Arc::clone(&received);
        subscribers.push(std::thread::spawn(move || {
            let mut next = [0u64; PUBLISHERS];
            let wanted: Vec<usize> = if pattern {
                (0..PUBLISHERS).collect()
            } else {
                vec![i % PUBLISHERS]
            };
            let total = MESSAGES * wanted.len() as u64;
            let mut got = 0;
            let mut confirmed = false;
            read_replies(&mut stream, start, |reply| {
                let Reply::Array(a) = reply else {
                    panic!("subscriber {i}: {reply:?}");
                };
                let items: Vec<Reply<'_>> = a.iter().collect();
                let payload = match items.as_slice() {
                    [Reply::Bulk(b"subscribe" | b"psubscribe"), ..] => {
                        confirmed = true;
                        ready.send(()).unwrap();
                        return true;
                    }
                    [Reply::Bulk(b"message"), Reply::Bulk(_), Reply::Bulk(p)] => *p,
                    [Reply::Bulk(b"pmessage"), Reply::Bulk(_), Reply::Bulk(_), Reply::Bulk(p)] => {
                        *p
                    }
                    other => panic!("subscriber {i}: {other:?}"),
                };
                assert!(
                    confirmed,
                    "subscriber {i}: a message before the confirmation"
                );
                let (p, seq) = parse_payload(payload);
                assert!(
                    wanted.contains(&p),
                    "subscriber {i}: publisher {p} is not its"
                );
                assert_eq!(seq, next[p], "subscriber {i}: publisher {p} out of order");
                next[p] += 1;
                got += 1;
                received.fetch_add(1, Ordering::Relaxed);
                got < total
            });
            for p in wanted {
                assert_eq!(next[p], MESSAGES, "subscriber {i}: publisher {p}");
            }
            // Still connected: kept open until the server's list of clients is checked.
            stream
        }));
    }
    for _ in 0..SUBSCRIBERS {
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("subscribed");
    }

    let mut publishers = Vec::new();
    for p in 0..PUBLISHERS {
        let mut stream = connect(&server);
        publishers.push(std::thread::spawn(move || {
            let channel = format!("ch{p}");
            let padding = "x".repeat(32);
            let mut seq = 0;
            while seq < MESSAGES {
                let batch = 100.min(MESSAGES - seq);
                let mut bytes = Vec::new();
                for s in seq..seq + batch {
                    let payload = format!("p{p}:{s}:{padding}");
                    bytes.extend_from_slice(&command(&[
                        b"PUBLISH",
                        channel.as_bytes(),
                        payload
                            .split(':')
                            .take(2)
                            .collect::<Vec<_>>()
                            .join(":")
                            .as_bytes(),
                    ]));
                }
                stream.write_all(&bytes).unwrap();
                let mut replies = 0;
                read_replies(&mut stream, start, |reply| {
                    let Reply::Integer(n) = reply else {
                        panic!("PUBLISH answered {reply:?}");
                    };
                    // Its channel's subscribers and the pattern subscribers (the stalled one
                    // too, until it is dropped).
                    let channel_subs = (SUBSCRIBERS - PATTERN_SUBSCRIBERS) / PUBLISHERS;
                    assert!(n as usize >= channel_subs + PATTERN_SUBSCRIBERS, "{n}");
                    replies += 1;
                    replies < batch
                });
                seq += batch;
            }
        }));
    }
    let mut peak = server.rss();
    while publishers.iter().any(|t| !t.is_finished())
        || subscribers.iter().any(|t| !t.is_finished())
    {
        assert!(start.elapsed() < DEADLINE, "deadline passed");
        peak = peak.max(server.rss());
        std::thread::sleep(Duration::from_millis(50));
    }
    for t in publishers {
        t.join().expect("no publisher failed");
    }
    let _open: Vec<TcpStream> = subscribers
        .into_iter()
        .map(|t| t.join().expect("no subscriber failed"))
        .collect();
    let elapsed = start.elapsed();
    let delivered = received.load(Ordering::Relaxed);
    let expected = MESSAGES
        * ((SUBSCRIBERS - PATTERN_SUBSCRIBERS) as u64 + (PATTERN_SUBSCRIBERS * PUBLISHERS) as u64);
    assert_eq!(delivered, expected);

    // The stalled subscriber was dropped: what it can read ends, and the server lists it no
    // more.
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sink = vec![0u8; 1 << 20];
    let mut drained = 0usize;
    loop {
        match stalled.read(&mut sink) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the stalled subscriber was not dropped: {e} after {drained} bytes"),
        }
    }
    let mut admin = connect(&server);
    admin
        .write_all(&command(&[b"CLIENT", b"LIST", b"TYPE", b"pubsub"]))
        .unwrap();
    let mut listed = 0;
    read_replies(&mut admin, start, |reply| {
        let Reply::Bulk(text) = reply else {
            panic!("{reply:?}")
        };
        listed = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        false
    });
    assert_eq!(
        listed, SUBSCRIBERS,
        "only the subscribers that read are left"
    );
    let rss_after = server.rss();
    println!(
        "pub/sub load: {delivered} messages delivered in {:.1} s ({:.0}/s); the stalled \
         subscriber was dropped after {drained} bytes; server RSS {} MiB before, {} MiB at peak, \
         {} MiB after",
        elapsed.as_secs_f64(),
        delivered as f64 / elapsed.as_secs_f64(),
        rss_before >> 20,
        peak >> 20,
        rss_after >> 20,
    );
    assert!(
        peak < rss_before + (256 << 20),
        "server RSS grew from {} to {} MiB",
        rss_before >> 20,
        peak >> 20
    );
}
