//! Answers to the native protocol's requests, each in the version of the request it answers.

use crate::cmd::Client;
use crate::db::Db;
use kv_nostd::native::{self, Request, Response, Status, Version};
use kv_nostd::{Entry, Error, ScanCursor, Sink};

/// Entries one `SCAN` step reads at least, unless its payload passes
/// [`native::MAX_SCAN_PAYLOAD`] first.
const SCAN_ENTRIES: usize = 256;

/// Appends `response` to `out`.
fn push(out: &mut Vec<u8>, version: Version, response: Response<'_>) {
    let start = out.len();
    out.resize(start + response.encoded_len(), 0);
    // Sized by `encoded_len`; payloads built here are messages, far below u32::MAX.
    let written = response.encode(version, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

/// Appends an error response whose payload says why.
pub fn error(out: &mut Vec<u8>, version: Version, status: Status, message: &str) {
    push(out, version, Response::error(status, message));
}

fn table_error(version: Version, e: Error, out: &mut Vec<u8>) {
    error(out, version, Status::from(e), &e.to_string());
}

/// Runs one native request that came in `version`, appending its response, in that version, to
/// `out`.
pub fn execute(
    version: Version,
    request: &Request<'_>,
    client: &mut Client,
    db: &Db,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    let mut lsn = 0;
    if !client.authenticated && !matches!(request, Request::Auth { .. }) {
        error(out, version, Status::AuthRequired, crate::auth::NOAUTH);
        return;
    }
    match *request {
        Request::Ping => push(out, version, Response::ok()),
        Request::Get { key } => {
            let mut sink = ValueSink {
                out: &mut *out,
                start,
                version,
            };
            let found = db.table.get_with(key, &mut sink);
            let hit = matches!(found, Ok(Some(_)));
            if !hit {
                out.truncate(start);
                db.reap(key);
            }
            client.read(hit);
            match found {
                Ok(Some(_)) => {}
                Ok(None) => push(out, version, Response::status(Status::NotFound)),
                Err(e) => table_error(version, e, out),
            }
        }
        Request::Put { key, value } => {
            let needed = db.table.item_bytes(key.len(), value.len());
            let written = db.with_room(needed, || {
                let logged = &mut || lsn = db.log(&[b"SET", key, value]);
                db.table
                    .put_if_then(key, value, kv_nostd::When::Always, None, logged)
            });
            match written {
                Ok(_) => push(out, version, Response::ok()),
                Err(e) => table_error(version, e, out),
            }
        }
        Request::Delete { key } => match db
            .table
            .delete_then(key, &mut || lsn = db.log(&[b"DEL", key]))
        {
            Ok(true) => push(out, version, Response::ok()),
            Ok(false) => push(out, version, Response::status(Status::NotFound)),
            Err(e) => table_error(version, e, out),
        },
        Request::Save => error(
            out,
            version,
            Status::ServerError,
            "persistence is disabled on this server",
        ),
        Request::Auth { user, password } => {
            let user = (!user.is_empty()).then_some(user);
            if crate::auth::check(db.password.as_deref(), user, password) {
                client.authenticated = true;
                push(out, version, Response::ok());
            } else {
                log::warn!("{}: AUTH failed", client.peer);
                error(out, version, Status::AuthFailed, crate::auth::WRONGPASS);
            }
        }
        Request::Scan { cursor } => scan(version, cursor, db, out),
    }
    client.logged(lsn, start, out.len());
    if db.monitors.any() {
        monitor(request, client, db);
    }
}

/// Feeds the monitors a native request as the Redis command it stands for (`get`, `set`,
/// `del`, ...), so `MONITOR` shows the clients of both protocols; the password redacted.
fn monitor(request: &Request<'_>, client: &Client, db: &Db) {
    let cursor;
    let args: Vec<&[u8]> = match *request {
        Request::Ping => vec![b"ping"],
        Request::Get { key } => vec![b"get", key],
        Request::Put { key, value } => vec![b"set", key, value],
        Request::Delete { key } => vec![b"del", key],
        Request::Save => vec![b"save"],
        Request::Auth { .. } => vec![b"auth", b"(redacted)"],
        Request::Scan { cursor: c } => {
            cursor = c.to_string();
            vec![b"scan", cursor.as_bytes()]
        }
    };
    db.monitors
        .feed(client.peer, args.into_iter(), db.settings.output_limits());
}

/// Reads a value from the table straight into the output, behind a `SUCCESS` header: no copy of
/// its own, however large the value. A read a writer disturbed asks again, perhaps for another
/// length; the response is then started afresh.
struct ValueSink<'o> {
    out: &'o mut Vec<u8>,
    start: usize,
    version: Version,
}

impl Sink for ValueSink<'_> {
    fn buffer(&mut self, len: usize) -> Option<&mut [u8]> {
        if len > self.room() {
            return None;
        }
        let at = self.start + native::RESPONSE_HEADER_LEN;
        self.out.truncate(self.start);
        self.out.resize(at + len, 0);
        native::encode_response_header(
            self.version,
            Status::Success,
            len,
            &mut self.out[self.start..],
        )
        .ok()?;
        Some(&mut self.out[at..])
    }

    fn room(&self) -> usize {
        u32::MAX as usize
    }
}

/// One step of `SCAN`: the next cursor, then the entries of whole segments, until at least
/// [`SCAN_ENTRIES`] entries or [`native::MAX_SCAN_PAYLOAD`] bytes are in, or the scan ends.
///
/// A version-1 answer cannot frame a key over 65,535 bytes: such entries are left out of it (a
/// version-1 client cannot name those keys in any request either).
fn scan(version: Version, cursor: u64, db: &Db, out: &mut Vec<u8>) {
    let start = out.len();
    let body = start + native::RESPONSE_HEADER_LEN;
    out.resize(body + native::SCAN_CURSOR_LEN, 0);
    let mut cursor = ScanCursor::from_u64(cursor);
    let mut entries = 0;
    loop {
        // A segment at a time, so a step of large values stops soon after the payload is full.
        cursor = db.table.scan(cursor, 1, |e| {
            if append_entry(version, e, out) {
                entries += 1;
            }
        });
        let full = entries >= SCAN_ENTRIES || out.len() - body >= native::MAX_SCAN_PAYLOAD;
        if cursor.is_start() || full {
            break;
        }
    }
    out[body..body + native::SCAN_CURSOR_LEN].copy_from_slice(&cursor.to_u64().to_be_bytes());
    let payload = out.len() - body;
    if native::encode_response_header(version, Status::Success, payload, &mut out[start..]).is_err()
    {
        // Over 4 GiB of entries in one segment: more than one frame can carry.
        out.truncate(start);
        error(
            out,
            version,
            Status::ServerError,
            "scan step too large for one response",
        );
    }
}

/// Appends `e` to a `SCAN` payload, copying its key and value straight from the table; false if
/// `version` cannot carry its key.
fn append_entry(version: Version, e: &Entry<'_>, out: &mut Vec<u8>) -> bool {
    let (key_len, value_len) = (e.key_len(), e.value_len());
    if key_len > version.max_key_len() {
        return false;
    }
    let at = out.len();
    out.resize(at + native::scan_entry_len(version, key_len, value_len), 0);
    match native::encode_scan_entry_header(version, key_len, value_len, &mut out[at..]) {
        Ok((key, value)) => {
            e.key(key);
            e.read_value(0, value);
            true
        }
        Err(_) => {
            // A value the table holds fits the u32 length field; nothing to send otherwise.
            out.truncate(at);
            false
        }
    }
}
