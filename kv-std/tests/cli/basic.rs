//! put, get, delete and ping: the seed's examples, missing keys, awkward values.

use crate::{large_value, library, ClientCommand, TestServer};

#[test]
fn the_seeds_examples_print_exactly() {
    let s = TestServer::start();
    s.client()
        .args(["put", "user1", "John Doe"])
        .assert()
        .code(0)
        .stdout("✓ user1 = John Doe\n")
        .stderr("");
    s.client()
        .args(["get", "user1"])
        .assert()
        .code(0)
        .stdout("John Doe\n")
        .stderr("");
    s.client()
        .args(["delete", "user1"])
        .assert()
        .code(0)
        .stdout("✓ deleted user1\n")
        .stderr("");
    s.client()
        .arg("ping")
        .assert()
        .code(0)
        .stdout("PONG\n")
        .stderr("");
}

#[test]
fn a_missing_key_exits_1() {
    let s = TestServer::start();
    s.client()
        .args(["get", "user1"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("not found: user1\n");
    s.client()
        .args(["delete", "user1"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("not found: user1\n");
}

#[test]
fn awkward_values_round_trip_exactly() {
    let s = TestServer::start();
    for value in [
        "a b, c",
        "line one\nline two\r\n",
        "naïve café ✓ 日本語",
        ",",
        "",
    ] {
        s.client().args(["put", "k", value]).assert().code(0);
        s.client()
            .args(["get", "k"])
            .assert()
            .code(0)
            .stdout(format!("{value}\n"));
    }
}

#[test]
fn an_oversized_value_is_refused_with_exit_3() {
    let mut config = kv_std::config::Config::local();
    config.proto_max_bulk_len = 256;
    let s = TestServer::with(config);
    let value = "v".repeat(257);
    s.client()
        .args(["put", "k", &value])
        .assert()
        .code(3)
        .stdout("")
        .stderr("kv-client: value too long: value of 257 bytes exceeds the maximum of 256 bytes\n");
}

#[test]
fn bad_usage_exits_2_with_clap_usage() {
    let s = TestServer::start();
    s.client().args(["put", "k"]).assert().code(2).stdout("");
    s.client()
        .args(["--timeout", "0", "ping"])
        .assert()
        .code(2)
        .stdout("");
}

#[test]
fn a_password_protected_server_needs_the_password() {
    let mut config = kv_std::config::Config::local();
    config.password = Some(b"pw".to_vec());
    let s = TestServer::with(config);
    let out = s.client().args(["put", "k", "v"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("NOAUTH Authentication required."),
        "{stderr}"
    );
    let out = s
        .client()
        .args(["--password", "nope", "put", "k", "v"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WRONGPASS"), "{stderr}");
    s.client()
        .env("KV_PASSWORD", "pw")
        .args(["put", "k", "v"])
        .assert()
        .code(0)
        .stdout("✓ k = v\n");
    s.client()
        .args(["--password", "pw", "get", "k"])
        .assert()
        .code(0)
        .stdout("v\n");
}

#[test]
fn put_file_stores_a_file_s_bytes_exactly() {
    let s = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("value.bin");
    let value = large_value(1);
    std::fs::write(&path, &value).unwrap();
    s.client()
        .args(["put", "blob", "--file"])
        .arg(&path)
        .assert()
        .code(0)
        .stdout(format!(
            "✓ blob = <{} bytes from {}>\n",
            value.len(),
            path.display()
        ))
        .stderr("");
    let out = s.client().args(["get", "blob"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.ends_with(b"\n"));
    assert!(
        out.stdout[..out.stdout.len() - 1] == value[..],
        "get printed other bytes than the file's"
    );
    assert!(library(&s).get(b"blob").unwrap().unwrap() == value);
}

#[test]
fn put_file_dash_reads_standard_input() {
    let s = TestServer::start();
    let value = large_value(2);
    s.client()
        .args(["put", "blob", "--file", "-"])
        .write_stdin(value.clone())
        .assert()
        .code(0)
        .stdout(format!("✓ blob = <{} bytes from stdin>\n", value.len()))
        .stderr("");
    assert!(library(&s).get(b"blob").unwrap().unwrap() == value);
    s.client()
        .args(["put", "empty", "--file", "-"])
        .write_stdin("")
        .assert()
        .code(0)
        .stdout("✓ empty = <0 bytes from stdin>\n");
    s.client()
        .args(["get", "empty"])
        .assert()
        .code(0)
        .stdout("\n");
}

#[test]
fn put_file_problems_exit_with_their_codes() {
    let s = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bin");
    s.client()
        .args(["put", "k", "--file"])
        .arg(&missing)
        .assert()
        .code(4)
        .stdout("")
        .stderr(format!(
            "kv-client: {}: No such file or directory (os error 2)\n",
            missing.display()
        ));
    // A value and a file at once is a usage error.
    s.client()
        .args(["put", "k", "v", "--file", "-"])
        .assert()
        .code(2)
        .stdout("");
    s.client().args(["get", "k"]).assert().code(1);

    let mut config = kv_std::config::Config::local();
    config.proto_max_bulk_len = 256;
    let small = TestServer::with(config);
    small
        .client()
        .args(["put", "k", "--file", "-"])
        .write_stdin(vec![b'v'; 257])
        .assert()
        .code(3)
        .stdout("")
        .stderr("kv-client: value too long: value of 257 bytes exceeds the maximum of 256 bytes\n");
}

#[test]
fn a_key_longer_than_65535_bytes_round_trips() {
    let s = TestServer::start();
    let key = "k".repeat(70_000);
    s.client()
        .args(["put", &key, "long"])
        .assert()
        .code(0)
        .stdout(format!("✓ {key} = long\n"));
    s.client()
        .args(["get", &key])
        .assert()
        .code(0)
        .stdout("long\n");
    s.client().args(["get", &key[..65_535]]).assert().code(1);
}
