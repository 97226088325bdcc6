//! Tracking numbers: short, random, and easy to read aloud over the phone (Crockford base32).

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Crockford's alphabet leaves out I, L, O and U, so a caller never confuses 0/O or 1/I/L.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LENGTH: usize = 8;

/// The number a resident quotes to follow a report, shown as two groups of four (`7K3M-9QZ2`).
///
/// Random rather than sequential so nobody can count a city's reports or guess a neighbour's, and
/// so no single counter becomes a hot item. 40 bits; a collision is caught by the store's
/// conditional create and a fresh number is drawn.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingNumber(String);

impl TrackingNumber {
    /// Draws a new random tracking number.
    pub fn random(rng: &mut impl Rng) -> Self {
        let symbols: String = (0..LENGTH)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        TrackingNumber(format!("{}-{}", &symbols[..4], &symbols[4..]))
    }

    /// Reads a number the way a person might type or say it: any case, with or without the dash
    /// or spaces, with O for 0 and I or L for 1.
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut symbols = String::with_capacity(LENGTH);
        for c in input.trim().chars() {
            let normalised = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            if !ALPHABET.contains(&(normalised as u8)) || !normalised.is_ascii() {
                return Err(format!(
                    "`{input}` is not a tracking number: `{c}` is not one of its letters or digits"
                ));
            }
            symbols.push(normalised);
        }
        if symbols.len() != LENGTH {
            return Err(format!(
                "`{input}` is not a tracking number: it has {} letters and digits, not {LENGTH}",
                symbols.len()
            ));
        }
        Ok(TrackingNumber(format!(
            "{}-{}",
            &symbols[..4],
            &symbols[4..]
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrackingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TrackingNumber {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        TrackingNumber::parse(&value)
    }
}

impl From<TrackingNumber> for String {
    fn from(value: TrackingNumber) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn random_numbers_use_only_unambiguous_symbols() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let n = TrackingNumber::random(&mut rng);
            let s = n.as_str();
            assert_eq!(s.len(), 9);
            assert_eq!(&s[4..5], "-");
            assert!(!s.contains(['I', 'L', 'O', 'U']), "{s}");
            assert_eq!(TrackingNumber::parse(s).unwrap(), n);
        }
    }

    #[test]
    fn parse_accepts_what_a_caller_would_type() {
        let n = TrackingNumber::parse("7k3m 9qz2").unwrap();
        assert_eq!(n.as_str(), "7K3M-9QZ2");
        assert_eq!(
            TrackingNumber::parse("OIL0-ABCD").unwrap().as_str(),
            "0110-ABCD"
        );
    }

    #[test]
    fn parse_refuses_wrong_length_and_foreign_symbols() {
        assert!(TrackingNumber::parse("7K3M-9QZ").is_err());
        assert!(TrackingNumber::parse("7K3M-9QZ22").is_err());
        assert!(TrackingNumber::parse("7K3M-9QZU").is_err());
        assert!(TrackingNumber::parse("7K3M-9QZ!").is_err());
        assert!(TrackingNumber::parse("7K3M-9QZÉ").is_err());
    }
}
