//! Aux fields: the named strings (`AUX` opcode) a file carries about itself, and the
//! replication state among them.

/// One aux field, as read: its name and value (integers are read back as their decimal text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuxField {
    /// The name, such as `redis-ver`.
    pub name: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

/// The replication state a master stores in the RDB of a full sync: the aux fields
/// `repl-stream-db`, `repl-id` and `repl-offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplInfo {
    /// The replication id, 40 characters (hex digits in Redis).
    pub id: [u8; 40],
    /// The replication offset the data corresponds to (the offset of `+FULLRESYNC`).
    pub offset: i64,
    /// The database the replication stream had selected (`-1`: none).
    pub stream_db: i32,
}

impl ReplInfo {
    /// The replication state in `fields`, if all three fields are there and well formed. Names
    /// are matched without regard to case, and a later field wins, as when Redis loads.
    pub fn from_aux(fields: &[AuxField]) -> Option<ReplInfo> {
        let last = |name: &str| {
            fields
                .iter()
                .rev()
                .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
                .map(|f| f.value.as_slice())
        };
        let number = |value: &[u8]| std::str::from_utf8(value).ok()?.parse::<i64>().ok();
        Some(ReplInfo {
            id: last("repl-id")?.try_into().ok()?,
            offset: number(last("repl-offset")?)?,
            stream_db: i32::try_from(number(last("repl-stream-db")?)?).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, value: &str) -> AuxField {
        AuxField {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn needs_all_three_fields_well_formed() {
        let id = "8d1a7a4ab9d1fd3b9e5c1bd2a0a3e0c0f3c4a5b6";
        let fields = vec![
            field("redis-ver", "7.0.15"),
            field("repl-stream-db", "0"),
            field("repl-id", id),
            field("REPL-OFFSET", "112"),
        ];
        assert_eq!(
            ReplInfo::from_aux(&fields),
            Some(ReplInfo {
                id: id.as_bytes().try_into().unwrap(),
                offset: 112,
                stream_db: 0
            })
        );
        for broken in 1..fields.len() {
            let mut without = fields.clone();
            without.remove(broken);
            assert_eq!(ReplInfo::from_aux(&without), None);
        }
        let mut short_id = fields.clone();
        short_id.push(field("repl-id", "abc"));
        assert_eq!(ReplInfo::from_aux(&short_id), None);
        let mut bad_offset = fields.clone();
        bad_offset.push(field("repl-offset", "12x"));
        assert_eq!(ReplInfo::from_aux(&bad_offset), None);
    }
}
