//! Answers to the native protocol's requests.

use crate::cmd::Client;
use crate::db::Db;
use kv_nostd::native::{Request, Response, Status};
use kv_nostd::Error;

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
            let logged = &mut || lsn = db.log_set(key, value);
            match db
                .table
                .put_if_then(key, value, kv_nostd::When::Always, None, logged)
            {
                Ok(_) => push(out, Response::ok()),
                Err(e) => table_error(e, out),
            }
        }
        Request::Delete { key } => match db.table.delete_then(key, &mut || lsn = db.log_del(key)) {
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
    }
    client.logged(lsn, start, out);
}
