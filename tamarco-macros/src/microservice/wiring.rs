//! The head shared by `#[input(...)]` and `#[output(...)]`: the resource field first, then
//! `<kind> = "<name>"`.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, Ident, LitStr, Token};

use super::args::set_once;
use crate::diagnostics::Diagnostics;

/// The resource and the kind with its name, as read so far.
#[derive(Default)]
pub(crate) struct Head {
    resource: Option<Ident>,
    kind: Option<(Ident, LitStr)>,
}

impl Head {
    /// Reads `meta` if it is the resource (a bare name before anything else) or one of
    /// `kinds` (`subscribe = "prices"`); `Ok(false)` if it is some other option.
    pub(crate) fn take(
        &mut self,
        meta: &ParseNestedMeta<'_>,
        key: &Ident,
        kinds: &[&str],
        what: &str,
    ) -> syn::Result<bool> {
        if self.resource.is_none() && self.kind.is_none() && !meta.input.peek(Token![=]) {
            self.resource = Some(key.clone());
            return Ok(true);
        }
        if !kinds.iter().any(|kind| key == kind) {
            return Ok(false);
        }
        let name: LitStr = meta.value()?.parse()?;
        if name.value().is_empty() {
            return Err(syn::Error::new(
                name.span(),
                format!("an {what}'s name cannot be empty"),
            ));
        }
        set_once(meta, &mut self.kind, (key.clone(), name))?;
        Ok(true)
    }

    /// The kind, if read.
    pub(crate) fn kind(&self) -> Option<&Ident> {
        self.kind.as_ref().map(|(kind, _)| kind)
    }

    /// Takes `kind = name` as written when the attribute gave none (Kafka's `topics = [...]`
    /// implies `topic`).
    pub(crate) fn imply_kind(&mut self, kind: Ident, name: LitStr) {
        self.kind.get_or_insert((kind, name));
    }

    /// The resource, the kind and the name; a missing one is reported at the attribute.
    pub(crate) fn finish(
        self,
        diag: &mut Diagnostics,
        attr: &Attribute,
        kinds: &[&str],
        example: &str,
    ) -> Option<(Ident, Ident, LitStr)> {
        let what = attr.path().get_ident().map(ToString::to_string);
        let what = what.as_deref().unwrap_or("input");
        let Some(resource) = self.resource else {
            diag.error_at(
                attr,
                format!("name the resource first: `#[{what}(amqp, {example} = \"prices\")]`"),
            );
            return None;
        };
        let Some((kind, name)) = self.kind else {
            diag.error_at(
                attr,
                format!(
                    "say what the {what} is: `{}` = \"<name>\", e.g. `#[{what}({resource}, {example} = \"prices\")]`",
                    kinds.join("`, `")
                ),
            );
            return None;
        };
        Some((resource, kind, name))
    }
}
