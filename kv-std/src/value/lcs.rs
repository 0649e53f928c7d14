//! `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: the longest common
//! subsequence of two strings, its length, or where its runs lie in each.
//!
//! Order of errors, as in Redis: the keys' types first (a key of another type is
//! [`Error::LcsNotStrings`], not `WRONGTYPE`; a missing key is an empty string), then the
//! options ([`parse_lcs`]), then the size of the table ([`Lcs::apply`]). The table has
//! `(len1 + 1) * (len2 + 1)` cells of 4 bytes, and Redis refuses to build one larger than
//! `proto-max-bulk-len`: with the default 512 MiB, two strings of about 11,500 bytes each.

use super::keyword;
use super::number::parse_i64;
use super::{Error, WriteReply};
use crate::reply::Out;

/// What `LCS` replies with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// The subsequence itself.
    Text,
    /// Its length (`LEN`).
    Len,
    /// Its runs (`IDX`).
    Runs,
}

/// A parsed `LCS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lcs {
    want: Want,
    min_match_len: u64,
    with_match_len: bool,
}

/// Reads `LCS`'s options after the two keys.
pub fn parse_lcs(args: &[&[u8]]) -> Result<Lcs, Error> {
    let (mut len, mut idx, mut with_match_len, mut min_match_len) = (false, false, false, 0);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if keyword::is(arg, "idx") {
            idx = true;
        } else if keyword::is(arg, "len") {
            len = true;
        } else if keyword::is(arg, "withmatchlen") {
            with_match_len = true;
        } else if keyword::is(arg, "minmatchlen") && args.len() > 0 {
            let n = args.next().and_then(|n| parse_i64(n));
            min_match_len = n.ok_or(Error::NotAnInteger)?.max(0) as u64;
        } else {
            return Err(Error::Syntax);
        }
    }
    let want = match (len, idx) {
        (true, true) => return Err(Error::LcsLenAndIdx),
        (true, false) => Want::Len,
        (false, true) => Want::Runs,
        (false, false) => Want::Text,
    };
    Ok(Lcs {
        want,
        min_match_len,
        with_match_len,
    })
}

/// A run of the subsequence: inclusive byte ranges in each string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// First and last index in the first string.
    pub a: (u32, u32),
    /// First and last index in the second string.
    pub b: (u32, u32),
}

impl Run {
    /// Its length in bytes, as `WITHMATCHLEN` gives it.
    pub fn match_len(&self) -> u32 {
        self.a.1 - self.a.0 + 1
    }
}

/// The reply of an `LCS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LcsReply {
    /// The subsequence.
    Text(Vec<u8>),
    /// Its length.
    Len(i64),
    /// `IDX`: the runs at least `MINMATCHLEN` long, from the end of the strings back to their
    /// start, and the subsequence's length.
    Runs {
        /// The runs kept.
        runs: Vec<Run>,
        /// The whole subsequence's length.
        len: i64,
        /// Whether each run's length is given (`WITHMATCHLEN`).
        with_match_len: bool,
    },
}

impl WriteReply for LcsReply {
    fn reply(&self, out: &mut Out) {
        match self {
            LcsReply::Text(text) => out.bulk(text),
            LcsReply::Len(len) => out.int(*len),
            LcsReply::Runs {
                runs,
                len,
                with_match_len,
            } => {
                out.map(2);
                out.bulk(b"matches");
                out.array(runs.len());
                for run in runs {
                    out.array(if *with_match_len { 3 } else { 2 });
                    for (first, last) in [run.a, run.b] {
                        out.array(2);
                        out.int(first.into());
                        out.int(last.into());
                    }
                    if *with_match_len {
                        out.int(run.match_len().into());
                    }
                }
                out.bulk(b"len");
                out.int(*len);
            }
        }
    }
}

impl Lcs {
    /// The longest common subsequence of `a` and `b`, as asked; `max_len` is
    /// `proto-max-bulk-len`, which bounds the table.
    pub fn apply(&self, a: &[u8], b: &[u8], max_len: u64) -> Result<LcsReply, Error> {
        let too_long = |s: &[u8]| s.len() as u64 >= u64::from(u32::MAX - 1);
        if too_long(a) || too_long(b) {
            return Err(Error::LcsStringTooLong);
        }
        let table = Table::build(a, b, max_len)?;
        let len = table.at(a.len(), b.len());
        if self.want == Want::Len {
            return Ok(LcsReply::Len(len.into()));
        }
        let (text, runs) = table.walk_back(a, b);
        Ok(match self.want {
            Want::Runs => LcsReply::Runs {
                runs: runs
                    .into_iter()
                    .filter(|run| u64::from(run.match_len()) >= self.min_match_len)
                    .collect(),
                len: len.into(),
                with_match_len: self.with_match_len,
            },
            _ => LcsReply::Text(text),
        })
    }
}

/// `cells[i][j]`: the length of the longest common subsequence of `a[..i]` and `b[..j]`.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    fn build(a: &[u8], b: &[u8], max_len: u64) -> Result<Table, Error> {
        let width = b.len() + 1;
        let count = (a.len() as u64 + 1) * width as u64;
        let bytes = count.checked_mul(4).ok_or(Error::LcsOutOfMemory)?;
        if bytes > max_len {
            return Err(Error::LcsTableTooLarge);
        }
        let mut cells = Vec::new();
        cells
            .try_reserve_exact(count as usize)
            .map_err(|_| Error::LcsOutOfMemory)?;
        cells.resize(count as usize, 0);
        let mut table = Table { cells, width };
        for (i, &x) in a.iter().enumerate() {
            for (j, &y) in b.iter().enumerate() {
                let cell = if x == y {
                    table.at(i, j) + 1
                } else {
                    table.at(i, j + 1).max(table.at(i + 1, j))
                };
                table.cells[(i + 1) * width + j + 1] = cell;
            }
        }
        Ok(table)
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks back from the ends of both strings, as Redis does: on equal bytes, take the byte
    /// and go diagonally; otherwise go up in `a` when that keeps a strictly longer
    /// subsequence, else left in `b`. Consecutive diagonal steps make a run; runs are listed in
    /// the order they close, which is from the end back.
    fn walk_back(&self, a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<Run>) {
        let mut text = Vec::with_capacity(self.at(a.len(), b.len()) as usize);
        let mut runs = Vec::new();
        let mut open: Option<Run> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                text.push(a[i - 1]);
                let (x, y) = ((i - 1) as u32, (j - 1) as u32);
                // A run is open only while the walk goes diagonally, so this byte extends it.
                let run = match open {
                    Some(run) => {
                        debug_assert!(run.a.0 == x + 1 && run.b.0 == y + 1);
                        Run {
                            a: (x, run.a.1),
                            b: (y, run.b.1),
                        }
                    }
                    None => Run {
                        a: (x, x),
                        b: (y, y),
                    },
                };
                open = Some(run);
                if x == 0 || y == 0 {
                    runs.extend(open.take());
                }
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                runs.extend(open.take());
            }
        }
        text.reverse();
        (text, runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Resp;
    use crate::value::PROTO_MAX_BULK_LEN;
    use proptest::prelude::*;

    const MAX: u64 = PROTO_MAX_BULK_LEN;

    fn lcs(args: &[&[u8]], a: &[u8], b: &[u8]) -> Result<LcsReply, Error> {
        parse_lcs(args)?.apply(a, b, MAX)
    }

    fn run(a: (u32, u32), b: (u32, u32)) -> Run {
        Run { a, b }
    }

    #[test]
    fn the_example_of_the_redis_documentation() {
        let (a, b) = (b"ohmytext", b"mynewtext");
        assert_eq!(lcs(&[], a, b), Ok(LcsReply::Text(b"mytext".to_vec())));
        assert_eq!(lcs(&[b"LEN"], a, b), Ok(LcsReply::Len(6)));
        let runs = vec![run((4, 7), (5, 8)), run((2, 3), (0, 1))];
        assert_eq!(
            lcs(&[b"idx"], a, b),
            Ok(LcsReply::Runs {
                runs: runs.clone(),
                len: 6,
                with_match_len: false
            })
        );
        assert_eq!(
            lcs(&[b"idx", b"minmatchlen", b"4", b"withmatchlen"], a, b),
            Ok(LcsReply::Runs {
                runs: runs[..1].to_vec(),
                len: 6,
                with_match_len: true
            })
        );
    }

    #[test]
    fn options_and_their_errors() {
        assert_eq!(lcs(&[b"idx", b"len"], b"a", b"a"), Err(Error::LcsLenAndIdx));
        assert_eq!(lcs(&[b"minmatchlen"], b"a", b"a"), Err(Error::Syntax));
        assert_eq!(
            lcs(&[b"minmatchlen", b"x"], b"a", b"a"),
            Err(Error::NotAnInteger)
        );
        assert_eq!(lcs(&[b"bogus"], b"a", b"a"), Err(Error::Syntax));
        assert_eq!(
            lcs(&[b"minmatchlen", b"-5", b"len"], b"ab", b"b"),
            Ok(LcsReply::Len(1))
        );
        assert_eq!(
            lcs(&[b"IDX\0x"], b"", b""),
            Ok(LcsReply::Runs {
                runs: vec![],
                len: 0,
                with_match_len: false
            })
        );
        assert_eq!(lcs(&[], b"", b"abc"), Ok(LcsReply::Text(Vec::new())));
    }

    #[test]
    fn the_table_is_bounded_by_the_length_limit() {
        let op = parse_lcs(&[b"len"]).unwrap();
        // With a limit of 1 MiB: 512 * 512 cells of 4 bytes fit, 513 * 512 do not.
        let (a, b) = (vec![b'a'; 511], vec![b'a'; 512]);
        assert_eq!(op.apply(&a, &a, 1048576), Ok(LcsReply::Len(511)));
        assert_eq!(op.apply(&b, &a, 1048576), Err(Error::LcsTableTooLarge));
        let long = vec![b'a'; 12_000];
        assert_eq!(op.apply(&long, &long, MAX), Err(Error::LcsTableTooLarge));
    }

    #[test]
    fn idx_is_a_map_in_resp3_and_a_flat_array_in_resp2() {
        let reply = lcs(&[b"idx", b"withmatchlen"], b"ab", b"ab").unwrap();
        let mut two = Out::new(Resp::V2);
        let mut three = Out::new(Resp::V3);
        reply.reply(&mut two);
        reply.reply(&mut three);
        let body = "$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:0\r\n:1\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:2\r\n";
        assert_eq!(two.bytes(), format!("*4\r\n{body}").as_bytes());
        assert_eq!(three.bytes(), format!("%2\r\n{body}").as_bytes());
    }

    /// Whether `sub` is a subsequence of `s`.
    fn is_subsequence(sub: &[u8], s: &[u8]) -> bool {
        let mut rest = s.iter();
        sub.iter().all(|c| rest.any(|d| d == c))
    }

    proptest! {
        #[test]
        fn the_result_is_a_longest_common_subsequence_and_the_runs_spell_it(
            a in proptest::collection::vec(b'a'..b'd', 0..12),
            b in proptest::collection::vec(b'a'..b'd', 0..12),
        ) {
            let Ok(LcsReply::Text(text)) = lcs(&[], &a, &b) else { panic!("text") };
            prop_assert!(is_subsequence(&text, &a) && is_subsequence(&text, &b));
            // No common subsequence is longer: check with the textbook recurrence.
            let mut best = vec![vec![0usize; b.len() + 1]; a.len() + 1];
            for i in 1..=a.len() {
                for j in 1..=b.len() {
                    best[i][j] = if a[i - 1] == b[j - 1] {
                        best[i - 1][j - 1] + 1
                    } else {
                        best[i - 1][j].max(best[i][j - 1])
                    };
                }
            }
            prop_assert_eq!(text.len(), best[a.len()][b.len()]);
            let Ok(LcsReply::Runs { runs, len, .. }) = lcs(&[b"idx"], &a, &b) else { panic!("runs") };
            prop_assert_eq!(len as usize, text.len());
            let mut spelled = Vec::new();
            for run in runs.iter().rev() {
                let (x, y) = (run.a.0 as usize..=run.a.1 as usize, run.b.0 as usize..=run.b.1 as usize);
                prop_assert_eq!(&a[x.clone()], &b[y]);
                spelled.extend_from_slice(&a[x]);
            }
            prop_assert_eq!(spelled, text);
        }
    }
}
