//! Telephone numbers in the one form SMS gateways take (E.164: `+18605550199`).

/// Writes a number as E.164, adding `country_code` to a national number; None if it cannot be one.
pub fn to_e164(number: &str, country_code: u16) -> Option<String> {
    let international = number.trim_start().starts_with('+');
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let national_length = match country_code {
        1 => 10,
        _ => 0,
    };
    let already_has_country_code =
        international || (country_code == 1 && digits.len() == 11 && digits.starts_with('1'));
    let full = if already_has_country_code {
        digits
    } else if national_length == 0 || digits.len() == national_length {
        format!("{country_code}{digits}")
    } else {
        return None;
    };
    (8..=15).contains(&full.len()).then(|| format!("+{full}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn north_american_numbers_in_any_spelling() {
        for typed in [
            "(860) 555-0199",
            "860-555-0199",
            "1 860 555 0199",
            "+1 860 555 0199",
            "8605550199",
        ] {
            assert_eq!(
                to_e164(typed, 1).as_deref(),
                Some("+18605550199"),
                "{typed}"
            );
        }
    }

    #[test]
    fn numbers_that_cannot_be_dialled_are_refused() {
        assert_eq!(to_e164("555-0199", 1), None);
        assert_eq!(to_e164("+12", 1), None);
        assert_eq!(
            to_e164("+44 20 7946 0018", 1).as_deref(),
            Some("+442079460018")
        );
    }
}
