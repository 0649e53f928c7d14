//! Every RESP command over a raw socket, checking the exact reply bytes.

use crate::{Connect, TestServer};

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
fn limits_are_named_in_errors() {
    let s = TestServer::start();
    let mut c = s.connect();
    let long_key = "k".repeat(65);
    let req = format!("*3\r\n$3\r\nSET\r\n$65\r\n{long_key}\r\n$1\r\nv\r\n");
    c.expect(
        req.as_bytes(),
        b"-ERR key of 65 bytes exceeds the maximum of 64 bytes\r\n",
    );
    let long_value = "v".repeat(300);
    let req = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$300\r\n{long_value}\r\n");
    c.expect(
        req.as_bytes(),
        b"-ERR value of 300 bytes exceeds the maximum of 256 bytes\r\n",
    );
    // A key too long to be stored is simply absent.
    let req = format!("*2\r\n$3\r\nGET\r\n$65\r\n{long_key}\r\n");
    c.expect(req.as_bytes(), b"$-1\r\n");
    c.expect(b"*1\r\n$6\r\nDBSIZE\r\n", b":0\r\n");
}

#[test]
fn a_full_table_answers_oom_and_keeps_its_data() {
    let mut config = kv_std::config::Config::local();
    config.buckets = 1;
    let s = TestServer::with(config);
    let mut c = s.connect();
    // The table holds as many keys as its one index segment places; the next is refused.
    let mut stored = 0;
    let refusal = loop {
        let key = format!("k{stored}");
        let req = format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\nv\r\n", key.len());
        std::io::Write::write_all(&mut c.stream, req.as_bytes()).unwrap();
        if c.read_exact(1) == b"+" {
            assert_eq!(c.read_exact(4), b"OK\r\n");
            stored += 1;
            continue;
        }
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") {
            line.extend(c.read_exact(1));
        }
        break String::from_utf8(line).unwrap();
    };
    assert!(stored >= 8, "only {stored} keys fit");
    assert!(
        refusal.starts_with("OOM no space left: the table is full ("),
        "{refusal}"
    );
    c.expect(b"*3\r\n$3\r\nSET\r\n$2\r\nk0\r\n$1\r\nx\r\n", b"+OK\r\n");
    c.expect(b"*2\r\n$3\r\nGET\r\n$2\r\nk7\r\n", b"$1\r\nv\r\n");
    c.expect(b"*2\r\n$3\r\nGET\r\n$2\r\nk0\r\n", b"$1\r\nx\r\n");
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
        b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n",
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
    c.expect(b"*1\r\n$7\r\nCOMMAND\r\n", b"*0\r\n");
    c.expect(b"*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n", b"*0\r\n");
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
