//! What a Kafka `topic` input subscribes to, in its attribute: `topics = ["a", "b"]` in place
//! of `topic = "a"` (with `name = "..."` for the input, else the topics joined by commas),
//! `group = "billing"` and `offset_reset = "latest"`. Checked here; the generated code passes
//! them to the engine as the input's transport options, which settings override under the
//! input's own key (`inputs.<name>.topics`, `.group`, `.offset_reset`).

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Token};

/// The options read here.
pub(crate) const KEYS: &[&str] = &["topics", "group", "offset_reset", "name"];

/// The input kind these options belong to.
const KIND: &str = "topic";

/// The subscription options of one `#[input]`, as written.
#[derive(Default)]
pub(crate) struct Subscription {
    topics: Option<(Ident, Vec<LitStr>)>,
    group: Option<(Ident, LitStr)>,
    offset_reset: Option<(Ident, LitStr)>,
    name: Option<(Ident, LitStr)>,
}

impl Subscription {
    /// Reads the option `key` (one of [`KEYS`]). A value that parses but is wrong is recorded
    /// in `errors` and parsing goes on, so that every mistake of the attribute shows at once.
    pub(crate) fn take(
        &mut self,
        meta: &ParseNestedMeta<'_>,
        key: Ident,
        errors: &mut Vec<syn::Error>,
    ) -> syn::Result<()> {
        let given = match key.to_string().as_str() {
            "topics" => self.topics.is_some(),
            "group" => self.group.is_some(),
            "offset_reset" => self.offset_reset.is_some(),
            _ => self.name.is_some(),
        };
        if given {
            return Err(meta.error(format!("`{key}` is given more than once")));
        }
        let value = meta.value()?;
        if key == "topics" {
            if value.peek(LitStr) {
                let one: LitStr = value.parse()?;
                errors.push(syn::Error::new(
                    one.span(),
                    format!(
                        "`topics` takes a list: `topics = [{0:?}]`, or `topic = {0:?}` for one",
                        one.value()
                    ),
                ));
                // Still the input's topics, so that no second error says it has no kind.
                self.topics = Some((key, vec![one]));
                return Ok(());
            }
            let list;
            let brackets = syn::bracketed!(list in value);
            let topics: Vec<LitStr> = Punctuated::<LitStr, Token![,]>::parse_terminated(&list)?
                .into_iter()
                .collect();
            check_topics(brackets.span.join(), &topics, errors);
            self.topics = Some((key, topics));
            return Ok(());
        }
        let text: LitStr = value.parse()?;
        match key.to_string().as_str() {
            "group" => {
                if text.value().is_empty() {
                    errors.push(syn::Error::new(
                        text.span(),
                        "a consumer group name cannot be empty",
                    ));
                }
                self.group = Some((key, text));
            }
            "offset_reset" => {
                if let Some(problem) = offset_reset_problem(&text.value()) {
                    errors.push(syn::Error::new(text.span(), problem));
                }
                self.offset_reset = Some((key, text));
            }
            _ => {
                if text.value().is_empty() {
                    errors.push(syn::Error::new(
                        text.span(),
                        "an input's name cannot be empty",
                    ));
                }
                self.name = Some((key, text));
            }
        }
        Ok(())
    }

    /// Checks the options against the input's kind (`kind`, as written, if any). Returns the
    /// kind and name `topics` gives an input that wrote no kind, and the transport options
    /// for the generated code.
    pub(crate) fn finish(
        self,
        kind: Option<&Ident>,
        errors: &mut Vec<syn::Error>,
    ) -> (Option<(Ident, LitStr)>, Vec<TokenStream>) {
        let mut implied = None;
        match kind {
            Some(kind) if kind != KIND => {
                for key in self.keys() {
                    errors.push(syn::Error::new(
                        key.span(),
                        format!(
                            "`{key}` is an option of Kafka `topic` inputs, not of `{kind}` inputs"
                        ),
                    ));
                }
                return (None, Vec::new());
            }
            Some(kind) => {
                if let Some((topics, _)) = &self.topics {
                    errors.push(syn::Error::new(
                        topics.span(),
                        format!("give `{kind} = \"...\"` or `topics = [...]`, not both: `topics` lists every topic of the input"),
                    ));
                }
            }
            None => {
                if let Some((topics_key, topics)) = &self.topics {
                    let name = match &self.name {
                        Some((_, name)) => name.clone(),
                        None => {
                            let joined: Vec<String> = topics.iter().map(LitStr::value).collect();
                            LitStr::new(&joined.join(","), topics_key.span())
                        }
                    };
                    implied = Some((Ident::new(KIND, topics_key.span()), name));
                }
            }
        }
        if let (Some((key, _)), None) = (&self.name, &self.topics) {
            errors.push(syn::Error::new(
                key.span(),
                "`name` names an input over several `topics`; a `topic` input is named by its topic",
            ));
        }
        let mut options = Vec::new();
        if let Some((key, topics)) = &self.topics {
            options.push(quote_spanned!(key.span()=> .transport_option("topics", [#(#topics),*])));
        }
        if let Some((key, group)) = &self.group {
            options.push(quote_spanned!(key.span()=> .transport_option("group", #group)));
        }
        if let Some((key, reset)) = &self.offset_reset {
            options.push(quote_spanned!(key.span()=> .transport_option("offset_reset", #reset)));
        }
        (implied, options)
    }

    /// The option keys written, in a fixed order.
    fn keys(&self) -> Vec<&Ident> {
        [
            self.topics.as_ref().map(|(k, _)| k),
            self.group.as_ref().map(|(k, _)| k),
            self.offset_reset.as_ref().map(|(k, _)| k),
            self.name.as_ref().map(|(k, _)| k),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// An empty list, an empty name and a topic listed twice are errors at their tokens.
fn check_topics(list: Span, topics: &[LitStr], errors: &mut Vec<syn::Error>) {
    if topics.is_empty() {
        errors.push(syn::Error::new(
            list,
            "the list is empty: name at least one topic",
        ));
    }
    for (i, topic) in topics.iter().enumerate() {
        let value = topic.value();
        if value.is_empty() {
            errors.push(syn::Error::new(
                topic.span(),
                "a topic name cannot be empty",
            ));
        } else if topics[..i].iter().any(|t| t.value() == value) {
            errors.push(syn::Error::new(
                topic.span(),
                format!("`{value}` is listed twice"),
            ));
        }
    }
}

/// What is wrong with an offset reset, if anything.
fn offset_reset_problem(value: &str) -> Option<String> {
    match value {
        "earliest" | "latest" => None,
        "smallest" => {
            Some("`smallest` is the Python original's spelling: write `\"earliest\"`".into())
        }
        "largest" => Some("`largest` is the Python original's spelling: write `\"latest\"`".into()),
        other => Some(format!(
            "unknown offset reset `{other}`; expected `\"earliest\"` (from the oldest record kept) or `\"latest\"` (only records produced after the group joined)"
        )),
    }
}
