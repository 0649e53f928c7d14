//! Option keywords (`BIT`, `IDX`, `OVERFLOW`, ...) compared as Redis compares them: with
//! `strcasecmp` on the argument as a C string, so ASCII case is ignored and an argument ends at
//! its first NUL byte (`"idx\0anything"` is `IDX`).

/// The argument as C code sees it: up to its first NUL byte.
pub fn c_str(arg: &[u8]) -> &[u8] {
    match arg.iter().position(|&b| b == 0) {
        Some(end) => &arg[..end],
        None => arg,
    }
}

/// Whether `arg` is the keyword `word`, as `strcasecmp(arg, word) == 0` decides.
pub fn is(arg: &[u8], word: &str) -> bool {
    c_str(arg).eq_ignore_ascii_case(word.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_is_ignored_and_a_nul_ends_the_argument() {
        assert!(is(b"bIt", "BIT"));
        assert!(is(b"BIT\0BYTE", "BIT"));
        assert!(!is(b"BITS", "BIT"));
        assert!(!is(b"BI", "BIT"));
        assert!(!is(b"\0BIT", "BIT"));
        assert!(!is(b"", "BIT"));
        assert_eq!(c_str(b"ab\0c\0"), b"ab");
    }
}
