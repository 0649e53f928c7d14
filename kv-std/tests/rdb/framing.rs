//! The replication payload framings: kv's writer and reader with every split of the bytes,
//! and a real redis-server master sending both.

use crate::{Client, RedisServer};
use kv_std::rdb::framing::{EofMark, FramingError, PayloadHeader, PayloadReader, PayloadWriter};
use kv_std::rdb::{LoadOptions, Loader, ReplInfo, WriteOptions, Writer};
use std::io::{self, BufRead, BufReader, Read, Write};

/// What follows the payload on the wire: the replication stream.
const STREAM: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// Keys and values.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// What a full sync from a master gave.
struct FullSync {
    header: PayloadHeader,
    repl: ReplInfo,
    entries: Pairs,
    /// The `+FULLRESYNC` line.
    fullresync: String,
}

fn rdb() -> (Vec<u8>, Pairs) {
    let entries: Pairs = (0..50u32)
        .map(|i| {
            (
                format!("key{i}").into_bytes(),
                vec![i as u8; i as usize * 7],
            )
        })
        .collect();
    let mut w = Writer::new(Vec::new(), WriteOptions::default()).unwrap();
    for (k, v) in &entries {
        w.write_entry(k, v, None).unwrap();
    }
    (w.finish().unwrap(), entries)
}

/// A reader that returns at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn framed(header: PayloadHeader, rdb: &[u8]) -> Vec<u8> {
    let mut wire = b"\n\n".to_vec();
    let mut w = PayloadWriter::new(&mut wire, header).unwrap();
    w.write_all(rdb).unwrap();
    w.finish().unwrap();
    wire.extend_from_slice(STREAM);
    wire
}

#[test]
fn both_framings_read_back_whatever_the_reads_split() {
    let (rdb, entries) = rdb();
    let mark = EofMark::random().unwrap();
    for header in [
        PayloadHeader::Length(rdb.len() as u64),
        PayloadHeader::EofMark(mark),
    ] {
        let wire = framed(header, &rdb);
        for step in [1, 2, 3, 7, 39, 40, 41, 64, 4096] {
            for capacity in [1, 5, 40, 8192] {
                let inner = BufReader::with_capacity(capacity, Trickle { data: &wire, step });
                let mut payload = PayloadReader::new(inner).unwrap();
                assert_eq!(payload.header(), header);
                // The loader over the payload, itself buffered.
                let mut loader = Loader::new(
                    BufReader::with_capacity(capacity, &mut payload),
                    LoadOptions::default(),
                )
                .unwrap();
                let loaded: Vec<_> = loader
                    .by_ref()
                    .map(|e| e.map(|e| (e.key, e.value)))
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(
                    loaded, entries,
                    "{header:?} step {step} capacity {capacity}"
                );
                let mut rest_of_payload = Vec::new();
                loader
                    .into_inner()
                    .read_to_end(&mut rest_of_payload)
                    .unwrap();
                assert!(rest_of_payload.is_empty());
                assert!(payload.is_done());
                let mut after = Vec::new();
                payload.into_inner().read_to_end(&mut after).unwrap();
                assert_eq!(after, STREAM, "{header:?} step {step} capacity {capacity}");
            }
        }
    }
}

#[test]
fn a_mark_prefix_inside_the_payload_is_payload() {
    // 40 distinct characters: no end of the mark is also its start.
    let mark = EofMark::new(*b"abcdefghijklmnopqrstuvwxyz0123456789ABCD");
    // The payload holds most of the mark, twice, once right before the real one.
    let body = [
        &b"x"[..],
        &mark.as_bytes()[..39],
        b"y",
        &mark.as_bytes()[..39],
    ]
    .concat();
    let wire = framed(PayloadHeader::EofMark(mark), &body);
    for step in 1..50 {
        let inner = BufReader::with_capacity(step, Trickle { data: &wire, step });
        let mut payload = PayloadReader::new(inner).unwrap();
        let mut got = Vec::new();
        payload.read_to_end(&mut got).unwrap();
        assert_eq!(got, body, "step {step}");
        let mut after = Vec::new();
        payload.into_inner().read_to_end(&mut after).unwrap();
        assert_eq!(after, STREAM);
    }
}

#[test]
fn headers_decode_sans_io_and_errors_name_their_cause() {
    let mark = *b"a23456789012345678901234567890123456789b";
    let eof_line = [&b"\n\n$EOF:"[..], &mark, b"\r\nREDIS"].concat();
    assert_eq!(
        PayloadHeader::decode(&eof_line).unwrap(),
        Some((
            PayloadHeader::EofMark(EofMark::new(mark)),
            eof_line.len() - 5
        ))
    );
    assert_eq!(
        PayloadHeader::decode(b"$224\r\nREDIS").unwrap(),
        Some((PayloadHeader::Length(224), 6))
    );
    assert_eq!(PayloadHeader::decode(b"\n$224").unwrap(), None);
    assert_eq!(PayloadHeader::decode(b"\n\n").unwrap(), None);
    assert!(
        matches!(PayloadHeader::decode(b"-ERR no\r\n"), Err(FramingError::Master(m)) if m == b"ERR no")
    );
    assert!(matches!(
        PayloadHeader::decode(b"+OK\r\n"),
        Err(FramingError::BadHeader(_))
    ));
    assert!(matches!(
        PayloadHeader::decode(b"$EOF:short\r\n"),
        Err(FramingError::BadHeader(_))
    ));
    assert!(matches!(
        PayloadHeader::decode(b"$-1\r\n"),
        Err(FramingError::BadHeader(_))
    ));
    assert!(matches!(
        PayloadHeader::decode(&[b'$'; 200]),
        Err(FramingError::LineTooLong)
    ));
    for header in [
        PayloadHeader::Length(0),
        PayloadHeader::Length(u64::MAX),
        PayloadHeader::EofMark(EofMark::new(mark)),
    ] {
        let mut line = Vec::new();
        header.encode(&mut line);
        assert_eq!(
            PayloadHeader::decode(&line).unwrap(),
            Some((header, line.len()))
        );
    }

    assert!(matches!(
        PayloadReader::new(&b"\n-LOADING\r\n"[..]),
        Err(FramingError::Master(_))
    ));
    assert!(matches!(
        PayloadReader::new(&b"$10"[..]),
        Err(FramingError::Truncated)
    ));
    let mut cut = PayloadReader::new(&b"$10\r\nREDIS"[..]).unwrap();
    let e = cut.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    let no_mark = [&b"$EOF:"[..], &mark, b"\r\nREDIS0010"].concat();
    let e = PayloadReader::new(&no_mark[..])
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn the_length_writer_holds_to_its_length() {
    let mut w = PayloadWriter::new(Vec::new(), PayloadHeader::Length(3)).unwrap();
    w.write_all(b"ab").unwrap();
    assert!(w.write_all(b"cd").is_err());
    let w = PayloadWriter::new(Vec::new(), PayloadHeader::Length(3)).unwrap();
    assert!(w.finish().is_err());
}

/// Asks `master` for a full sync as a replica would, with or without `capa eof`, and loads the
/// payload with kv's reader and loader.
fn full_sync(master: &RedisServer, diskless: bool) -> FullSync {
    let mut c = Client::connect(master.addr).unwrap();
    if diskless {
        c.call(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
            .ok();
    }
    c.send(&[b"PSYNC", b"?", b"-1"]);
    let line = String::from_utf8(c.line()).unwrap();
    let mut payload = PayloadReader::new(c.stream()).unwrap();
    let header = payload.header();
    let mut loader = Loader::new(BufReader::new(&mut payload), LoadOptions::default()).unwrap();
    let repl = loader
        .replication()
        .expect("a SYNC payload has replication aux fields");
    let mut entries: Vec<_> = loader
        .by_ref()
        .map(|e| e.map(|e| (e.key, e.value)).unwrap())
        .collect();
    entries.sort();
    assert!(loader.is_done());
    let mut rest = Vec::new();
    loader.into_inner().read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert!(payload.is_done());
    FullSync {
        header,
        repl,
        entries,
        fullresync: line,
    }
}

#[test]
fn a_real_master_s_payload_in_both_framings() {
    let dir = tempfile::tempdir().unwrap();
    let master = RedisServer::start(dir.path(), &["--repl-diskless-sync-delay", "0"])
        .unwrap_or_else(|log| panic!("{log}"));
    let mut c = master.client();
    let mut expected = Vec::new();
    for i in 0..300u32 {
        let (k, v) = (
            format!("k{i}").into_bytes(),
            format!("{}", i * 1000)
                .repeat(i as usize % 40 + 1)
                .into_bytes(),
        );
        c.call(&[b"SET", &k, &v]).ok();
        expected.push((k, v));
    }
    expected.sort();

    for (diskless, setting) in [(true, &b"yes"[..]), (false, b"no")] {
        c.call(&[b"CONFIG", b"SET", b"repl-diskless-sync", setting])
            .ok();
        let FullSync {
            header,
            repl,
            entries,
            fullresync,
        } = full_sync(&master, diskless);
        match header {
            PayloadHeader::EofMark(_) => assert!(diskless),
            PayloadHeader::Length(_) => assert!(!diskless),
        }
        assert_eq!(entries, expected);
        // "+FULLRESYNC <replid> <offset>" names the state the RDB's aux fields hold.
        let parts: Vec<&str> = fullresync.split(' ').collect();
        assert_eq!(parts[0], "+FULLRESYNC");
        assert_eq!(parts[1].as_bytes(), repl.id);
        assert_eq!(parts[2].parse::<i64>().unwrap(), repl.offset);
        assert_eq!(repl.stream_db, 0);
    }
}

#[test]
fn bytes_after_a_disk_payload_stay_in_the_stream() {
    // A disk-based payload is followed at once by the stream; nothing may be lost.
    let (rdb, _) = rdb();
    let wire = framed(PayloadHeader::Length(rdb.len() as u64), &rdb);
    let mut inner = BufReader::new(&wire[..]);
    let mut payload = PayloadReader::new(&mut inner).unwrap();
    let mut got = Vec::new();
    payload.read_to_end(&mut got).unwrap();
    assert_eq!(got, rdb);
    assert_eq!(inner.fill_buf().unwrap(), STREAM);
}
