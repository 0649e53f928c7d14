//! Evicted keys are logged as `DEL`s: a server restarted from the log alone, with no memory
//! limit, holds exactly the keys the evicting server held.

use crate::{free_port, start};

#[test]
fn evictions_are_replayed_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let limit = [
        "--fsync",
        "always",
        "--save-interval",
        "0",
        "--maxmemory",
        "1mb",
        "--maxmemory-policy",
        "allkeys-lru",
    ];
    let s = start(dir.path(), free_port(), &limit);
    let mut con = s.client();
    let value = vec![b'v'; 1024];
    let keys: Vec<String> = (0..3000).map(|i| format!("key{i:05}")).collect();
    for k in &keys {
        let () = redis::cmd("SET")
            .arg(k)
            .arg(&value)
            .query(&mut con)
            .unwrap();
    }
    let present = |con: &mut redis::Connection| -> Vec<bool> {
        keys.iter()
            .map(|k| redis::cmd("EXISTS").arg(k).query::<usize>(con).unwrap() == 1)
            .collect()
    };
    let before = present(&mut con);
    let kept = before.iter().filter(|&&p| p).count();
    assert!(kept < keys.len(), "nothing evicted");
    // A crash: no snapshot, the log is all there is.
    s.kill();
    let s = start(
        dir.path(),
        free_port(),
        &["--fsync", "always", "--save-interval", "0"],
    );
    let mut con = s.client();
    assert!(present(&mut con) == before, "the replayed keys differ");
    let n: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, kept);
}
