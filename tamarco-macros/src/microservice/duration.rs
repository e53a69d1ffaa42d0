//! A duration in an attribute (`retry_backoff = "250ms"`), read at compile time as settings
//! read one: a plain number is seconds (`1`, `0.25`, `"2"`), text with a unit goes through
//! humantime (`"250ms"`, `"1s"`, `"1m 30s"`). A bad value is an error at the literal.

use proc_macro2::TokenStream;
use quote::quote_spanned;
use syn::Lit;

const EXPECTED: &str =
    "expected a duration: seconds (`1`, `0.25`) or text with a unit (`\"250ms\"`, `\"1s\"`)";

/// Parses the literal; the expression it becomes is a `core::time::Duration`.
pub(crate) fn parse(lit: &Lit) -> syn::Result<TokenStream> {
    let duration = match lit {
        // `250ms` lexes as the integer 250 with the suffix `ms`.
        Lit::Int(int) if !int.suffix().is_empty() => text(&int.to_string(), lit)?,
        Lit::Int(int) => std::time::Duration::from_secs(int.base10_parse::<u64>()?),
        Lit::Float(float) if float.suffix().is_empty() => {
            seconds(float.base10_parse::<f64>()?, lit)?
        }
        Lit::Str(written) => text(&written.value(), lit)?,
        _ => return Err(syn::Error::new(lit.span(), EXPECTED)),
    };
    let nanos = u64::try_from(duration.as_nanos())
        .map_err(|_| syn::Error::new(lit.span(), "the duration is too long"))?;
    Ok(quote_spanned!(lit.span()=> ::core::time::Duration::from_nanos(#nanos)))
}

fn seconds(secs: f64, lit: &Lit) -> syn::Result<std::time::Duration> {
    if secs < 0.0 {
        return Err(syn::Error::new(lit.span(), "a duration cannot be negative"));
    }
    std::time::Duration::try_from_secs_f64(secs).map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!("{EXPECTED}; the number is out of range"),
        )
    })
}

fn text(text: &str, lit: &Lit) -> syn::Result<std::time::Duration> {
    let text = text.trim();
    match text.parse::<f64>() {
        Ok(secs) => seconds(secs, lit),
        Err(_) => with_unit(text)
            .map_err(|error| syn::Error::new(lit.span(), format!("{EXPECTED}: {error}"))),
    }
}

/// Text with a unit (`"250ms"`, `"1m 30s"`): the one reading of such text in the macros
/// (`#[task_timer(interval)]` too), the rules the settings' duration type follows at run time.
pub(crate) fn with_unit(text: &str) -> Result<std::time::Duration, humantime::DurationError> {
    humantime::parse_duration(text)
}
