//! Unsigned integers of any size, with only what [`f80`](super::f80) needs to round decimal
//! text to 80-bit floats and to print them exactly: add, subtract, multiply, shift, compare, a
//! short quotient of two big numbers, and decimal digits.
//!
//! Limbs are 64-bit words, least significant first, with no zero limb on top: equal numbers
//! have equal limbs.

use core::cmp::Ordering;

/// An unsigned integer of any size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Big {
    limbs: Vec<u64>,
}

impl Big {
    /// Zero.
    pub fn zero() -> Self {
        Self::default()
    }

    /// `n`.
    pub fn from_u128(n: u128) -> Self {
        let mut big = Self {
            limbs: vec![n as u64, (n >> 64) as u64],
        };
        big.trim();
        big
    }

    /// `10^n`.
    pub fn pow10(n: u32) -> Self {
        const TEN_19: u64 = 10_000_000_000_000_000_000;
        let mut big = Self::from_u128(1);
        for _ in 0..n / 19 {
            big.mul_add_small(TEN_19, 0);
        }
        big.mul_add_small(10u64.pow(n % 19), 0);
        big
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    /// How many bits it takes: 0 for zero.
    pub fn bits(&self) -> u64 {
        match self.limbs.last() {
            None => 0,
            Some(top) => self.limbs.len() as u64 * 64 - u64::from(top.leading_zeros()),
        }
    }

    /// `self = self * m + a`.
    pub fn mul_add_small(&mut self, m: u64, a: u64) {
        let mut carry = a;
        for limb in &mut self.limbs {
            let wide = u128::from(*limb) * u128::from(m) + u128::from(carry);
            *limb = wide as u64;
            carry = (wide >> 64) as u64;
        }
        if carry != 0 {
            self.limbs.push(carry);
        }
        self.trim();
    }

    /// `self + other`.
    pub fn add(&self, other: &Big) -> Big {
        let (long, short) = if self.limbs.len() >= other.limbs.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut limbs = Vec::with_capacity(long.limbs.len() + 1);
        let mut carry = false;
        for (i, &a) in long.limbs.iter().enumerate() {
            let b = short.limbs.get(i).copied().unwrap_or(0);
            let (s, c1) = a.overflowing_add(b);
            let (s, c2) = s.overflowing_add(u64::from(carry));
            limbs.push(s);
            carry = c1 || c2;
        }
        if carry {
            limbs.push(1);
        }
        Big { limbs }
    }

    /// `self * other`.
    pub fn mul(&self, other: &Big) -> Big {
        let mut limbs = vec![0u64; self.limbs.len() + other.limbs.len()];
        for (i, &a) in self.limbs.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &b) in other.limbs.iter().enumerate() {
                let wide = u128::from(a) * u128::from(b) + u128::from(limbs[i + j]) + carry;
                limbs[i + j] = wide as u64;
                carry = wide >> 64;
            }
            limbs[i + other.limbs.len()] = carry as u64;
        }
        let mut big = Big { limbs };
        big.trim();
        big
    }

    /// `self - other`; `other` must not be larger.
    pub fn sub(&self, other: &Big) -> Big {
        debug_assert!(*self >= *other);
        let mut limbs = Vec::with_capacity(self.limbs.len());
        let mut borrow = false;
        for (i, &a) in self.limbs.iter().enumerate() {
            let b = other.limbs.get(i).copied().unwrap_or(0);
            let (d, b1) = a.overflowing_sub(b);
            let (d, b2) = d.overflowing_sub(u64::from(borrow));
            limbs.push(d);
            borrow = b1 || b2;
        }
        let mut big = Big { limbs };
        big.trim();
        big
    }

    /// `self << n`.
    pub fn shl(&self, n: u64) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let words = (n / 64) as usize;
        let bits = (n % 64) as u32;
        let mut limbs = vec![0u64; words];
        limbs.reserve(self.limbs.len() + 1);
        if bits == 0 {
            limbs.extend_from_slice(&self.limbs);
        } else {
            let mut carry = 0u64;
            for &limb in &self.limbs {
                limbs.push((limb << bits) | carry);
                carry = limb >> (64 - bits);
            }
            limbs.push(carry);
        }
        let mut big = Big { limbs };
        big.trim();
        big
    }

    /// The quotient `self / divisor` when it is below `2^width` (`width` at most 128), and
    /// whether anything remains.
    pub fn short_quotient(&self, divisor: &Big, width: u32) -> (u128, bool) {
        debug_assert!(width <= 128 && !divisor.is_zero());
        let mut rest = self.clone();
        let mut step = divisor.shl(u64::from(width) - 1);
        let mut quotient = 0u128;
        for bit in (0..width).rev() {
            if rest >= step {
                rest.sub_in_place(&step);
                quotient |= 1 << bit;
            }
            step.shr1();
        }
        debug_assert!(rest < *divisor, "the quotient is wider than {width} bits");
        (quotient, !rest.is_zero())
    }

    /// `self -= other`; `other` must not be larger.
    fn sub_in_place(&mut self, other: &Big) {
        let mut borrow = false;
        for (i, limb) in self.limbs.iter_mut().enumerate() {
            let b = other.limbs.get(i).copied().unwrap_or(0);
            if b == 0 && !borrow && i >= other.limbs.len() {
                break;
            }
            let (d, b1) = limb.overflowing_sub(b);
            let (d, b2) = d.overflowing_sub(u64::from(borrow));
            *limb = d;
            borrow = b1 || b2;
        }
        self.trim();
    }

    /// `self >>= 1`.
    fn shr1(&mut self) {
        let mut carry = 0u64;
        for limb in self.limbs.iter_mut().rev() {
            let next = *limb << 63;
            *limb = (*limb >> 1) | carry;
            carry = next;
        }
        self.trim();
    }

    /// Divides by `d` (below `2^32`) in place and returns the remainder; in 32-bit steps, so
    /// that each is a machine division.
    pub fn div_rem_small(&mut self, d: u32) -> u32 {
        let d = u64::from(d);
        let mut rem = 0u64;
        for limb in self.limbs.iter_mut().rev() {
            let high = (rem << 32) | (*limb >> 32);
            let (q_high, r) = (high / d, high % d);
            let low = (r << 32) | (*limb & 0xffff_ffff);
            let (q_low, r) = (low / d, low % d);
            *limb = (q_high << 32) | q_low;
            rem = r;
        }
        self.trim();
        rem as u32
    }

    /// Its decimal digits, without leading zeros (`"0"` for zero).
    pub fn to_decimal(&self) -> Vec<u8> {
        const TEN_9: u32 = 1_000_000_000;
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_rem_small(TEN_9));
        }
        let mut text = match chunks.pop() {
            None => return b"0".to_vec(),
            Some(top) => top.to_string().into_bytes(),
        };
        for chunk in chunks.iter().rev() {
            text.extend_from_slice(format!("{chunk:09}").as_bytes());
        }
        text
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }
}

impl Ord for Big {
    fn cmp(&self, other: &Self) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }
}

impl PartialOrd for Big {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn products_of_powers_of_ten_are_powers_of_ten() {
        assert_eq!(Big::pow10(40).mul(&Big::pow10(77)), Big::pow10(117));
        assert_eq!(Big::pow10(40).mul(&Big::zero()), Big::zero());
    }

    #[test]
    fn powers_of_ten_print_as_a_one_and_zeros() {
        for n in [0, 1, 18, 19, 20, 38, 39, 100, 4951] {
            let text = Big::pow10(n).to_decimal();
            assert_eq!(text.len(), n as usize + 1);
            assert_eq!(text[0], b'1');
            assert!(text[1..].iter().all(|&d| d == b'0'));
        }
        assert_eq!(Big::zero().to_decimal(), b"0");
        assert_eq!(Big::pow10(3).bits(), 10);
        assert_eq!(Big::zero().bits(), 0);
    }

    proptest! {
        #[test]
        fn arithmetic_agrees_with_u128(a: u64, b: u64, shift in 0u64..64) {
            let (x, y) = (Big::from_u128(a.into()), Big::from_u128(b.into()));
            prop_assert_eq!(x.add(&y), Big::from_u128(u128::from(a) + u128::from(b)));
            let (hi, lo) = if a >= b { (&x, &y) } else { (&y, &x) };
            prop_assert_eq!(hi.sub(lo), Big::from_u128(u128::from(a.abs_diff(b))));
            prop_assert_eq!(x.shl(shift), Big::from_u128(u128::from(a) << shift));
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            prop_assert_eq!(x.bits(), u64::from(128 - u128::from(a).leading_zeros()));
            prop_assert_eq!(x.mul(&y), Big::from_u128(u128::from(a) * u128::from(b)));
            let mut m = x.clone();
            m.mul_add_small(b, 7);
            prop_assert_eq!(m, Big::from_u128(u128::from(a) * u128::from(b) + 7));
            prop_assert_eq!(x.to_decimal(), a.to_string().into_bytes());
        }

        #[test]
        fn short_quotients_agree_with_u128(n: u128, d in 1u128..) {
            let q = n / d;
            let width = 128 - q.leading_zeros();
            let (got, rest) = Big::from_u128(n).short_quotient(&Big::from_u128(d), width.max(1));
            prop_assert_eq!(got, q);
            prop_assert_eq!(rest, n % d != 0);
        }

        #[test]
        fn division_by_a_half_word_agrees_with_u128(n: u128, d in 1u32..) {
            let mut big = Big::from_u128(n);
            let rem = big.div_rem_small(d);
            prop_assert_eq!(big, Big::from_u128(n / u128::from(d)));
            prop_assert_eq!(u128::from(rem), n % u128::from(d));
        }
    }
}
