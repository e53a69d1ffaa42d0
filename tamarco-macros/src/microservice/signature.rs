//! Checks of a method's receiver and generics, shared by tasks, hooks, routes and inputs.

use syn::{FnArg, ReceiverKind, Type};

use crate::diagnostics::Diagnostics;

/// Reports a receiver other than `&self` or `self: Arc<Self>`, and generics.
pub(crate) fn check_receiver_and_generics(
    diag: &mut Diagnostics,
    sig: &syn::Signature,
    what: &str,
) {
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver)) => {
            let shared = matches!(receiver.kind, ReceiverKind::Reference(_, _, None));
            if !shared && !takes_arc_self(sig) {
                diag.error_at(
                    receiver,
                    format!("a {what} takes `&self` or `self: Arc<Self>`"),
                );
            }
        }
        _ => diag.error_at(
            &sig.ident,
            format!("a {what} takes `&self` or `self: Arc<Self>`"),
        ),
    }
    if !sig.generics.params.is_empty() {
        diag.error_at(&sig.generics, format!("a {what} cannot be generic"));
    }
}

/// Whether the method's receiver is `self: Arc<Self>` (it gets the shared service itself, to
/// hand to handlers and spawned tasks) rather than `&self`.
pub(crate) fn takes_arc_self(sig: &syn::Signature) -> bool {
    let Some(FnArg::Receiver(receiver)) = sig.inputs.first() else {
        return false;
    };
    let ReceiverKind::Typed(_, ty) = &receiver.kind else {
        return false;
    };
    matches!(&**ty, Type::Path(path) if path.path.segments.last().is_some_and(|s| s.ident == "Arc"))
}
