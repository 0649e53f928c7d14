//! The keys and values the firmware writes, built in fixed buffers, and the shape that tells a
//! whole value from a torn one.

/// The longest key the firmware's tables take, in bytes.
pub const KEY_MAX: usize = 16;
/// The longest value of the keys the interrupt handler shares and the fill writes (and the
/// longest the baseline's map takes), in bytes.
pub const VALUE_MAX: usize = 16;
/// The longest value kv's table takes: four of its 1 KiB pages.
pub const LARGE_VALUE_MAX: usize = 4096;

/// Value sizes the mixed-size steps cycle through: below, at and above the boundaries that
/// matter (a word, the 8-byte classes, half a page, a page, several pages).
pub const MIXED_SIZES: [usize; 12] = [0, 1, 7, 24, 100, 300, 511, 513, 1000, 1100, 2500, 4096];

/// Byte `i` of the value of generation `g` of a mixed-size key `n`: a pattern that a value of
/// another key, generation or offset does not share.
pub fn mixed_byte(n: u32, g: u32, i: usize) -> u8 {
    let x = (n.wrapping_mul(0x9e37_79b9) ^ g.wrapping_mul(0x85eb_ca6b)).wrapping_add(i as u32);
    (x ^ (x >> 7) ^ (x >> 13)) as u8
}

/// The length of generation `g` of a mixed-size key `n`.
pub fn mixed_len(n: u32, g: u32) -> usize {
    MIXED_SIZES[(n as usize * 5 + g as usize * 7) % MIXED_SIZES.len()]
}

/// Fills `buf` with generation `g` of mixed-size key `n`'s value; returns its length.
pub fn mixed_value(n: u32, g: u32, buf: &mut [u8]) -> usize {
    let len = mixed_len(n, g);
    for (i, b) in buf[..len].iter_mut().enumerate() {
        *b = mixed_byte(n, g, i);
    }
    len
}

/// Whether `v` is generation `g` of mixed-size key `n`'s value.
pub fn is_mixed_value(n: u32, g: u32, v: &[u8]) -> bool {
    v.len() == mixed_len(n, g) && v.iter().enumerate().all(|(i, &b)| b == mixed_byte(n, g, i))
}

/// Keys written from the main loop and, concurrently, from the SysTick handler.
pub const SHARED_KEYS: u32 = 4;

/// A byte string of at most `N` bytes in a fixed buffer.
#[derive(Clone, Copy)]
pub struct Bytes<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Bytes<N> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `prefix` followed by `n` in decimal, such as `fill-123`.
pub fn numbered(prefix: &[u8], n: u32) -> Bytes<KEY_MAX> {
    let mut out = Bytes {
        buf: [0; KEY_MAX],
        len: prefix.len(),
    };
    out.buf[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 10];
    let mut d = 0;
    let mut rest = n;
    loop {
        digits[d] = b'0' + (rest % 10) as u8;
        d += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &digit in digits[..d].iter().rev() {
        out.buf[out.len] = digit;
        out.len += 1;
    }
    out
}

/// The `i`-th key shared with the interrupt handler: `shared-0` to `shared-3`.
pub fn shared_key(i: u32) -> Bytes<KEY_MAX> {
    numbered(b"shared-", i % SHARED_KEYS)
}

/// The value of generation `g` of a shared key: `g % 16 + 1` bytes, each `b'A' + g % 16`. A
/// value made of two generations (a torn read) has mixed bytes or a length that does not match.
pub fn shared_value(g: u32) -> Bytes<VALUE_MAX> {
    let k = (g % 16) as usize;
    Bytes {
        buf: [b'A' + k as u8; VALUE_MAX],
        len: k + 1,
    }
}

/// Whether `v` is some generation of [`shared_value`].
pub fn is_shared_value(v: &[u8]) -> bool {
    match v.first() {
        Some(&b @ b'A'..=b'P') => v.len() == usize::from(b - b'A') + 1 && v.iter().all(|&x| x == b),
        _ => false,
    }
}

/// Keys the main loop inserts and deletes beside the shared keys while the interrupt runs.
pub const CHURN_KEYS: u32 = 8;

/// The `n`-th churn key: `churn-0` to `churn-7`.
pub fn churn_key(n: u32) -> Bytes<KEY_MAX> {
    numbered(b"churn-", n % CHURN_KEYS)
}

/// The key of the `n`-th entry of the fill phase.
pub fn fill_key(n: u32) -> Bytes<KEY_MAX> {
    numbered(b"fill-", n)
}

/// The value of the `n`-th entry of the fill phase.
pub fn fill_value(n: u32) -> Bytes<VALUE_MAX> {
    numbered(b"value-", n)
}

/// `numerator / denominator` as a percentage with two decimals, in hundredths (9_875 = 98.75%).
pub fn hundredths_percent(numerator: usize, denominator: usize) -> usize {
    numerator * 10_000 / denominator.max(1)
}
