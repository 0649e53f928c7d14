//! Why an RDB file (or a DUMP payload) could not be read, and where.

use super::key_type::KeyType;
use super::lzf::LzfError;
use std::fmt;
use std::io;

/// An error reading an RDB file: what went wrong ([`ErrorKind`]) and at which byte offset
/// from the start of the file.
#[derive(Debug)]
pub struct LoadError {
    offset: u64,
    kind: ErrorKind,
}

/// What went wrong reading an RDB file.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading failed.
    Io(io::Error),
    /// The input ends inside the file: it was cut short.
    Truncated,
    /// The input does not start with `REDIS`: it is not an RDB file.
    NotRdb,
    /// The four bytes after `REDIS` are not a version number.
    BadVersion([u8; 4]),
    /// A version this loader does not read (it reads 1 to 10).
    UnsupportedVersion(u32),
    /// A length whose first byte has a form no length uses.
    BadLength(u8),
    /// A string whose first byte names an encoding that does not exist.
    BadStringEncoding(u8),
    /// A string longer than [`LoadOptions::max_string_len`](super::LoadOptions).
    StringTooLong {
        /// The length the file states.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// An LZF-compressed string that is empty or does not decompress to its stated length.
    Lzf(LzfError),
    /// A byte where a key's type or an opcode belongs that is neither (for Redis 7.0).
    UnknownType(u8),
    /// A key of a type kv does not store, in strict mode.
    UnsupportedType {
        /// The key.
        key: Vec<u8>,
        /// Its Redis type.
        key_type: KeyType,
        /// Its RDB type byte (the encoding).
        rdb_type: u8,
    },
    /// Module data, which only the module can parse, so it can be neither loaded nor skipped:
    /// a key of the first module format, or module data outside keys (`MODULE_AUX`).
    ModuleData {
        /// The module's type name, from its id.
        module: String,
        /// The key holding the value; `None` for data outside keys.
        key: Option<Vec<u8>>,
    },
    /// A function library (the `FUNCTION2` opcode), in strict mode.
    FunctionLibrary,
    /// Function libraries in the format of Redis 7.0's release candidates, which Redis 7.0
    /// refuses too.
    PreReleaseFunctions,
    /// A value whose structure is not what its type requires.
    Malformed(&'static str),
    /// The checksum at the end differs from the checksum of the file.
    ChecksumMismatch {
        /// The checksum the file stores.
        stored: u64,
        /// The checksum of the bytes read.
        computed: u64,
    },
    /// An earlier call failed; the rest of the file cannot be read.
    Failed,
}

impl LoadError {
    /// An error of `kind` at `offset`.
    pub fn new(offset: u64, kind: ErrorKind) -> Self {
        Self { offset, kind }
    }

    /// The byte offset, from the start of the file, of what could not be read.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// What went wrong, taking the error apart.
    pub fn into_kind(self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RDB at byte {}: {}", self.offset, self.kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Io(e) => write!(f, "read failed: {e}"),
            ErrorKind::Truncated => f.write_str("the input ends too early: the file is cut short"),
            ErrorKind::NotRdb => f.write_str("not an RDB file (it does not start with REDIS)"),
            ErrorKind::BadVersion(v) => {
                write!(f, "bad RDB version field \"{}\"", v.escape_ascii())
            }
            ErrorKind::UnsupportedVersion(v) => write!(
                f,
                "can't handle RDB format version {v}: kv reads versions 1 to 10 (Redis 7.0 and older)"
            ),
            ErrorKind::BadLength(b) => write!(f, "bad length encoding (first byte {b:#04x})"),
            ErrorKind::BadStringEncoding(b) => {
                write!(f, "unknown string encoding (first byte {b:#04x})")
            }
            ErrorKind::StringTooLong { len, max } => {
                write!(f, "a string of {len} bytes, over the limit of {max}")
            }
            ErrorKind::Lzf(e) => write!(f, "bad LZF-compressed string: {e}"),
            ErrorKind::UnknownType(t) => write!(f, "unknown value type or opcode {t}"),
            ErrorKind::UnsupportedType {
                key,
                key_type,
                rdb_type,
            } => write!(
                f,
                "key \"{}\" is a {key_type} (RDB type {rdb_type}): kv stores only strings \
                 (skip such keys with skip_unsupported)",
                key.escape_ascii()
            ),
            ErrorKind::ModuleData { module, key: Some(key) } => write!(
                f,
                "key \"{}\" holds data of module type {module:?}, which only the module can read",
                key.escape_ascii()
            ),
            ErrorKind::ModuleData { module, key: None } => write!(
                f,
                "module data (MODULE_AUX) of module type {module:?}, which only the module can read"
            ),
            ErrorKind::FunctionLibrary => f.write_str(
                "a function library: kv has no functions (skip it with skip_unsupported)",
            ),
            ErrorKind::PreReleaseFunctions => {
                f.write_str("function libraries in the pre-release format, not supported")
            }
            ErrorKind::Malformed(what) => write!(f, "malformed value: {what}"),
            ErrorKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "wrong RDB checksum: the file says {stored:#018x}, its bytes give {computed:#018x}"
            ),
            ErrorKind::Failed => f.write_str("an earlier error stopped the loader"),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            ErrorKind::Lzf(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LoadError> for io::Error {
    /// An I/O error stays itself; the others become `InvalidData`.
    fn from(e: LoadError) -> Self {
        match e.kind {
            ErrorKind::Io(io) => io,
            kind => {
                let io_kind = match kind {
                    ErrorKind::Truncated => io::ErrorKind::UnexpectedEof,
                    _ => io::ErrorKind::InvalidData,
                };
                io::Error::new(io_kind, LoadError::new(e.offset, kind))
            }
        }
    }
}
