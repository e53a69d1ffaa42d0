//! `#[microservice(settings = "service.yml")]`: a YAML file of in-code settings, found like
//! `include_str!` finds its file (next to the source file), checked here so that a missing file
//! or a YAML mistake is a compile error at the literal, and embedded with `include_str!` so
//! that cargo rebuilds the service when the file changes.

use std::path::PathBuf;

use syn::LitStr;

use crate::diagnostics::Diagnostics;

/// Checks the settings file named by `literal`: readable, valid YAML, a map at its root.
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
    let problem = match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) {
        Ok(serde_yaml_ng::Value::Mapping(_)) => return true,
        Ok(_) => format!("the settings file `{file}` must hold a map of keys at its root"),
        // The parser's message names the line and column, never the text there.
        Err(error) => format!("the settings file `{file}` is not valid YAML: {error}"),
    };
    diag.error_at(literal, problem);
    false
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
