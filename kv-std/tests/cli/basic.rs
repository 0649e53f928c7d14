//! put, get, delete and ping: the seed's examples, missing keys, awkward values.

use crate::{ClientCommand, TestServer};

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
