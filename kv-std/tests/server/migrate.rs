//! `MIGRATE` between two servers outside cluster mode: keys move with their time to live, or are
//! copied, a key the target has is kept unless `REPLACE`, the `KEYS` form moves several, and a
//! target that refuses the password leaves every key where it was.

use crate::TestServer;
use kv_std::config::Config;
use redis::{Connection, RedisResult};

fn connect(url: String) -> Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

fn migrate(
    src: &mut Connection,
    target: &TestServer,
    key: &str,
    rest: &[&str],
) -> RedisResult<String> {
    redis::cmd("MIGRATE")
        .arg(target.addr.ip().to_string())
        .arg(target.addr.port())
        .arg(key)
        .arg(0)
        .arg(2000)
        .arg(rest)
        .query(src)
}

#[test]
fn migrate_moves_copies_replaces_and_authenticates() {
    let source = TestServer::start();
    let mut config = Config::local();
    config.password = Some(b"pw".to_vec());
    let target = TestServer::with(config);
    let mut src = connect(format!("redis://{}/", source.addr));
    let mut dst = connect(format!("redis://:pw@{}/", target.addr));
    let get = |c: &mut Connection, k: &str| -> Option<String> {
        redis::cmd("GET").arg(k).query(c).unwrap()
    };

    // One key, its deadline carried over.
    let _: () = redis::cmd("SET")
        .arg("a")
        .arg("1")
        .arg("PX")
        .arg(100_000)
        .query(&mut src)
        .unwrap();
    assert_eq!(
        migrate(&mut src, &target, "a", &["AUTH", "pw"]).unwrap(),
        "OK"
    );
    assert_eq!(get(&mut src, "a"), None);
    assert_eq!(get(&mut dst, "a").as_deref(), Some("1"));
    let pttl: i64 = redis::cmd("PTTL").arg("a").query(&mut dst).unwrap();
    assert!(
        pttl > 90_000 && pttl <= 100_000,
        "PTTL after MIGRATE: {pttl}"
    );

    // A key that is not there.
    assert_eq!(
        migrate(&mut src, &target, "missing", &["AUTH", "pw"]).unwrap(),
        "NOKEY"
    );

    // COPY keeps the source's key; the target's key stays unless REPLACE.
    let _: () = redis::cmd("SET").arg("b").arg("2").query(&mut src).unwrap();
    let _: () = redis::cmd("SET")
        .arg("b")
        .arg("old")
        .query(&mut dst)
        .unwrap();
    let busy = migrate(&mut src, &target, "b", &["COPY", "AUTH", "pw"]).unwrap_err();
    assert!(busy.to_string().contains("BUSYKEY"), "{busy}");
    assert_eq!(get(&mut dst, "b").as_deref(), Some("old"));
    assert_eq!(
        migrate(&mut src, &target, "b", &["COPY", "REPLACE", "AUTH", "pw"]).unwrap(),
        "OK"
    );
    assert_eq!(get(&mut src, "b").as_deref(), Some("2"));
    assert_eq!(get(&mut dst, "b").as_deref(), Some("2"));

    // Several keys at once; one of them absent.
    let _: () = redis::cmd("MSET")
        .arg("c")
        .arg("3")
        .arg("d")
        .arg("4")
        .query(&mut src)
        .unwrap();
    assert_eq!(
        migrate(
            &mut src,
            &target,
            "",
            &["AUTH", "pw", "KEYS", "c", "d", "nothere"]
        )
        .unwrap(),
        "OK"
    );
    let moved: Vec<Option<String>> = redis::cmd("MGET")
        .arg("c")
        .arg("d")
        .query(&mut dst)
        .unwrap();
    assert_eq!(moved, [Some("3".to_string()), Some("4".to_string())]);
    let left: i64 = redis::cmd("EXISTS")
        .arg("c")
        .arg("d")
        .query(&mut src)
        .unwrap();
    assert_eq!(left, 0);

    // A wrong password: an error naming the target's refusal, and the key stays.
    let _: () = redis::cmd("SET").arg("e").arg("5").query(&mut src).unwrap();
    let refused = migrate(&mut src, &target, "e", &["AUTH", "nope"]).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("Target instance replied with error"),
        "{refused}"
    );
    assert_eq!(get(&mut src, "e").as_deref(), Some("5"));
    assert_eq!(get(&mut dst, "e"), None);

    // The KEYS form needs the empty key.
    let wrong = migrate(&mut src, &target, "e", &["KEYS", "e"]).unwrap_err();
    assert!(wrong.to_string().contains("empty string"), "{wrong}");
}
