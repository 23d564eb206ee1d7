//! Helpers shared by both macros.

use syn::{Attribute, Expr, Lit, Meta};

/// The text of `///` doc comments (`#[doc = "..."]`), one leading space stripped per
/// line, joined with newlines and trimmed; `None` when there is none.
pub(crate) fn doc_text(attrs: &[Attribute]) -> Option<String> {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta
            && let Expr::Lit(expr) = &nv.value
            && let Lit::Str(text) = &expr.lit
        {
            let value = text.value();
            for line in value.split('\n') {
                lines.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned());
            }
        }
    }
    let text = lines.join("\n");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_comments() {
        let item: syn::ItemStruct = syn::parse_quote! {
            /// First line.
            ///
            ///   indented
            #[derive(Debug)]
            struct S;
        };
        assert_eq!(
            doc_text(&item.attrs).as_deref(),
            Some("First line.\n\n  indented")
        );
        let item: syn::ItemStruct = syn::parse_quote! { struct S; };
        assert_eq!(doc_text(&item.attrs), None);
    }
}
