//! The `redis` crate speaking RESP3 (`?protocol=resp3`, which sends `HELLO 3`) and RESP2 against
//! the server: commands, the shapes RESP3 gives replies, and pub/sub in both protocols.

use crate::TestServer;
use redis::{Commands, PushKind, Value};
use std::time::Duration;

fn connect(s: &TestServer, protocol: &str) -> redis::Connection {
    let con = redis::Client::open(format!("redis://{}/?protocol={protocol}", s.addr))
        .expect("url")
        .get_connection()
        .expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    con
}

#[test]
fn resp3_connections_get_resp3_shapes() {
    let s = TestServer::start();
    let mut con = connect(&s, "resp3");
    let () = con.set("user1", "John Doe").unwrap();
    let v: String = con.get("user1").unwrap();
    assert_eq!(v, "John Doe");
    // A missing key is RESP3's null; CONFIG GET and HELLO are maps.
    assert_eq!(
        redis::cmd("GET")
            .arg("nobody")
            .query::<Value>(&mut con)
            .unwrap(),
        Value::Nil
    );
    let config: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        config,
        Value::Map(vec![(
            Value::BulkString(b"save".to_vec()),
            Value::BulkString(Vec::new())
        )])
    );
    let hello: Value = redis::cmd("HELLO").query(&mut con).unwrap();
    let Value::Map(fields) = hello else {
        panic!("HELLO answered {hello:?}")
    };
    assert!(fields.contains(&(Value::BulkString(b"proto".to_vec()), Value::Int(3))));
    // INFO is a verbatim string, which the crate reads as text.
    let info: String = redis::cmd("INFO").arg("server").query(&mut con).unwrap();
    assert!(info.starts_with("# Server\r\nredis_version:"), "{info}");
    // The same from a RESP2 connection: a flat array and a null bulk string.
    let mut two = connect(&s, "2");
    let config: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut two)
        .unwrap();
    assert_eq!(
        config,
        Value::Array(vec![
            Value::BulkString(b"save".to_vec()),
            Value::BulkString(Vec::new())
        ])
    );
}

#[test]
fn resp3_pubsub_pushes_arrive_between_replies() {
    let s = TestServer::start();
    let mut sub = connect(&s, "resp3");
    let (tx, rx) = std::sync::mpsc::channel();
    sub.set_push_sender(tx);
    sub.subscribe_resp3("news").unwrap();
    sub.psubscribe_resp3("n*").unwrap();
    // A RESP3 subscriber may still run any command.
    let () = sub.set("k", "v").unwrap();
    let mut publisher = connect(&s, "2");
    let reached: i64 = publisher.publish("news", "hello").unwrap();
    assert_eq!(reached, 2, "one channel and one pattern subscription");
    let v: String = sub.get("k").unwrap();
    assert_eq!(v, "v");
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let push = rx.recv_timeout(Duration::from_secs(10)).expect("push");
        seen.push(push.kind.clone());
        if push.kind == PushKind::Message {
            assert_eq!(
                push.data,
                vec![
                    Value::BulkString(b"news".to_vec()),
                    Value::BulkString(b"hello".to_vec())
                ]
            );
        }
        if seen.len() < 4 {
            // Pushes are read as the connection reads replies.
            let _: Option<String> = sub.get("k").unwrap();
        }
    }
    assert_eq!(
        seen,
        [
            PushKind::Subscribe,
            PushKind::PSubscribe,
            PushKind::Message,
            PushKind::PMessage
        ]
    );
}

#[test]
fn resp2_pubsub_through_the_crates_pubsub_api() {
    let s = TestServer::start();
    let mut con = connect(&s, "2");
    let mut pubsub = con.as_pubsub();
    pubsub.subscribe("ch").unwrap();
    pubsub.psubscribe("c?").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut publisher = connect(&s, "resp3");
    let reached: i64 = publisher.publish("ch", "payload").unwrap();
    assert_eq!(reached, 2);
    let first = pubsub.get_message().unwrap();
    let second = pubsub.get_message().unwrap();
    assert_eq!(first.get_channel_name(), "ch");
    assert_eq!(first.get_payload::<String>().unwrap(), "payload");
    assert!(!first.from_pattern());
    assert!(second.from_pattern());
    assert_eq!(second.get_pattern::<String>().unwrap(), "c?");
}
