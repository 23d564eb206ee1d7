//! `#[runbook]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, ReturnType, Type};

use crate::util::doc_text;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut name: Option<LitStr> = None;
    let mut description: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        let slot = if meta.path.is_ident("name") {
            &mut name
        } else if meta.path.is_ident("description") {
            &mut description
        } else {
            return Err(meta.error(
                "unknown runbook attribute; expected `name = \"...\"` or `description = \"...\"`",
            ));
        };
        if slot.is_some() {
            return Err(meta.error("duplicate runbook attribute"));
        }
        let value: LitStr = meta.value()?.parse()?;
        *slot = Some(value);
        Ok(())
    });
    syn::parse::Parser::parse2(parser, args)?;
    if let Some(name) = &name
        && name.value().trim().is_empty()
    {
        return Err(syn::Error::new(
            name.span(),
            "the runbook name must not be empty",
        ));
    }

    let function: ItemFn = match syn::parse2::<syn::Item>(item)? {
        syn::Item::Fn(function) => function,
        other => {
            return Err(syn::Error::new(
                other.span(),
                "#[runbook] goes on a free function: fn run(ctx: &Context, params: P) -> Result<O, E>",
            ));
        }
    };
    check_signature(&function)?;

    let sig = &function.sig;
    let fn_ident = &sig.ident;
    let ctx_ty = match sig.inputs.first() {
        Some(FnArg::Typed(arg)) => &arg.ty,
        _ => unreachable!("checked by check_signature"),
    };
    let params_ty: Option<&Type> = match sig.inputs.iter().nth(1) {
        Some(FnArg::Typed(arg)) => Some(&arg.ty),
        _ => None,
    };
    let ReturnType::Type(_, return_ty) = &sig.output else {
        unreachable!("checked by check_signature")
    };

    let name = match &name {
        Some(name) => quote!(#name),
        None => quote!(::core::env!("CARGO_PKG_NAME")),
    };
    let description = match (&description, doc_text(&function.attrs)) {
        (Some(description), _) => quote!(#description),
        (None, Some(doc)) => quote!(#doc),
        (None, None) => quote!(::core::env!("CARGO_PKG_DESCRIPTION")),
    };

    let params = match params_ty {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    };
    // Spanned checks, so a type error points at the user's code, not at the macro.
    let params_check = params_ty
        .map(|ty| quote_spanned!(ty.span()=> ::runbox_sdk::__private::assert_params::<#ty>();));
    let return_check = quote_spanned!(return_ty.span()=>
        ::runbox_sdk::__private::assert_run_result::<#return_ty>();
    );
    let call = match params_ty {
        Some(_) => quote_spanned!(ctx_ty.span()=> #fn_ident(ctx, params)),
        None => quote_spanned!(ctx_ty.span()=> #fn_ident(ctx)),
    };
    let params_pattern = match params_ty {
        Some(_) => quote!(params),
        None => quote!(()),
    };

    Ok(quote! {
        #function

        const _: () = {
            #[doc(hidden)]
            struct __RunboxRunbook;

            impl ::runbox_sdk::bindings::Guest for __RunboxRunbook {
                fn describe() -> ::runbox_sdk::bindings::RunbookInfo {
                    #params_check
                    #return_check
                    ::runbox_sdk::__private::describe::<#params>(#name, #description)
                }

                fn run(
                    invocation: ::runbox_sdk::bindings::Invocation,
                ) -> ::core::result::Result<
                    ::std::string::String,
                    ::runbox_sdk::bindings::RunError,
                > {
                    ::runbox_sdk::__private::run::<#params, _>(
                        invocation,
                        |ctx, #params_pattern| #call,
                    )
                }
            }

            ::runbox_sdk::bindings::export!(__RunboxRunbook with_types_in ::runbox_sdk::bindings);
        };
    })
}

fn check_signature(function: &ItemFn) -> syn::Result<()> {
    let sig = &function.sig;
    let shape = "expected fn(ctx: &Context, params: P) -> Result<O, E> (params optional)";
    if let Some(token) = &sig.asyncness {
        return Err(syn::Error::new(
            token.span(),
            "a runbook function cannot be async: host calls block, write it synchronously",
        ));
    }
    if let Some(token) = &sig.constness {
        return Err(syn::Error::new(
            token.span(),
            "a runbook function cannot be const",
        ));
    }
    if let Some(token) = &sig.unsafety {
        return Err(syn::Error::new(
            token.span(),
            "a runbook function cannot be unsafe",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new(
            abi.span(),
            "a runbook function cannot declare an ABI",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a runbook function cannot be generic",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new(variadic.span(), shape));
    }
    for input in &sig.inputs {
        if let FnArg::Receiver(receiver) = input {
            return Err(syn::Error::new(
                receiver.span(),
                "#[runbook] goes on a free function, not a method",
            ));
        }
    }
    match sig.inputs.first() {
        None => {
            return Err(syn::Error::new(
                sig.paren_token.span.join(),
                format!("a runbook function takes the context first; {shape}"),
            ));
        }
        Some(FnArg::Typed(arg)) => match &*arg.ty {
            Type::Reference(reference) if reference.mutability.is_none() => {}
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "the first argument must be the context by shared reference: `ctx: &Context`",
                ));
            }
        },
        Some(FnArg::Receiver(_)) => unreachable!("receivers rejected above"),
    }
    if sig.inputs.len() > 2 {
        let extra = sig
            .inputs
            .iter()
            .nth(2)
            .map_or_else(|| sig.inputs.span(), Spanned::span);
        return Err(syn::Error::new(
            extra,
            format!("too many arguments; {shape}"),
        ));
    }
    if let ReturnType::Default = sig.output {
        return Err(syn::Error::new(
            sig.paren_token.span.join(),
            "a runbook function returns Result<O, E> (O: String, &str, serde_json::Value or (); \
             E: Into<RunbookError>)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn error(args: TokenStream, item: TokenStream) -> String {
        match expand(args, item) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(
            error(
                quote!(title = "x"),
                quote!(
                    fn run(ctx: &Context) -> R {}
                )
            )
            .starts_with("unknown runbook attribute")
        );
        assert_eq!(
            error(
                quote!(name = "a", name = "b"),
                quote!(
                    fn run(ctx: &Context) -> R {}
                )
            ),
            "duplicate runbook attribute"
        );
        assert_eq!(
            error(
                quote!(name = ""),
                quote!(
                    fn run(ctx: &Context) -> R {}
                )
            ),
            "the runbook name must not be empty"
        );
    }

    #[test]
    fn rejects_bad_signatures() {
        assert!(
            error(
                quote!(),
                quote!(
                    struct S;
                )
            )
            .starts_with("#[runbook] goes on a free function")
        );
        assert!(
            error(
                quote!(),
                quote!(
                    async fn run(ctx: &Context) -> R {}
                )
            )
            .starts_with("a runbook function cannot be async")
        );
        assert_eq!(
            error(
                quote!(),
                quote!(
                    fn run<T>(ctx: &Context) -> R {}
                )
            ),
            "a runbook function cannot be generic"
        );
        assert!(
            error(
                quote!(),
                quote!(
                    fn run() -> R {}
                )
            )
            .starts_with("a runbook function takes the context first")
        );
        assert_eq!(
            error(
                quote!(),
                quote!(
                    fn run(ctx: Context) -> R {}
                )
            ),
            "the first argument must be the context by shared reference: `ctx: &Context`"
        );
        assert_eq!(
            error(
                quote!(),
                quote!(
                    fn run(ctx: &mut Context) -> R {}
                )
            ),
            "the first argument must be the context by shared reference: `ctx: &Context`"
        );
        assert!(
            error(
                quote!(),
                quote!(
                    fn run(ctx: &Context, a: A, b: B) -> R {}
                )
            )
            .starts_with("too many arguments")
        );
        assert!(
            error(
                quote!(),
                quote!(
                    fn run(ctx: &Context) {}
                )
            )
            .starts_with("a runbook function returns Result<O, E>")
        );
        assert_eq!(
            error(
                quote!(),
                quote!(
                    fn run(&self, ctx: &Context) -> R {}
                )
            ),
            "#[runbook] goes on a free function, not a method"
        );
    }

    #[test]
    fn expands_with_defaults_and_doc() {
        let tokens = expand(
            quote!(),
            quote!(
                /// Revokes access.
                fn go(ctx: &Context, p: P) -> Result<String, RunbookError> {
                    todo!()
                }
            ),
        )
        .unwrap()
        .to_string();
        assert!(tokens.contains("CARGO_PKG_NAME"), "{tokens}");
        assert!(tokens.contains("\"Revokes access.\""), "{tokens}");
        assert!(tokens.contains("go (ctx , params)"), "{tokens}");
        assert!(tokens.contains("export !"), "{tokens}");
    }
}
