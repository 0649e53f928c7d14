//! Answers to the native protocol's requests.

use crate::cmd::Client;
use crate::db::Db;
use crate::db::VecSink;
use kv_nostd::native::{self, Request, Response, Status};
use kv_nostd::{Error, ScanCursor};

/// Entries one `SCAN` step reads at least (whole segments, so fewer than this plus a segment).
const SCAN_ENTRIES: usize = 256;

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
        Request::Get { key } => {
            let mut value = VecSink::default();
            match db.table.get_with(key, &mut value) {
                Ok(Some(_)) => push(out, Response::value(&value.0)),
                Ok(None) => push(out, Response::status(Status::NotFound)),
                Err(e) => table_error(e, out),
            }
        }
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

/// One step of `SCAN`: the next cursor, then the entries of whole segments, at least
/// [`SCAN_ENTRIES`] unless the scan ends.
fn scan(cursor: u64, db: &Db, out: &mut Vec<u8>) {
    let start = out.len();
    let body = start + native::RESPONSE_HEADER_LEN;
    out.resize(body + native::SCAN_CURSOR_LEN, 0);
    let (mut key, mut value) = (Vec::new(), Vec::new());
    let next = db
        .table
        .scan(ScanCursor::from_u64(cursor), SCAN_ENTRIES, |e| {
            let k = crate::db::entry_key(e, &mut key);
            let v = crate::db::entry_value(e, &mut value);
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
