//! Many clients at once, checked against the final state they imply.

use crate::TestServer;
use redis::Commands;
use std::collections::HashMap;

#[test]
fn thirty_two_clients_on_overlapping_keys_end_in_the_modelled_state() {
    let s = TestServer::start();
    let addr = s.addr;
    // Each client owns the keys `c{client}:*` (so their final state is known exactly) and also
    // writes shared keys whose value must always be one some client wrote.
    let handles: Vec<_> = (0..32)
        .map(|client| {
            std::thread::spawn(move || {
                let mut con = redis::Client::open(format!("redis://{addr}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                let mut state: u64 = 0x9e37_79b9 ^ client;
                let mut mine: HashMap<String, Option<u64>> = HashMap::new();
                for op in 0..400u64 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let k = format!("c{client}:{}", state % 50);
                    match state % 5 {
                        0 => {
                            let _: i64 = con.del(&k).unwrap();
                            mine.insert(k, None);
                        }
                        1 => {
                            let shared = format!("shared:{}", state % 10);
                            let () = con.set(&shared, format!("{client}:{op}")).unwrap();
                            let got: String = con.get(&shared).unwrap();
                            let (c, o) = got.split_once(':').expect("well-formed value");
                            assert!(c.parse::<u64>().unwrap() < 32 && o.parse::<u64>().is_ok());
                        }
                        _ => {
                            let () = con.set(&k, op).unwrap();
                            mine.insert(k, Some(op));
                        }
                    }
                }
                mine
            })
        })
        .collect();
    let mut con = redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut expected_keys = 0;
    for h in handles {
        for (k, v) in h.join().unwrap() {
            let got: Option<u64> = con.get(&k).unwrap();
            assert_eq!(got, v, "{k}");
            expected_keys += usize::from(v.is_some());
        }
    }
    let shared: Vec<String> = con.keys("shared:*").unwrap();
    let size: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, expected_keys + shared.len());
}

/// `INCR` reads and writes its key under the key's lock: 8 clients × 10,000 increments of one
/// key end at exactly 80,000, every reply a different number (the load tests run 800,000, in
/// a release build).
#[test]
fn eight_clients_incrementing_one_key_lose_no_increment() {
    let s = TestServer::start();
    crate::counter::increment_together(s.addr, 8, 10_000);
}

/// `BITOP` reads its sources and writes its destination with all of them locked: 4 clients each
/// toggle their own bit of one key 1,001 times with `BITOP XOR acc acc mask`, and every bit
/// ends set. A read and a write apart would lose toggles, and leave bits clear.
#[test]
fn four_clients_toggling_bits_by_bitop_lose_no_toggle() {
    let s = TestServer::start();
    let addr = s.addr;
    let handles: Vec<_> = (0..4u8)
        .map(|client| {
            std::thread::spawn(move || {
                let mut con = redis::Client::open(format!("redis://{addr}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                let mask = format!("mask{client}");
                let _: () = con.set(&mask, &[1u8 << client]).unwrap();
                for _ in 0..1001 {
                    let len: i64 = redis::cmd("BITOP")
                        .arg("XOR")
                        .arg("acc")
                        .arg("acc")
                        .arg(&mask)
                        .query(&mut con)
                        .unwrap();
                    assert_eq!(len, 1);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut con = redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    let acc: Vec<u8> = con.get("acc").unwrap();
    assert_eq!(acc, [0x0f]);
}
