//! SIGKILL at random moments, with `--fsync always`: every acknowledged write survives.

use crate::{free_port, start};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WRITERS: usize = 4;
const KEYS_PER_WRITER: u64 = 200;
const CYCLES: usize = 20;

/// Per key: the last acknowledged version and the last attempted one.
type Ledger = HashMap<String, (u64, u64)>;

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let ledger: Arc<Mutex<Ledger>> = Arc::default();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut checked_total = 0;
    for cycle in 0..CYCLES {
        assert!(
            Instant::now() < deadline,
            "crash test ran out of time at cycle {cycle}"
        );
        // Small snapshots every second, so some kills land during one.
        let s = start(
            dir.path(),
            port,
            &["--fsync", "always", "--save-interval", "1"],
        );
        // Everything acknowledged before the last crash is there, with its value or a later
        // attempted one.
        {
            let mut con = s.client();
            let l = ledger.lock().unwrap();
            for (k, &(acked, attempted)) in l.iter() {
                let got: Option<u64> = redis::cmd("GET").arg(k).query(&mut con).unwrap();
                let Some(got) = got else {
                    // Never acknowledged: it may or may not have reached the disk.
                    assert_eq!(acked, 0, "cycle {cycle}: {k} (acked {acked}) lost");
                    continue;
                };
                assert!(
                    got >= acked && got <= attempted,
                    "cycle {cycle}: {k} holds {got}, acked {acked}, attempted {attempted}"
                );
                checked_total += 1;
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (ledger, stop) = (ledger.clone(), stop.clone());
                let mut seed = rng ^ (w as u64 + 1) ^ ((cycle as u64) << 32);
                std::thread::spawn(move || {
                    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    else {
                        return;
                    };
                    let Ok(mut con) = client.get_connection() else {
                        return;
                    };
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("w{w}:{}", next(&mut seed) % KEYS_PER_WRITER);
                        let version = {
                            let mut l = ledger.lock().unwrap();
                            let e = l.entry(key.clone()).or_insert((0, 0));
                            e.1 += 1;
                            e.1
                        };
                        let r: redis::RedisResult<()> =
                            redis::cmd("SET").arg(&key).arg(version).query(&mut con);
                        if r.is_err() {
                            return;
                        }
                        let mut l = ledger.lock().unwrap();
                        let e = l.get_mut(&key).unwrap();
                        e.0 = e.0.max(version);
                    }
                })
            })
            .collect();
        let pause = 30 + next(&mut rng) % 300;
        std::thread::sleep(Duration::from_millis(pause));
        s.kill();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
    }
    let s = start(dir.path(), port, &["--fsync", "always"]);
    let mut con = s.client();
    for (k, &(acked, attempted)) in ledger.lock().unwrap().iter() {
        let got: Option<u64> = redis::cmd("GET").arg(k).query(&mut con).unwrap();
        let Some(got) = got else {
            assert_eq!(acked, 0, "final: {k} (acked {acked}) lost");
            continue;
        };
        assert!(
            got >= acked && got <= attempted,
            "final: {k} holds {got}, acked {acked}..{attempted}"
        );
    }
    println!(
        "{CYCLES} kill/restart cycles, {checked_total} checks, {} keys",
        ledger.lock().unwrap().len()
    );
}

#[test]
fn a_kill_during_a_snapshot_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let s = start(
        dir.path(),
        port,
        &["--fsync", "always", "--save-interval", "0"],
    );
    let mut con = s.client();
    let mut pipe = redis::pipe();
    for i in 0..50_000 {
        pipe.cmd("SET")
            .arg(format!("key:{i:08}"))
            .arg(format!("value-{i}"))
            .ignore();
    }
    let () = pipe.query(&mut con).unwrap();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut s = Some(s);
    for round in 0..5 {
        let server = s.take().unwrap();
        let mut con = server.client();
        let _: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
        std::thread::sleep(Duration::from_millis(next(&mut rng) % 40));
        server.kill();
        let server = start(
            dir.path(),
            port,
            &["--fsync", "always", "--save-interval", "0"],
        );
        let mut con = server.client();
        let n: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert_eq!(n, 50_000, "round {round}: {}", server.log());
        let v: String = redis::cmd("GET")
            .arg("key:00049999")
            .query(&mut con)
            .unwrap();
        assert_eq!(v, "value-49999");
        s = Some(server);
    }
}
