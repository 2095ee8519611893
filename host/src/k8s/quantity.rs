//! Kubernetes resource quantities (`1900m`, `2607596Ki`, `1.5Gi`, `100M`, `1e3`) as integers.
//!
//! The API server accepts any of the forms the apimachinery `resource.Quantity` grammar allows; the
//! scheduler rounds fractional amounts *up* (`MilliValue`/`Value`), so this module does too: a pod
//! that asks for `0.5m` CPU still needs one millicore. Pure functions, no I/O.

/// A quantity string that is not valid Kubernetes quantity syntax, or is negative.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {text:?}: {reason}")]
pub struct QuantityError {
    /// The text as the API returned it.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A parsed quantity: `mantissa * 10^exp10 * 2^exp2`, non-negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    mantissa: u128,
    exp10: i32,
    exp2: u32,
}

fn parse(text: &str) -> Result<Parsed, QuantityError> {
    let err = |reason| QuantityError {
        text: text.to_owned(),
        reason,
    };
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.starts_with('-') {
        // Requests, allocatable and budgets are never negative; a negative value is a bug upstream
        // that we refuse rather than turn into a huge unsigned number.
        return Err(err("negative quantities are not allowed here"));
    }
    let number_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_end);
    if number.is_empty() || number == "." {
        return Err(err("no number"));
    }
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => {
            if f.contains('.') {
                return Err(err("more than one decimal point"));
            }
            (i, f)
        }
        None => (number, ""),
    };
    let mut mantissa: u128 = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        let digit = u128::from(c.to_digit(10).ok_or_else(|| err("not a digit"))?);
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(digit))
            .ok_or_else(|| err("too many digits"))?;
    }
    let frac_len = i32::try_from(frac_part.len()).map_err(|_| err("too many digits"))?;
    let mut exp10 = -frac_len;
    let mut exp2 = 0;
    match suffix {
        "" => {}
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        "Ki" => exp2 = 10,
        "Mi" => exp2 = 20,
        "Gi" => exp2 = 30,
        "Ti" => exp2 = 40,
        "Pi" => exp2 = 50,
        "Ei" => exp2 = 60,
        other => {
            // Decimal exponent form: `1e3`, `1.5E-3`. A bare `E` is the exa suffix, handled above.
            let exp = other
                .strip_prefix(['e', 'E'])
                .filter(|e| !e.is_empty())
                .ok_or_else(|| err("unknown suffix"))?;
            let exp: i32 = exp.parse().map_err(|_| err("unknown suffix"))?;
            if !(-40..=40).contains(&exp) {
                return Err(err("exponent out of range"));
            }
            exp10 += exp;
        }
    }
    Ok(Parsed {
        mantissa,
        exp10,
        exp2,
    })
}

/// `value * 10^scale10`, rounded up, saturating at `u64::MAX`.
fn scaled(p: Parsed, scale10: i32) -> u64 {
    let exp10 = p.exp10 + scale10;
    let mut value = p.mantissa;
    // Multiply by 2^exp2 first: it only ever grows the value, and keeping the division last keeps
    // the single rounding step exact.
    for _ in 0..p.exp2 {
        value = value.saturating_mul(2);
    }
    if exp10 >= 0 {
        for _ in 0..exp10 {
            value = value.saturating_mul(10);
        }
    } else {
        let divisor = 10u128
            .checked_pow(exp10.unsigned_abs())
            .unwrap_or(u128::MAX);
        value = value.div_ceil(divisor);
    }
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// A quantity in thousandths of its unit, rounded up: CPU in millicores (`1900m` -> 1900, `2` -> 2000).
pub fn parse_millis(text: &str) -> Result<u64, QuantityError> {
    parse(text).map(|p| scaled(p, 3))
}

/// A quantity in whole units, rounded up: memory and storage in bytes (`2607596Ki` -> 2670178304),
/// pods, extended resources.
pub fn parse_units(text: &str) -> Result<u64, QuantityError> {
    parse(text).map(|p| scaled(p, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_units_match_kubernetes_value() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("61", 61),
            ("2607596Ki", 2_607_596 * 1024),
            ("1.5Gi", 1_610_612_736),
            ("100M", 100_000_000),
            ("128Mi", 134_217_728),
            ("1k", 1000),
            ("1e3", 1000),
            ("1.5E3", 1500),
            ("1E", 1_000_000_000_000_000_000),
            ("1Ei", 1 << 60),
            ("+5", 5),
            ("0.1", 1),         // rounded up, as Quantity.Value() does
            ("100m", 1),        // rounded up
            ("12e-1", 2),       // 1.2 rounded up
            ("16Ei", u64::MAX), // saturates
        ];
        for (text, want) in cases {
            assert_eq!(parse_units(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn millis_match_kubernetes_milli_value() {
        let cases: &[(&str, u64)] = &[
            ("1900m", 1900),
            ("2", 2000),
            ("0.5", 500),
            ("1.25", 1250),
            ("250m", 250),
            ("0.5m", 1), // rounded up
            ("100u", 1),
            ("1500000n", 2),
            ("1k", 1_000_000),
            ("1e-3", 1),
        ];
        for (text, want) in cases {
            assert_eq!(parse_millis(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn rejects_what_the_api_server_rejects() {
        for text in [
            "", "m", "abc", "1.2.3", "1Q", "-1", "1e", "1KiB", ".", "1e99",
        ] {
            assert!(parse_units(text).is_err(), "{text} should be rejected");
        }
    }
}
