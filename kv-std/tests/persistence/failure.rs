//! A full disk: writes that cannot be made durable are answered with an error, reads go on,
//! SAVE fails, and the last good backup is untouched.

use crate::{free_port, raw_roundtrip, start};
use std::process::Command;

/// A tiny tmpfs that is unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mounting a tmpfs needs root");
        Self { dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_turns_acknowledgements_into_errors() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let disk = SmallDisk::mount(256 * 1024);
    let port = free_port();
    let s = start(
        disk.dir.path(),
        port,
        &["--fsync", "always", "--save-interval", "0"],
    );
    let mut c = s.raw();
    assert_eq!(
        raw_roundtrip(&mut c, b"*3\r\n$3\r\nSET\r\n$4\r\nsafe\r\n$2\r\nok\r\n", 5),
        b"+OK\r\n"
    );
    assert_eq!(
        raw_roundtrip(&mut c, b"*1\r\n$4\r\nSAVE\r\n", 5),
        b"+OK\r\n"
    );
    let backup = std::fs::read(disk.dir.path().join("kv-backup.txt")).unwrap();
    // Fill the disk through the log: 200-byte values until a write is refused.
    let value = "v".repeat(200);
    let mut refused = None;
    for i in 0..10_000 {
        let req = format!(
            "*3\r\n$3\r\nSET\r\n${}\r\nk{i:05}\r\n$200\r\n{value}\r\n",
            6
        );
        use std::io::{Read, Write};
        c.write_all(req.as_bytes()).unwrap();
        let mut first = [0u8; 1];
        c.read_exact(&mut first).unwrap();
        if first[0] == b'+' {
            let mut rest = [0u8; 4];
            c.read_exact(&mut rest).unwrap();
            continue;
        }
        let mut line = vec![first[0]];
        while !line.ends_with(b"\r\n") {
            c.read_exact(&mut first).unwrap();
            line.push(first[0]);
        }
        refused = Some((i, String::from_utf8(line).unwrap()));
        break;
    }
    let (at, error) = refused.expect("the disk never filled");
    assert!(
        error.starts_with("-MISCONF Errors writing to the AOF file: "),
        "{error}"
    );
    assert!(error.contains("No space left on device"), "{error}");
    // Reads keep working.
    assert_eq!(
        raw_roundtrip(&mut c, b"*2\r\n$3\r\nGET\r\n$4\r\nsafe\r\n", 8),
        b"$2\r\nok\r\n"
    );
    // SAVE cannot write a snapshot either, and the last good one stays as it was.
    let reply = raw_roundtrip(&mut c, b"*1\r\n$4\r\nSAVE\r\n", 5);
    assert_eq!(&reply, b"-ERR ");
    assert_eq!(
        std::fs::read(disk.dir.path().join("kv-backup.txt")).unwrap(),
        backup
    );
    println!("disk full after {at} writes: {error:?}");
    s.kill();
}
