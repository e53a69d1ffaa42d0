//! `#[output(<resource>, <kind> = "<name>", codec = C)]` on a field of the struct: parsing and
//! the checks that look at one output.

use syn::{Attribute, Ident, LitStr, Type};

use super::wiring::Head;

use super::args::set_once;
use crate::diagnostics::Diagnostics;

/// Output kinds: the attribute keyword and the field type it goes with.
const KINDS: &[(&str, &str)] = &[
    ("push", "PushOutput"),
    ("publish", "PublishOutput"),
    ("request", "RequestOutput"),
    ("generic", "GenericOutput"),
    ("topic", "TopicOutput"),
    ("stream", "StreamOutput"),
];

/// One `#[output]` field.
pub(crate) struct Output {
    pub(crate) field: Ident,
    pub(crate) ty: Type,
    pub(crate) resource: Ident,
    pub(crate) name: LitStr,
    pub(crate) codec: Option<syn::Path>,
}

/// Parses `#[output(...)]` of one field; `None` (with the error recorded) when it is wrong.
pub(crate) fn parse(
    diag: &mut Diagnostics,
    attr: &Attribute,
    field: &Ident,
    ty: &Type,
) -> Option<Output> {
    let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    let mut head = Head::default();
    let mut codec: Option<syn::Path> = None;
    let result = attr.parse_nested_meta(|meta| {
        let Some(key) = meta.path.get_ident().cloned() else {
            return Err(meta.error("expected a resource field or an option"));
        };
        if head.take(&meta, &key, &kinds, "output")? {
            return Ok(());
        }
        if key == "codec" {
            return set_once(&meta, &mut codec, meta.value()?.parse()?);
        }
        Err(meta.error(format!(
            "unknown `output` option; expected the kind (`{}` = \"<name>\") or `codec`",
            kinds.join("`, `")
        )))
    });
    if let Err(error) = result {
        diag.push(error);
        return None;
    }
    let (resource, kind, name) = head.finish(diag, attr, &kinds, "publish")?;
    check_kind_matches_type(diag, &kind, ty)?;
    Some(Output {
        field: field.clone(),
        ty: ty.clone(),
        resource,
        name,
        codec,
    })
}

/// `publish` on a `PushOutput` field is a contradiction the type system would not catch (the
/// type alone decides the kind), so it is reported here.
fn check_kind_matches_type(diag: &mut Diagnostics, kind: &Ident, ty: &Type) -> Option<()> {
    let Type::Path(path) = ty else {
        return Some(());
    };
    let last = path.path.segments.last()?.ident.to_string();
    let expected = KINDS.iter().find(|(k, _)| kind == k).map(|(_, t)| *t)?;
    let known = KINDS.iter().any(|(_, t)| *t == last);
    if known && last != expected {
        diag.error_at(
            kind,
            format!("`{kind}` outputs are `{expected}` fields; this field is a `{last}`"),
        );
        return None;
    }
    Some(())
}
