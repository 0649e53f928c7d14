//! Every RESP command over a raw socket, checking the exact reply bytes.

use crate::{Connect, TestServer};
use std::io::Write;

#[test]
fn strings() {
    let s = TestServer::start();
    let mut c = s.connect();
    c.expect(
        b"*3\r\n$3\r\nSET\r\n$5\r\nuser1\r\n$8\r\nJohn Doe\r\n",
        b"+OK\r\n",
    );
    c.expect(b"*2\r\n$3\r\nGET\r\n$5\r\nuser1\r\n", b"$8\r\nJohn Doe\r\n");
    c.expect(b"*2\r\n$3\r\nget\r\n$7\r\nmissing\r\n", b"$-1\r\n");
    c.expect(
        b"*4\r\n$3\r\nSET\r\n$5\r\nuser1\r\n$1\r\nx\r\n$2\r\nNX\r\n",
        b"$-1\r\n",
    );
    c.expect(
        b"*4\r\n$3\r\nSET\r\n$5\r\nuser2\r\n$1\r\ny\r\n$2\r\nXX\r\n",
        b"$-1\r\n",
    );
    c.expect(
        b"*4\r\n$3\r\nSET\r\n$5\r\nuser2\r\n$1\r\ny\r\n$2\r\nNX\r\n",
        b"+OK\r\n",
    );
    c.expect(
        b"*4\r\n$3\r\nSET\r\n$5\r\nuser2\r\n$1\r\nz\r\n$3\r\nGET\r\n",
        b"$1\r\ny\r\n",
    );
    c.expect(
        b"*4\r\n$3\r\nSET\r\n$5\r\nfresh\r\n$1\r\nz\r\n$3\r\nGET\r\n",
        b"$-1\r\n",
    );
    c.expect(
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n$2\r\nXX\r\n",
        b"-ERR syntax error\r\n",
    );
    c.expect(
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$3\r\nFOO\r\n",
        b"-ERR syntax error\r\n",
    );
    c.expect(
        b"*4\r\n$6\r\nEXISTS\r\n$5\r\nuser1\r\n$5\r\nuser1\r\n$4\r\nnope\r\n",
        b":2\r\n",
    );
    c.expect(
        b"*3\r\n$4\r\nMGET\r\n$5\r\nuser1\r\n$4\r\nnope\r\n",
        b"*2\r\n$8\r\nJohn Doe\r\n$-1\r\n",
    );
    c.expect(
        b"*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
        b"+OK\r\n",
    );
    c.expect(
        b"*4\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n",
        b"-ERR wrong number of arguments for 'mset' command\r\n",
    );
    c.expect(
        b"*4\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
        b":2\r\n",
    );
    c.expect(b"*1\r\n$6\r\nDBSIZE\r\n", b":3\r\n");
    c.expect(b"*1\r\n$7\r\nFLUSHDB\r\n", b"+OK\r\n");
    c.expect(b"*1\r\n$6\r\nDBSIZE\r\n", b":0\r\n");
}

#[test]
fn a_string_one_byte_over_the_limit_is_refused_and_the_connection_goes_on() {
    let mut config = kv_std::config::Config::local();
    config.proto_max_bulk_len = 1000;
    let s = TestServer::with(config);
    let mut c = s.connect();
    let refused = b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    let long_key = "k".repeat(1001);
    let req = format!("*3\r\n$3\r\nSET\r\n$1001\r\n{long_key}\r\n$1\r\nv\r\n");
    c.expect(req.as_bytes(), refused);
    let long_value = "v".repeat(1001);
    let req = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1001\r\n{long_value}\r\n");
    c.expect(req.as_bytes(), refused);
    c.expect(b"*1\r\n$6\r\nDBSIZE\r\n", b":0\r\n");
    // At the limit exactly, both are stored.
    let key = "k".repeat(1000);
    let value = "v".repeat(1000);
    let req = format!("*3\r\n$3\r\nSET\r\n$1000\r\n{key}\r\n$1000\r\n{value}\r\n");
    c.expect(req.as_bytes(), b"+OK\r\n");
    let req = format!("*2\r\n$3\r\nGET\r\n$1000\r\n{key}\r\n");
    c.expect(req.as_bytes(), format!("$1000\r\n{value}\r\n").as_bytes());
}

#[test]
fn at_maxmemory_writes_answer_oom_and_every_earlier_key_is_intact() {
    let mut config = kv_std::config::Config::local();
    config.storage.table.max_memory = 4 << 20;
    let s = TestServer::with(config);
    let mut c = s.connect();
    let value = "v".repeat(1000);
    let set = |key: &str| {
        format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
            key.len(),
            value.len()
        )
    };
    let oom = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    let mut stored = 0;
    loop {
        let key = format!("k{stored}");
        std::io::Write::write_all(&mut c.stream, set(&key).as_bytes()).unwrap();
        if c.read_exact(1) == b"+" {
            assert_eq!(c.read_exact(4), b"OK\r\n");
            stored += 1;
            assert!(stored < 100_000, "4 MiB never filled");
            continue;
        }
        assert_eq!(c.read_exact(oom.len() - 1), &oom[1..]);
        break;
    }
    assert!(
        stored >= 1000,
        "only {stored} values of 1000 bytes fit in 4 MiB"
    );
    // Refused again (the same item size finds no room), and nothing changed: every earlier key
    // reads back, the refused one is absent.
    let refused = format!("k{stored}");
    c.expect(set(&refused).as_bytes(), oom);
    let expect_value = format!("${}\r\n{value}\r\n", value.len());
    for i in (0..stored).step_by(97) {
        let key = format!("k{i}");
        let get = format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len());
        c.expect(get.as_bytes(), expect_value.as_bytes());
    }
    let exists = format!("*2\r\n$6\r\nEXISTS\r\n${}\r\n{refused}\r\n", refused.len());
    c.expect(exists.as_bytes(), b":0\r\n");
    c.expect(
        b"*1\r\n$6\r\nDBSIZE\r\n",
        format!(":{stored}\r\n").as_bytes(),
    );
    // Deletes make room; then writes go in again.
    let mut del = format!("*{}\r\n$3\r\nDEL\r\n", 201);
    for i in 0..200 {
        let key = format!("k{i}");
        del.push_str(&format!("${}\r\n{key}\r\n", key.len()));
    }
    c.expect(del.as_bytes(), b":200\r\n");
    c.expect(set(&refused).as_bytes(), b"+OK\r\n");
}

#[test]
fn connection_commands() {
    let s = TestServer::start();
    let mut c = s.connect();
    c.expect(b"PING\r\n", b"+PONG\r\n");
    c.expect(b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    c.expect(b"*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n", b"$2\r\nhi\r\n");
    c.expect(
        b"*3\r\n$4\r\nPING\r\n$1\r\na\r\n$1\r\nb\r\n",
        b"-ERR wrong number of arguments for 'ping' command\r\n",
    );
    c.expect(b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n", b"$5\r\nhello\r\n");
    c.expect(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n", b"+OK\r\n");
    c.expect(
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n",
        b"-ERR DB index is out of range\r\n",
    );
    c.expect(
        b"*2\r\n$6\r\nSELECT\r\n$1\r\nx\r\n",
        b"-ERR value is not an integer or out of range\r\n",
    );
    c.expect(
        b"*2\r\n$5\r\nHELLO\r\n$1\r\n4\r\n",
        b"-NOPROTO unsupported protocol version\r\n",
    );
    c.expect(
        b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\nbob\r\n",
        b"+OK\r\n",
    );
    c.expect(b"*2\r\n$6\r\nCLIENT\r\n$7\r\nGETNAME\r\n", b"$3\r\nbob\r\n");
    c.expect(
        b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$3\r\na b\r\n",
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    );
    c.expect(
        b"*4\r\n$6\r\nCLIENT\r\n$7\r\nSETINFO\r\n$8\r\nLIB-NAME\r\n$5\r\nredis\r\n",
        b"+OK\r\n",
    );
    c.expect(
        b"*2\r\n$6\r\nCLIENT\r\n$3\r\nFOO\r\n",
        b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n",
    );
    c.expect(b"*2\r\n$4\r\nAUTH\r\n$1\r\np\r\n", b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n");
    c.expect(b"*1\r\n$4\r\nQUIT\r\n", b"+OK\r\n");
    c.expect_closed();
}

#[test]
fn server_commands() {
    let s = TestServer::start();
    let mut c = s.connect();
    c.expect(
        b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n",
        b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n",
    );
    c.expect(
        b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$10\r\nappendonly\r\n",
        b"*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
    );
    c.expect(
        b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$7\r\nnothing\r\n",
        b"*0\r\n",
    );
    // Redis's own description of GET: arity, flags, key range, categories, tips, key specs.
    c.expect(
        b"*3\r\n$7\r\nCOMMAND\r\n$4\r\nINFO\r\n$3\r\nget\r\n",
        b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
          *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n\
          *2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n\
          $4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n\
          $5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n\
          $5\r\nlimit\r\n:0\r\n*0\r\n",
    );
    c.expect(
        b"*7\r\n$7\r\nCOMMAND\r\n$7\r\nGETKEYS\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n\
          $1\r\nb\r\n$1\r\n2\r\n",
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    c.expect(
        b"*2\r\n$3\r\nFOO\r\n$3\r\nbar\r\n",
        b"-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n",
    );
    c.expect(
        b"*1\r\n$3\r\nFOO\r\n",
        b"-ERR unknown command 'FOO', with args beginning with: \r\n",
    );
    c.expect(
        b"*1\r\n$3\r\nGET\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    // INFO is one bulk string holding the sections tools read.
    c.stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    use std::io::{Read, Write};
    c.stream.write_all(b"*1\r\n$4\r\nINFO\r\n").unwrap();
    let mut header = Vec::new();
    let mut byte = [0u8];
    while !header.ends_with(b"\r\n") {
        c.stream.read_exact(&mut byte).unwrap();
        header.push(byte[0]);
    }
    assert_eq!(header[0], b'$');
    let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    let body = String::from_utf8(c.read_exact(len + 2)).unwrap();
    for needle in [
        "# Server\r\n",
        "redis_version:7.0.0\r\n",
        "# Clients\r\n",
        "# Memory\r\n",
        "# Persistence\r\n",
        "# Stats\r\n",
        "# Keyspace\r\n",
    ] {
        assert!(body.contains(needle), "INFO lacks {needle:?}: {body}");
    }
}

#[test]
fn keys_and_scan() {
    let s = TestServer::start();
    let mut c = s.connect();
    c.expect(
        b"*5\r\n$4\r\nMSET\r\n$6\r\nuser:1\r\n$1\r\na\r\n$5\r\nother\r\n$1\r\nb\r\n",
        b"+OK\r\n",
    );
    c.expect(
        b"*2\r\n$4\r\nKEYS\r\n$6\r\nuser:*\r\n",
        b"*1\r\n$6\r\nuser:1\r\n",
    );
    c.expect(
        b"*2\r\n$4\r\nSCAN\r\n$3\r\nabc\r\n",
        b"-ERR invalid cursor\r\n",
    );
    c.expect(
        b"*4\r\n$4\r\nSCAN\r\n$1\r\n0\r\n$5\r\nCOUNT\r\n$1\r\n0\r\n",
        b"-ERR syntax error\r\n",
    );
}

#[test]
fn a_string_over_proto_max_bulk_len_is_refused_and_the_connection_goes_on() {
    let s = TestServer::start();
    let mut c = s.connect();
    c.expect(
        b"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$18\r\nproto-max-bulk-len\r\n$3\r\n1mb\r\n",
        b"+OK\r\n",
    );
    let limit = 1024 * 1024;
    // One byte over the limit, sent in pieces, with a command pipelined behind it.
    let mut request = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", limit + 1).into_bytes();
    request.extend(std::iter::repeat_n(b'v', limit + 1));
    request.extend_from_slice(b"\r\n*1\r\n$4\r\nPING\r\n");
    for piece in request.chunks(64 * 1024) {
        c.stream.write_all(piece).unwrap();
    }
    let refusal = b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    assert_eq!(c.read_exact(refusal.len()), refusal);
    assert_eq!(c.read_exact(7), b"+PONG\r\n");
    // Nothing was stored, and the same connection still works.
    c.expect(b"*2\r\n$6\r\nEXISTS\r\n$1\r\nk\r\n", b":0\r\n");
    // A length past what any number holds has no framing left: Redis's error, then close.
    c.stream
        .write_all(b"*1\r\n$99999999999999999999\r\n")
        .unwrap();
    let invalid = b"-ERR Protocol error: invalid bulk length\r\n";
    assert_eq!(c.read_exact(invalid.len()), invalid);
    c.expect_closed();
}
