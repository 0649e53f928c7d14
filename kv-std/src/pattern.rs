//! Glob-style matching for `KEYS` and `SCAN ... MATCH`, with Redis's rules: `*` any run, `?` any
//! byte, `[abc]`, `[^abc]` and `[a-z]` classes, and `\` to take the next byte literally.

/// Whether `s` matches `pattern`.
pub fn matches(pattern: &[u8], s: &[u8]) -> bool {
    // Iterative with one backtrack point for the last `*`: linear in practice and never deep,
    // unlike a recursive matcher a hostile pattern could drive into the stack.
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((hit, next)) = class(pattern, p + 1, s[i]) {
                        if hit {
                            p = next;
                            i += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if pattern[p + 1] == s[i] {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[i] {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        // Mismatch: let the last `*` swallow one more byte, or fail.
        match star {
            Some((sp, si)) => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches byte `c` against the class starting at `pattern[at]` (just after `[`). Returns
/// whether it matched and the index after the closing `]`; an unclosed class runs to the end of
/// the pattern, as in Redis.
fn class(pattern: &[u8], mut at: usize, c: u8) -> Option<(bool, usize)> {
    let negate = pattern.get(at) == Some(&b'^');
    if negate {
        at += 1;
    }
    let mut hit = false;
    while at < pattern.len() && pattern[at] != b']' {
        if pattern[at] == b'\\' && at + 1 < pattern.len() {
            hit |= pattern[at + 1] == c;
            at += 2;
        } else if at + 2 < pattern.len() && pattern[at + 1] == b'-' && pattern[at + 2] != b']' {
            let (a, b) = (
                pattern[at].min(pattern[at + 2]),
                pattern[at].max(pattern[at + 2]),
            );
            hit |= (a..=b).contains(&c);
            at += 3;
        } else {
            hit |= pattern[at] == c;
            at += 1;
        }
    }
    let next = (at + 1).min(pattern.len());
    Some((hit != negate, next))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs_match_as_in_redis() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("user:*", "user:1", true),
            ("user:*", "users", false),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[a-b]llo", "hcllo", false),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("*a*b*c*", "xxaxxbxxcxx", true),
            ("*a*b*c*", "xxaxxcxxbxx", false),
            ("a*", "b", false),
            ("", "", true),
            ("", "a", false),
        ];
        for &(p, s, want) in cases {
            assert_eq!(matches(p.as_bytes(), s.as_bytes()), want, "{p:?} vs {s:?}");
        }
    }

    #[test]
    fn many_stars_stay_fast() {
        let pattern = "*a".repeat(50) + "b";
        let s = "a".repeat(10_000);
        assert!(!matches(pattern.as_bytes(), s.as_bytes()));
    }
}
