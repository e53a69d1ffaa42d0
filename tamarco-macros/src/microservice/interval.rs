//! The `interval` of `#[task_timer]`: an integer of milliseconds, or a string such as `"250ms"`,
//! `"2s"`, `"5m"` or `"1h"`. Checked here, at compile time.

use syn::{Expr, ExprLit, ExprUnary, Lit, UnOp};

/// Milliseconds for an `interval = ...` expression, or an error at the offending token.
pub(crate) fn parse(expr: &Expr) -> syn::Result<u64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => {
            let ms: u64 = int
                .base10_parse()
                .map_err(|_| syn::Error::new_spanned(int, "interval is too large"))?;
            positive(ms, int)
        }
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => {
            let ms = parse_text(&text.value())
                .map_err(|message| syn::Error::new_spanned(text, message))?;
            positive(ms, text)
        }
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        }) => Err(syn::Error::new_spanned(expr, "interval cannot be negative")),
        _ => Err(syn::Error::new_spanned(
            expr,
            "interval must be milliseconds (`interval = 500`) or a duration string (`interval = \"2s\"`)",
        )),
    }
}

fn positive(ms: u64, at: impl quote::ToTokens) -> syn::Result<u64> {
    if ms == 0 {
        return Err(syn::Error::new_spanned(
            at,
            "interval must be greater than zero",
        ));
    }
    Ok(ms)
}

/// `"250ms"` → 250, `"2s"` → 2000, `"1m 30s"` → 90000; the error says what is wrong.
fn parse_text(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err("interval cannot be negative".into());
    }
    // A bare number in a string could mean seconds (as in settings) or milliseconds (as the
    // integer form does): ask for a unit rather than guess.
    if text.parse::<f64>().is_ok() {
        return Err(format!(
            "`{text}` has no unit; add one of ms, s, m, h (or write milliseconds as an integer)"
        ));
    }
    let duration = super::duration::with_unit(text).map_err(|error| {
        format!("`{text}` is not a duration ({error}); write a number and a unit, like \"250ms\" or \"2s\"")
    })?;
    if duration.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!("`{text}` is not a whole number of milliseconds"));
    }
    u64::try_from(duration.as_millis()).map_err(|_| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_text;

    #[test]
    fn units() {
        assert_eq!(parse_text("250ms"), Ok(250));
        assert_eq!(parse_text("2s"), Ok(2_000));
        assert_eq!(parse_text("5m"), Ok(300_000));
        assert_eq!(parse_text("1h"), Ok(3_600_000));
        assert_eq!(parse_text("1m 30s"), Ok(90_000));
        assert!(
            parse_text("2x")
                .unwrap_err()
                .contains("unknown time unit \"x\"")
        );
        assert!(
            parse_text("1500us")
                .unwrap_err()
                .contains("whole number of milliseconds")
        );
        assert!(parse_text("-2s").unwrap_err().contains("negative"));
        assert!(parse_text("ms").is_err());
        assert!(parse_text("5").unwrap_err().contains("no unit"));
    }
}
