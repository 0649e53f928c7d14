//! Answers to the native protocol's requests.

use crate::cmd::Client;
use crate::db::Db;
use crate::db::{MAX_KEY, MAX_VALUE};
use kv_nostd::native::{self, Request, Response, Status};
use kv_nostd::table::MOVE_LOG;
use kv_nostd::{Error, ScanCursor};

/// Buckets one `SCAN` step reads: up to 256 entries at 8 slots a bucket.
const SCAN_BUCKETS: usize = 32;

// A step also revisits the buckets that cuckoo moves filled behind its cursor: at most MOVE_LOG
// before it and 4 × MOVE_LOG after the last bucket. Even then a full-size payload fits what
// clients are told to accept.
const _: () = assert!(
    native::SCAN_CURSOR_LEN
        + (SCAN_BUCKETS + 5 * MOVE_LOG) * 8 * native::scan_entry_len(MAX_KEY, MAX_VALUE)
        <= native::MAX_SCAN_PAYLOAD
);

/// Appends `response` to `out`.
fn push(out: &mut Vec<u8>, response: Response<'_>) {
    let start = out.len();
    out.resize(start + response.encoded_len(), 0);
    // Sized by `encoded_len`; payloads are bounded by the table's maxima, far below u32::MAX.
    let written = response.encode(&mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

/// Appends an error response whose payload says why.
pub fn error(out: &mut Vec<u8>, status: Status, message: &str) {
    push(out, Response::error(status, message));
}

fn table_error(e: Error, out: &mut Vec<u8>) {
    let status = match e {
        Error::KeyTooLong { .. } => Status::KeyTooLong,
        Error::ValueTooLong { .. } => Status::ValueTooLong,
        Error::NoSpace => Status::NoSpace,
        Error::Busy | Error::BufferTooSmall { .. } => Status::ServerError,
    };
    error(out, status, &e.to_string());
}

/// Runs one native request, appending its response to `out`.
pub fn execute(request: &Request<'_>, client: &mut Client, db: &Db, out: &mut Vec<u8>) {
    let start = out.len();
    let mut lsn = 0;
    if !client.authenticated && !matches!(request, Request::Auth { .. }) {
        error(out, Status::AuthRequired, crate::auth::NOAUTH);
        return;
    }
    match *request {
        Request::Ping => push(out, Response::ok()),
        Request::Get { key } => match db.table.get_with(key, |v| push(out, Response::value(v))) {
            Ok(Some(())) => {}
            Ok(None) => push(out, Response::status(Status::NotFound)),
            Err(e) => table_error(e, out),
        },
        Request::Put { key, value } => {
            let logged = &mut || lsn = db.log(&[b"SET", key, value]);
            match db
                .table
                .put_if_then(key, value, kv_nostd::When::Always, None, logged)
            {
                Ok(_) => push(out, Response::ok()),
                Err(e) => table_error(e, out),
            }
        }
        Request::Delete { key } => match db
            .table
            .delete_then(key, &mut || lsn = db.log(&[b"DEL", key]))
        {
            Ok(true) => push(out, Response::ok()),
            Ok(false) => push(out, Response::status(Status::NotFound)),
            Err(e) => table_error(e, out),
        },
        Request::Save => error(
            out,
            Status::ServerError,
            "persistence is disabled on this server",
        ),
        Request::Auth { user, password } => {
            let user = (!user.is_empty()).then_some(user);
            if crate::auth::check(db.password.as_deref(), user, password) {
                client.authenticated = true;
                push(out, Response::ok());
            } else {
                log::warn!("{}: AUTH failed", client.peer);
                error(out, Status::AuthFailed, crate::auth::WRONGPASS);
            }
        }
        Request::Scan { cursor } => scan(cursor, db, out),
    }
    client.logged(lsn, start, out.len());
}

/// One step of `SCAN`: the next cursor, then the entries of [`SCAN_BUCKETS`] buckets.
fn scan(cursor: u64, db: &Db, out: &mut Vec<u8>) {
    let start = out.len();
    let body = start + native::RESPONSE_HEADER_LEN;
    out.resize(body + native::SCAN_CURSOR_LEN, 0);
    let next = db
        .table
        .scan(ScanCursor::from_u64(cursor), SCAN_BUCKETS, |k, v| {
            let at = out.len();
            out.resize(at + native::scan_entry_len(k.len(), v.len()), 0);
            // Sized just above; keys and values are far below the u16 and u32 length fields.
            let written = native::encode_scan_entry(k, v, &mut out[at..]).unwrap_or(0);
            out.truncate(at + written);
        });
    out[body..body + native::SCAN_CURSOR_LEN].copy_from_slice(&next.to_u64().to_be_bytes());
    let payload = out.len() - body;
    // The header was sized in front of the payload; it cannot fail to fit.
    let _ = native::encode_response_header(Status::Success, payload, &mut out[start..]);
}
