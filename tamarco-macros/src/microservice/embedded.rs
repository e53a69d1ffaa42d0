//! `#[microservice(settings = "service.yml")]`: a YAML (or, without tamarco's feature `yaml`,
//! JSON) file of in-code settings, found like `include_str!` finds its file (next to the source
//! file), checked here so that a missing file or a syntax mistake is a compile error at the
//! literal, and embedded with `include_str!` so
//! that cargo rebuilds the service when the file changes.

use std::path::PathBuf;

use syn::LitStr;

use crate::diagnostics::Diagnostics;

/// Checks the settings file named by `literal`: readable, valid YAML (JSON without the feature
/// `yaml`), a map at its root.
/// Records an error at the literal otherwise, and returns whether the file is sound (only then
/// is it embedded, so that `include_str!` adds no second error).
pub(crate) fn check(diag: &mut Diagnostics, literal: &LitStr) -> bool {
    let file = literal.value();
    let path = resolve(literal);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => {
            diag.error_at(
                literal,
                format!(
                    "cannot read the settings file `{file}` (next to this source file): {error}"
                ),
            );
            return false;
        }
    };
    match parse(&file, &text) {
        Ok(()) => true,
        Err(problem) => {
            diag.error_at(literal, problem);
            false
        }
    }
}

/// Checks that `text` holds a map of keys at its root: as YAML, or as JSON when this build of
/// tamarco reads no YAML (its feature `yaml` is off).
fn parse(file: &str, text: &str) -> Result<(), String> {
    #[cfg(feature = "yaml")]
    let map = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text)
        .map(|root| root.is_mapping())
        .map_err(|error| format!("the settings file `{file}` is not valid YAML: {error}"));
    #[cfg(not(feature = "yaml"))]
    let map = serde_json::from_str::<serde_json::Value>(text)
        .map(|root| root.is_object())
        .map_err(|error| {
            format!(
                "the settings file `{file}` is not valid JSON: {error}; YAML settings files \
                 need the cargo feature `yaml` of tamarco, which this build does not have"
            )
        });
    // The parsers' messages name the line and column, never the text there.
    match map? {
        true => Ok(()),
        false => Err(format!(
            "the settings file `{file}` must hold a map of keys at its root"
        )),
    }
}

/// The file's path: relative to the source file holding the literal, as `include_str!`
/// resolves it; relative to the package (`CARGO_MANIFEST_DIR`) where the compiler cannot say
/// (outside a macro invocation: the macro crate's unit tests).
fn resolve(literal: &LitStr) -> PathBuf {
    let relative = PathBuf::from(literal.value());
    if relative.is_absolute() {
        return relative;
    }
    let source = proc_macro::is_available()
        .then(|| literal.span().unwrap().local_file())
        .flatten();
    let base = match source.as_deref().and_then(std::path::Path::parent) {
        Some(dir) => dir.to_path_buf(),
        None => std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from),
    };
    base.join(relative)
}
