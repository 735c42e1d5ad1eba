//! Money amounts (`item.amount`). They are kept as JSON numbers, so an
//! amount is accepted only when a double holds it exactly as the decimal
//! that was sent: at most [`MAX_DIGITS`] significant digits and less than
//! 10^15 in size. Anything else is refused (422 naming the field) instead of
//! being silently rounded (2^64 would be stored as 18446744073709552000);
//! `-0` is stored as `0`.

/// Most significant decimal digits of an amount.
pub const MAX_DIGITS: usize = 15;
/// Amounts are smaller than this in size.
pub const MAX_AMOUNT: f64 = 1e15;

/// The amount as it will be stored, or why it is refused.
pub fn check_amount(v: f64) -> Result<f64, String> {
    if !v.is_finite() || v.abs() >= MAX_AMOUNT {
        return Err(format!(
            "must be a decimal smaller than 10^15 in size, got {v}"
        ));
    }
    // The shortest text that reads back as `v`: its digits are what was sent,
    // unless the value had more digits than a double holds.
    let text = format!("{:e}", v.abs());
    let mantissa = text.split('e').next().unwrap_or_default();
    let digits = mantissa.chars().filter(char::is_ascii_digit).count();
    if digits > MAX_DIGITS {
        return Err(format!(
            "at most {MAX_DIGITS} significant digits (a larger precision would be rounded)"
        ));
    }
    Ok(if v == 0.0 { 0.0 } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_kept_exactly_or_refused() {
        assert_eq!(check_amount(25000.0), Ok(25000.0));
        assert_eq!(check_amount(19.99), Ok(19.99));
        assert_eq!(check_amount(999_999_999_999.99), Ok(999_999_999_999.99));
        assert!(check_amount(-0.0).unwrap().is_sign_positive());
        assert!(check_amount(2f64.powi(64)).is_err());
        assert!(check_amount(1e15).is_err());
        assert!(check_amount(f64::NAN).is_err());
        // 0.1234567890123456789 reads back with 16+ digits: refused.
        assert!(check_amount(0.123_456_789_012_345_68).is_err());
        assert_eq!(check_amount(-12.5), Ok(-12.5));
    }
}
