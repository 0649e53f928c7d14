//! Reading an RDB file one key at a time.

use super::aux::{AuxField, ReplInfo};
use super::error::{ErrorKind, LoadError};
use super::input::Input;
use super::key_type::{rdb_type, KeyType};
use super::length::read_len;
use super::opcode;
use super::skip::{module_name, skip_value};
use super::string::{read_string, skip_string};
use super::{DbSizes, RDB_VERSION};
use std::io::Read;

/// Redis's default `proto-max-bulk-len`, the longest string a client can send it: 512 MiB.
pub const DEFAULT_MAX_STRING_LEN: u64 = 512 * 1024 * 1024;

/// How a [`Loader`] treats what kv cannot store, and what it trusts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Skip keys of other types than string, and function libraries, counting them in
    /// [`Loader::skipped`], instead of failing on the first. Module data cannot be skipped
    /// unless it is a key in the self-describing format. Default: false.
    pub skip_unsupported: bool,
    /// The longest string accepted (a longer one is an error, and is refused before any
    /// memory is set aside for it). Default: [`DEFAULT_MAX_STRING_LEN`].
    pub max_string_len: u64,
    /// Compare the checksum at the end with the file's. Default: true.
    pub verify_checksum: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            skip_unsupported: false,
            max_string_len: DEFAULT_MAX_STRING_LEN,
            verify_checksum: true,
        }
    }
}

/// A string key read from the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The database it is in.
    pub db: u64,
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// When it expires, in unix milliseconds. It may be in the past: a master drops such keys
    /// as it loads, a replica keeps them until its master deletes them (R70 rdb.c l.3139), so
    /// the choice is the caller's.
    pub expire_ms: Option<i64>,
}

/// What became of the checksum at the end of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// It matched the file's bytes.
    Verified(u64),
    /// The file stores 0: it was written without a checksum (`rdbchecksum no`).
    NotStored,
    /// Files before version 5 have none.
    NotInFormat,
    /// [`LoadOptions::verify_checksum`] was off.
    NotChecked,
}

/// What a loader in `skip_unsupported` mode passed over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    keys: [u64; KeyType::ALL.len()],
    function_libraries: u64,
}

impl Skipped {
    /// Keys of `key_type` skipped.
    pub fn keys(&self, key_type: KeyType) -> u64 {
        self.keys[key_type.index()]
    }

    /// Keys skipped, of every type.
    pub fn total_keys(&self) -> u64 {
        self.keys.iter().sum()
    }

    /// Function libraries skipped.
    pub fn function_libraries(&self) -> u64 {
        self.function_libraries
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Reading,
    Done,
    Failed,
}

/// Reads an RDB file of version 1 to 10 (Redis 7.0 and older) from any reader, one string key
/// at a time: memory holds one key and value, never the data set.
///
/// The loader reads exactly the file's bytes and nothing after the checksum, so a replica can
/// go on reading the replication stream from [`Loader::into_inner`]. It reads in small pieces:
/// give it a buffered reader.
///
/// Aux fields are read as they come; [`Loader::new`] reads those at the start, where Redis
/// writes them, so [`Loader::aux`] and [`Loader::replication`] answer before the first key.
///
/// ```
/// use kv_std::rdb::{LoadOptions, Loader, WriteOptions, Writer};
///
/// let mut writer = Writer::new(Vec::new(), WriteOptions::default())?;
/// writer.write_entry(b"user1", b"John Doe", None)?;
/// let file = writer.finish()?;
///
/// let mut loader = Loader::new(&file[..], LoadOptions::default())?;
/// assert_eq!(loader.aux_value(b"redis-bits"), Some(&b"64"[..]));
/// let entry = loader.next_entry()?.unwrap();
/// assert_eq!((&entry.key[..], &entry.value[..]), (&b"user1"[..], &b"John Doe"[..]));
/// assert!(loader.next_entry()?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Loader<R> {
    input: Input<R>,
    options: LoadOptions,
    version: u32,
    aux: Vec<AuxField>,
    db: u64,
    db_sizes: Option<DbSizes>,
    /// An opcode [`Loader::new`] read past the leading aux fields.
    pending: Option<u8>,
    skipped: Skipped,
    checksum: Option<Checksum>,
    state: State,
}

impl<R: Read> Loader<R> {
    /// Reads the header (`REDIS` and the version) and the aux fields that follow it.
    pub fn new(reader: R, options: LoadOptions) -> Result<Self, LoadError> {
        let mut input = Input::new(reader);
        let header: [u8; 9] = input.array()?;
        if &header[..5] != b"REDIS" {
            return input.error(0, ErrorKind::NotRdb);
        }
        let digits: [u8; 4] = header[5..].try_into().unwrap_or_default();
        let version = std::str::from_utf8(&digits)
            .ok()
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok());
        let Some(version) = version else {
            return input.error(5, ErrorKind::BadVersion(digits));
        };
        if !(1..=RDB_VERSION).contains(&version) {
            return input.error(5, ErrorKind::UnsupportedVersion(version));
        }
        let mut loader = Self {
            input,
            options,
            version,
            aux: Vec::new(),
            db: 0,
            db_sizes: None,
            pending: None,
            skipped: Skipped::default(),
            checksum: None,
            state: State::Reading,
        };
        loop {
            let op = loader.input.u8()?;
            if op != opcode::AUX {
                loader.pending = Some(op);
                break;
            }
            loader.read_aux()?;
        }
        Ok(loader)
    }

    /// The file's RDB version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The aux fields read so far, in file order.
    pub fn aux(&self) -> &[AuxField] {
        &self.aux
    }

    /// The value of the last aux field read named `name` (matched without regard to case).
    pub fn aux_value(&self, name: &[u8]) -> Option<&[u8]> {
        self.aux
            .iter()
            .rev()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_slice())
    }

    /// The replication state in the aux fields read so far, if the file has one.
    pub fn replication(&self) -> Option<ReplInfo> {
        ReplInfo::from_aux(&self.aux)
    }

    /// The size hints of the database being read, if the file gave them.
    pub fn db_sizes(&self) -> Option<DbSizes> {
        self.db_sizes
    }

    /// What `skip_unsupported` passed over so far.
    pub fn skipped(&self) -> &Skipped {
        &self.skipped
    }

    /// What became of the checksum; `None` until the end of the file is read.
    pub fn checksum(&self) -> Option<Checksum> {
        self.checksum
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.input.offset()
    }

    /// Whether the end of the file (and its checksum) has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The reader, positioned just after the file if [`Loader::is_done`].
    pub fn into_inner(self) -> R {
        self.input.into_inner()
    }

    /// The next string key, or `None` at the end of the file. After an error, every call
    /// returns [`ErrorKind::Failed`].
    pub fn next_entry(&mut self) -> Result<Option<Entry>, LoadError> {
        match self.state {
            State::Done => return Ok(None),
            State::Failed => return self.input.error(self.input.offset(), ErrorKind::Failed),
            State::Reading => {}
        }
        let result = self.read_entry();
        self.state = match &result {
            Ok(Some(_)) => State::Reading,
            Ok(None) => State::Done,
            Err(_) => State::Failed,
        };
        result
    }

    fn read_aux(&mut self) -> Result<(), LoadError> {
        let name = read_string(&mut self.input, self.options.max_string_len)?;
        let value = read_string(&mut self.input, self.options.max_string_len)?;
        self.aux.push(AuxField { name, value });
        Ok(())
    }

    fn read_entry(&mut self) -> Result<Option<Entry>, LoadError> {
        let max = self.options.max_string_len;
        let mut expire_ms = None;
        loop {
            let (at, op) = match self.pending.take() {
                Some(op) => (self.input.offset() - 1, op),
                None => (self.input.offset(), self.input.u8()?),
            };
            match op {
                opcode::AUX => self.read_aux()?,
                opcode::SELECTDB => {
                    self.db = read_len(&mut self.input)?;
                    self.db_sizes = None;
                }
                opcode::RESIZEDB => {
                    let keys = read_len(&mut self.input)?;
                    let expires = read_len(&mut self.input)?;
                    self.db_sizes = Some(DbSizes { keys, expires });
                }
                opcode::EXPIRETIME_MS => {
                    expire_ms = Some(i64::from_le_bytes(self.input.array()?));
                }
                opcode::EXPIRETIME => {
                    let seconds = i32::from_le_bytes(self.input.array()?);
                    expire_ms = Some(i64::from(seconds) * 1000);
                }
                opcode::FREQ => {
                    self.input.u8()?;
                }
                opcode::IDLE => {
                    read_len(&mut self.input)?;
                }
                opcode::MODULE_AUX => {
                    let id = read_len(&mut self.input)?;
                    let module = module_name(id);
                    return self
                        .input
                        .error(at, ErrorKind::ModuleData { module, key: None });
                }
                opcode::FUNCTION2 if self.options.skip_unsupported => {
                    skip_string(&mut self.input)?;
                    self.skipped.function_libraries += 1;
                }
                opcode::FUNCTION2 => return self.input.error(at, ErrorKind::FunctionLibrary),
                opcode::FUNCTION_PRE_GA => {
                    return self.input.error(at, ErrorKind::PreReleaseFunctions)
                }
                opcode::EOF => {
                    self.read_checksum()?;
                    return Ok(None);
                }
                rdb_type::STRING => {
                    let key = read_string(&mut self.input, max)?;
                    let value = read_string(&mut self.input, max)?;
                    return Ok(Some(Entry {
                        db: self.db,
                        key,
                        value,
                        expire_ms,
                    }));
                }
                other => {
                    let Some(key_type) = KeyType::of(other) else {
                        return self.input.error(at, ErrorKind::UnknownType(other));
                    };
                    let key = read_string(&mut self.input, max)?;
                    if !self.options.skip_unsupported {
                        let kind = ErrorKind::UnsupportedType {
                            key,
                            key_type,
                            rdb_type: other,
                        };
                        return self.input.error(at, kind);
                    }
                    skip_value(&mut self.input, other, &key)?;
                    self.skipped.keys[key_type.index()] += 1;
                    expire_ms = None;
                }
            }
        }
    }

    /// Reads the checksum after the EOF opcode, which covers every byte before it.
    fn read_checksum(&mut self) -> Result<(), LoadError> {
        if self.version < 5 {
            self.checksum = Some(Checksum::NotInFormat);
            return Ok(());
        }
        let computed = self.input.crc();
        let at = self.input.offset();
        let stored = u64::from_le_bytes(self.input.unchecked()?);
        self.checksum = Some(if stored == 0 {
            Checksum::NotStored
        } else if !self.options.verify_checksum {
            Checksum::NotChecked
        } else if stored == computed {
            Checksum::Verified(stored)
        } else {
            return self
                .input
                .error(at, ErrorKind::ChecksumMismatch { stored, computed });
        });
        Ok(())
    }
}

impl<R: Read> Iterator for Loader<R> {
    type Item = Result<Entry, LoadError>;

    /// The next string key; after the end of the file or an error, `None`.
    fn next(&mut self) -> Option<Self::Item> {
        match self.state {
            State::Reading => self.next_entry().transpose(),
            State::Done | State::Failed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::length::encode_len;
    use crate::rdb::string::{Compression, StringEncoder};
    use crate::rdb::{crc64::crc64, WriteOptions, Writer};
    use proptest::prelude::*;

    fn options() -> WriteOptions {
        WriteOptions {
            ctime: Some(1_700_000_000),
            ..WriteOptions::default()
        }
    }

    fn load_all(
        file: &[u8],
        options: LoadOptions,
    ) -> Result<(Vec<Entry>, Loader<&[u8]>), LoadError> {
        let mut loader = Loader::new(file, options)?;
        let mut entries = Vec::new();
        while let Some(e) = loader.next_entry()? {
            entries.push(e);
        }
        Ok((entries, loader))
    }

    /// An RDB file built by hand: header, then `body`, then EOF and the checksum.
    fn file(version: u32, body: &[u8]) -> Vec<u8> {
        let mut f = format!("REDIS{version:04}").into_bytes();
        f.extend_from_slice(body);
        f.push(opcode::EOF);
        if version >= 5 {
            let crc = crc64(&f);
            f.extend_from_slice(&crc.to_le_bytes());
        }
        f
    }

    fn string(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        StringEncoder::new(Compression::Lzf)
            .write(&mut out, s)
            .unwrap();
        out
    }

    #[test]
    fn the_hand_made_files_of_the_research_notes_load() {
        // Both verified with redis-check-rdb 7.0.15 (research/replication.md §2.6).
        let minimal =
            b"REDIS0009\xfe\x00\xfb\x01\x00\x00\x03foo\x03bar\xff\xcc\x3e\x5c\x81\x68\x68\x18\x31";
        let (entries, loader) = load_all(minimal, LoadOptions::default()).unwrap();
        assert_eq!(
            entries,
            [Entry {
                db: 0,
                key: b"foo".to_vec(),
                value: b"bar".to_vec(),
                expire_ms: None
            }]
        );
        assert_eq!(
            loader.checksum(),
            Some(Checksum::Verified(0x3118_6868_815c_3ecc))
        );
        assert_eq!(
            loader.db_sizes(),
            Some(DbSizes {
                keys: 1,
                expires: 0
            })
        );
        assert_eq!(loader.version(), 9);

        let three = b"REDIS0009\xfe\x00\xfb\x03\x01\x00\x03foo\x03bar\x00\x01n\x0512345\
            \xfc\x00\xd8\xc3\x2c\xbb\x03\x00\x00\x00\x01t\x01v\xff\xf6\x20\xff\xed\xb7\xe6\xaa\x8d";
        let (entries, _) = load_all(three, LoadOptions::default()).unwrap();
        assert_eq!(entries[1].value, b"12345");
        assert_eq!(entries[2].expire_ms, Some(4_102_444_800_000));
        assert_eq!(entries[0].expire_ms, None);
    }

    #[test]
    fn what_the_writer_writes_loads_back() {
        let mut w = Writer::new(Vec::new(), options()).unwrap();
        w.select_db(
            0,
            Some(DbSizes {
                keys: 3,
                expires: 1,
            }),
        )
        .unwrap();
        w.write_entry(b"a", b"1", None).unwrap();
        w.write_entry(b"", b"", Some(-5)).unwrap();
        w.select_db(3, None).unwrap();
        w.write_entry(b"big", &b"xyz".repeat(50_000), Some(1 << 50))
            .unwrap();
        let f = w.finish().unwrap();
        let (entries, loader) = load_all(&f, LoadOptions::default()).unwrap();
        let expected = [
            (0, &b"a"[..], b"1".to_vec(), None),
            (0, b"", b"".to_vec(), Some(-5)),
            (3, b"big", b"xyz".repeat(50_000), Some(1 << 50)),
        ];
        assert_eq!(entries.len(), expected.len());
        for (e, (db, key, value, expire_ms)) in entries.iter().zip(expected) {
            assert_eq!(
                (e.db, &e.key[..], &e.value, e.expire_ms),
                (db, key, &value, expire_ms)
            );
        }
        assert!(matches!(loader.checksum(), Some(Checksum::Verified(_))));
        assert!(loader.is_done());
        let names: Vec<&[u8]> = loader.aux().iter().map(|f| &f.name[..]).collect();
        assert_eq!(
            names,
            [
                &b"redis-ver"[..],
                b"redis-bits",
                b"ctime",
                b"used-mem",
                b"aof-base"
            ]
        );
        assert_eq!(loader.aux_value(b"CTIME"), Some(&b"1700000000"[..]));
        assert_eq!(loader.replication(), None);
    }

    #[test]
    fn replication_fields_written_are_read_before_the_first_key() {
        let repl = ReplInfo {
            id: *b"0123456789abcdef0123456789abcdef01234567",
            offset: 1 << 40,
            stream_db: 0,
        };
        let mut w = Writer::new(
            Vec::new(),
            WriteOptions {
                replication: Some(repl),
                ..options()
            },
        )
        .unwrap();
        w.write_entry(b"k", b"v", None).unwrap();
        let f = w.finish().unwrap();
        let loader = Loader::new(&f[..], LoadOptions::default()).unwrap();
        assert_eq!(loader.replication(), Some(repl));
    }

    #[test]
    fn a_file_without_checksum_stores_zero_and_loads() {
        let mut w = Writer::new(
            Vec::new(),
            WriteOptions {
                checksum: false,
                ..options()
            },
        )
        .unwrap();
        w.write_entry(b"k", b"v", None).unwrap();
        let f = w.finish().unwrap();
        assert_eq!(f[f.len() - 8..], [0; 8]);
        let (_, loader) = load_all(&f, LoadOptions::default()).unwrap();
        assert_eq!(loader.checksum(), Some(Checksum::NotStored));
    }

    #[test]
    fn a_wrong_checksum_is_an_error_unless_not_verified() {
        let mut w = Writer::new(Vec::new(), options()).unwrap();
        w.write_entry(b"k", b"v", None).unwrap();
        let mut f = w.finish().unwrap();
        let n = f.len();
        f[n - 1] ^= 1;
        let e = load_all(&f, LoadOptions::default()).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::ChecksumMismatch { .. }));
        assert_eq!(e.offset(), n as u64 - 8);
        let unchecked = LoadOptions {
            verify_checksum: false,
            ..LoadOptions::default()
        };
        let (_, loader) = load_all(&f, unchecked).unwrap();
        assert_eq!(loader.checksum(), Some(Checksum::NotChecked));
        // A flipped byte in the body.
        f[n - 1] ^= 1;
        let key_at = f.len() - 8 - 1 - 3;
        assert_eq!(f[key_at], b'k');
        f[key_at] = b'w';
        let e = load_all(&f, LoadOptions::default()).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::ChecksumMismatch { .. }));
    }

    #[test]
    fn versions_1_to_10_load_and_others_are_refused_by_number() {
        let mut body = vec![opcode::SELECTDB, 0, rdb_type::STRING];
        body.extend(string(b"k"));
        body.extend(string(b"v"));
        for version in 1..=10 {
            let f = file(version, &body);
            let (entries, loader) = load_all(&f, LoadOptions::default()).unwrap();
            assert_eq!(entries.len(), 1, "version {version}");
            let expected = if version < 5 {
                Checksum::NotInFormat
            } else {
                Checksum::Verified(crc64(&f[..f.len() - 8]))
            };
            assert_eq!(loader.checksum(), Some(expected));
        }
        for version in [0, 11, 12, 9999] {
            let e = Loader::new(&file(version, &body)[..], LoadOptions::default()).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::UnsupportedVersion(v) if *v == version));
            assert!(e.to_string().contains(&format!("version {version}")), "{e}");
        }
        let e = Loader::new(&b"REDIS00a1\xff"[..], LoadOptions::default()).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::BadVersion(v) if v == b"00a1"));
        let e = Loader::new(&b"RODIS0010\xff"[..], LoadOptions::default()).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::NotRdb));
    }

    #[test]
    fn old_expiry_in_seconds_and_lru_lfu_hints_are_understood() {
        let mut body = vec![opcode::SELECTDB, 0, opcode::EXPIRETIME];
        body.extend(2_000_000_000i32.to_le_bytes());
        body.extend([opcode::IDLE, 0x40, 0x10, opcode::FREQ, 7, rdb_type::STRING]);
        body.extend(string(b"k"));
        body.extend(string(b"v"));
        let (entries, _) = load_all(&file(6, &body), LoadOptions::default()).unwrap();
        assert_eq!(entries[0].expire_ms, Some(2_000_000_000_000));
    }

    /// A body with a list before and after a string key, with an expiry on the list.
    fn mixed_body() -> Vec<u8> {
        let mut body = vec![opcode::SELECTDB, 0, opcode::EXPIRETIME_MS];
        body.extend(5i64.to_le_bytes());
        body.push(rdb_type::LIST);
        body.extend(string(b"mylist"));
        encode_len(2, &mut body);
        body.extend(string(b"a"));
        body.extend(string(b"b"));
        body.push(rdb_type::STRING);
        body.extend(string(b"s"));
        body.extend(string(b"v"));
        body.push(opcode::FUNCTION2);
        body.extend(string(
            b"#!lua name=lib\nredis.register_function('f', function() return 1 end)",
        ));
        body.push(rdb_type::HASH_LISTPACK);
        body.extend(string(b"myhash"));
        body.extend(string(&[0u8; 30]));
        body
    }

    #[test]
    fn other_types_are_an_error_naming_the_key_in_strict_mode() {
        let f = file(10, &mixed_body());
        let mut loader = Loader::new(&f[..], LoadOptions::default()).unwrap();
        let e = loader.next_entry().unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::UnsupportedType { key, key_type: KeyType::List, rdb_type: 1 } if key == b"mylist")
        );
        assert_eq!(e.offset(), 9 + 2 + 9);
        assert!(e.to_string().contains("\"mylist\" is a list"), "{e}");
        assert!(matches!(
            loader.next_entry().unwrap_err().kind(),
            ErrorKind::Failed
        ));
        assert!(loader.next().is_none());
    }

    #[test]
    fn other_types_are_skipped_and_counted_when_asked() {
        let f = file(10, &mixed_body());
        let skip = LoadOptions {
            skip_unsupported: true,
            ..LoadOptions::default()
        };
        let (entries, loader) = load_all(&f, skip).unwrap();
        // The list's expiry does not carry over to the string after it.
        assert_eq!(
            entries,
            [Entry {
                db: 0,
                key: b"s".to_vec(),
                value: b"v".to_vec(),
                expire_ms: None
            }]
        );
        assert_eq!(loader.skipped().keys(KeyType::List), 1);
        assert_eq!(loader.skipped().keys(KeyType::Hash), 1);
        assert_eq!(loader.skipped().total_keys(), 2);
        assert_eq!(loader.skipped().function_libraries(), 1);
    }

    #[test]
    fn functions_and_module_data_outside_keys() {
        let mut body = vec![opcode::FUNCTION2];
        body.extend(string(b"code"));
        let e = load_all(&file(10, &body), LoadOptions::default()).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::FunctionLibrary));
        let e = load_all(
            &file(10, &[opcode::FUNCTION_PRE_GA, 0]),
            LoadOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::PreReleaseFunctions));
        let skip = LoadOptions {
            skip_unsupported: true,
            ..LoadOptions::default()
        };
        let e = load_all(
            &file(
                10,
                &[opcode::MODULE_AUX, 0x81, 0, 0, 0, 0, 0, 0, 4, 0, 2, 2, 2],
            ),
            skip,
        )
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::ModuleData { key: None, .. }));
        let e = load_all(&file(10, &[0x08]), skip).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::UnknownType(8)));
        assert_eq!(e.offset(), 9);
    }

    #[test]
    fn the_loader_reads_nothing_past_the_checksum() {
        let mut w = Writer::new(Vec::new(), options()).unwrap();
        w.write_entry(b"k", b"v", None).unwrap();
        let mut stream = w.finish().unwrap();
        let rdb_len = stream.len();
        stream.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let mut loader = Loader::new(&stream[..], LoadOptions::default()).unwrap();
        assert!(loader.by_ref().all(|e| e.is_ok()));
        assert_eq!(loader.offset(), rdb_len as u64);
        assert_eq!(loader.into_inner(), b"*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn strings_over_the_limit_are_refused() {
        let mut w = Writer::new(
            Vec::new(),
            WriteOptions {
                compression: Compression::Off,
                ..options()
            },
        )
        .unwrap();
        w.write_entry(b"k", &[1u8; 100], None).unwrap();
        let f = w.finish().unwrap();
        let small = LoadOptions {
            max_string_len: 99,
            ..LoadOptions::default()
        };
        let e = load_all(&f, small).unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::StringTooLong { len: 100, max: 99 }
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn entries_round_trip(entries in proptest::collection::vec((
            proptest::collection::vec(any::<u8>(), 0..40),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..200),
                any::<i64>().prop_map(|n| n.to_string().into_bytes()),
                (any::<u8>(), 0usize..2000).prop_map(|(b, n)| vec![b; n]),
            ],
            proptest::option::of(any::<i64>()),
        ), 0..20), compression in prop_oneof![Just(Compression::Lzf), Just(Compression::Off)]) {
            let mut w = Writer::new(Vec::new(), WriteOptions { compression, ..options() }).unwrap();
            for (k, v, ttl) in &entries {
                w.write_entry(k, v, *ttl).unwrap();
            }
            let f = w.finish().unwrap();
            let (loaded, _) = load_all(&f, LoadOptions::default()).unwrap();
            let loaded: Vec<_> = loaded.into_iter().map(|e| (e.key, e.value, e.expire_ms)).collect();
            prop_assert_eq!(loaded, entries);
        }

        /// Any bytes at all, after a valid header or not: an error or entries, never a panic.
        /// (The integration tests also bound the memory this takes.)
        #[test]
        fn arbitrary_input_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..400), header in any::<bool>(), skip in any::<bool>()) {
            let mut f = if header { b"REDIS0010".to_vec() } else { Vec::new() };
            f.extend_from_slice(&tail);
            let options = LoadOptions { skip_unsupported: skip, ..LoadOptions::default() };
            if let Ok(loader) = Loader::new(&f[..], options) {
                for entry in loader {
                    let _ = entry;
                }
            }
            let _ = crate::rdb::dump::decode(&f);
        }
    }
}
