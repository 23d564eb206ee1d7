//! `#[derive(Params)]`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{
    Data, DeriveInput, Expr, ExprArray, ExprLit, Fields, GenericArgument, Lit, LitInt, LitStr,
    PathArguments, Type, UnOp,
};

use crate::util::doc_text;

/// The WIT `param-kind` names, in WIT order, with their `ParamKind` variants.
const KINDS: [(&str, &str); 13] = [
    ("text", "Text"),
    ("number", "Number"),
    ("boolean", "Boolean"),
    ("json", "Json"),
    ("tel", "Tel"),
    ("time", "Time"),
    ("date", "Date"),
    ("url", "Url"),
    ("email", "Email"),
    ("select", "Select"),
    ("textarea", "Textarea"),
    ("password", "Password"),
    ("file", "File"),
];

const KEYS: &str =
    "kind, default, default_json, description, placeholder, options, order, rename, json";

/// What `#[param(...)]` says about one field.
#[derive(Default)]
struct FieldAttrs {
    kind: Option<(String, Span)>,
    default: Option<String>,
    description: Option<String>,
    placeholder: Option<String>,
    options: Option<Vec<String>>,
    order: Option<u32>,
    rename: Option<String>,
    json: bool,
}

pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let ident = &input.ident;
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Params)] does not support generic structs",
        ));
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named.named.iter().collect::<Vec<_>>(),
            Fields::Unit => Vec::new(),
            Fields::Unnamed(unnamed) => {
                return Err(syn::Error::new(
                    unnamed.span(),
                    "#[derive(Params)] needs named fields: each field is one param",
                ));
            }
        },
        Data::Enum(data) => {
            return Err(syn::Error::new(
                data.enum_token.span,
                "#[derive(Params)] only works on structs with named fields, not enums",
            ));
        }
        Data::Union(data) => {
            return Err(syn::Error::new(
                data.union_token.span,
                "#[derive(Params)] only works on structs with named fields, not unions",
            ));
        }
    };

    let mut specs = Vec::new();
    let mut reads = Vec::new();
    let mut bindings = Vec::new();
    let mut inits = Vec::new();
    let mut seen_names: Vec<String> = Vec::new();

    for (position, field) in fields.iter().enumerate() {
        let field_ident = field
            .ident
            .as_ref()
            .ok_or_else(|| syn::Error::new(field.span(), "expected a named field"))?;
        let attrs = parse_field_attrs(field)?;
        let name = attrs
            .rename
            .clone()
            .unwrap_or_else(|| field_ident.unraw().to_string());
        if seen_names.contains(&name) {
            return Err(syn::Error::new(
                field.span(),
                format!("two fields declare the param name {name:?}"),
            ));
        }
        seen_names.push(name.clone());

        let ty = &field.ty;
        // The type `read_field` parses: the field type, or its `Json` wrapper.
        let (read_ty, unwrap) = if attrs.json {
            match option_inner(ty) {
                Some(inner) => (
                    quote_spanned!(ty.span()=> ::core::option::Option<::runbox_sdk::Json<#inner>>),
                    quote!(.map(|value| value.map(|json| json.0))),
                ),
                None => (
                    quote_spanned!(ty.span()=> ::runbox_sdk::Json<#ty>),
                    quote!(.map(|json| json.0)),
                ),
            }
        } else {
            (quote_spanned!(ty.span()=> #ty), quote!())
        };

        let options = attrs.options.clone().unwrap_or_default();
        let kind = match (&attrs.kind, attrs.options.is_some()) {
            (Some((kind, span)), _) => {
                let variant = KINDS
                    .iter()
                    .find(|(wit, _)| wit == kind)
                    .map(|(_, variant)| syn::Ident::new(variant, *span))
                    .ok_or_else(|| {
                        syn::Error::new(
                            *span,
                            format!(
                                "unknown param kind {kind:?}; expected one of: {}",
                                KINDS.map(|(wit, _)| wit).join(", ")
                            ),
                        )
                    })?;
                quote!(::runbox_sdk::ParamKind::#variant)
            }
            (None, true) => quote!(::runbox_sdk::ParamKind::Select),
            (None, false) => quote!(<#read_ty as ::runbox_sdk::ParamValue>::KIND),
        };
        let has_default = attrs.default.is_some();
        let order = attrs.order.unwrap_or(position as u32);
        let description = opt_string(attrs.description.clone().or_else(|| doc_text(&field.attrs)));
        let default = opt_string(attrs.default.clone());
        let placeholder = opt_string(attrs.placeholder.clone());
        specs.push(quote! {
            ::runbox_sdk::ParamSpec {
                name: ::std::string::String::from(#name),
                kind: #kind,
                required: !<#read_ty as ::runbox_sdk::ParamValue>::OPTIONAL && !#has_default,
                description: #description,
                default: #default,
                placeholder: #placeholder,
                options: ::std::vec![#(::std::string::String::from(#options)),*],
                order: #order,
            }
        });

        let binding = syn::Ident::new(&format!("__field_{position}"), Span::call_site());
        let default_arg = match &attrs.default {
            Some(text) => quote!(::core::option::Option::Some(#text)),
            None => quote!(::core::option::Option::None),
        };
        reads.push(quote! {
            let #binding = ::runbox_sdk::__private::read_field::<#read_ty>(
                __params, #name, #default_arg, &[#(#options),*], &mut __errors,
            ) #unwrap;
        });
        bindings.push(binding.clone());
        inits.push(quote!(#field_ident: #binding));
    }

    let construct = match &input.data {
        Data::Struct(data) if matches!(data.fields, Fields::Unit) => quote!(Self),
        _ => quote!(Self { #(#inits),* }),
    };
    let body = if bindings.is_empty() {
        quote! {
            let _ = __params;
            ::core::result::Result::Ok(#construct)
        }
    } else {
        quote! {
            let mut __errors = ::runbox_sdk::ParamsError::new();
            #(#reads)*
            match (#(#bindings,)*) {
                (#(::core::option::Option::Some(#bindings),)*) => ::core::result::Result::Ok(#construct),
                _ => ::core::result::Result::Err(__errors),
            }
        }
    };

    Ok(quote! {
        #[automatically_derived]
        impl ::runbox_sdk::Params for #ident {
            fn specs() -> ::std::vec::Vec<::runbox_sdk::ParamSpec> {
                ::std::vec![#(#specs),*]
            }

            fn from_params(
                __params: &::runbox_sdk::__private::Map<
                    ::std::string::String,
                    ::runbox_sdk::__private::Value,
                >,
            ) -> ::core::result::Result<Self, ::runbox_sdk::ParamsError> {
                #body
            }
        }
    })
}

fn opt_string(value: Option<String>) -> TokenStream {
    match value {
        Some(text) => quote!(::core::option::Option::Some(::std::string::String::from(#text))),
        None => quote!(::core::option::Option::None),
    }
}

/// `T` for a type written `Option<T>` (also `std::option::Option<T>`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

fn parse_field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut attrs = FieldAttrs::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("param")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match key.as_str() {
                "kind" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    set(&meta, &mut attrs.kind, (lit.value(), lit.span()))
                }
                "default" => {
                    let expr: Expr = meta.value()?.parse()?;
                    let json = literal_json(&expr)?;
                    set(&meta, &mut attrs.default, json)
                }
                "default_json" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let text = lit.value();
                    if let Err(error) = serde_json::from_str::<serde_json::Value>(&text) {
                        return Err(syn::Error::new(
                            lit.span(),
                            format!("default_json is not valid JSON: {error}"),
                        ));
                    }
                    set(&meta, &mut attrs.default, text)
                }
                "description" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    set(&meta, &mut attrs.description, lit.value())
                }
                "placeholder" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    set(&meta, &mut attrs.placeholder, lit.value())
                }
                "rename" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    if lit.value().is_empty() {
                        return Err(syn::Error::new(lit.span(), "rename must not be empty"));
                    }
                    set(&meta, &mut attrs.rename, lit.value())
                }
                "order" => {
                    let lit: LitInt = meta.value()?.parse()?;
                    let order = lit.base10_parse::<u32>()?;
                    set(&meta, &mut attrs.order, order)
                }
                "options" => {
                    let array: ExprArray = meta.value()?.parse()?;
                    let mut options = Vec::new();
                    for element in &array.elems {
                        match element {
                            Expr::Lit(ExprLit {
                                lit: Lit::Str(s), ..
                            }) => options.push(s.value()),
                            other => {
                                return Err(syn::Error::new(
                                    other.span(),
                                    "options must be string literals: options = [\"a\", \"b\"]",
                                ));
                            }
                        }
                    }
                    if options.is_empty() {
                        return Err(syn::Error::new(
                            array.span(),
                            "options must list at least one value",
                        ));
                    }
                    set(&meta, &mut attrs.options, options)
                }
                "json" => {
                    if meta.input.peek(syn::Token![=]) {
                        return Err(meta.error("`json` takes no value: #[param(json)]"));
                    }
                    if attrs.json {
                        return Err(meta.error("duplicate param attribute `json`"));
                    }
                    attrs.json = true;
                    Ok(())
                }
                _ => Err(meta.error(format!(
                    "unknown param attribute `{}`; expected one of: {KEYS}",
                    path_text(&meta.path)
                ))),
            }
        })?;
    }
    Ok(attrs)
}

fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

fn set<T>(meta: &ParseNestedMeta<'_>, slot: &mut Option<T>, value: T) -> syn::Result<()> {
    if slot.is_some() {
        let key = path_text(&meta.path);
        let hint = if key == "default" || key == "default_json" {
            " (default and default_json are exclusive)"
        } else {
            ""
        };
        return Err(meta.error(format!("duplicate param attribute `{key}`{hint}")));
    }
    *slot = Some(value);
    Ok(())
}

/// The JSON text of a `default = <literal>`: strings, integers, floats, booleans, and
/// negated numbers.
fn literal_json(expr: &Expr) -> syn::Result<String> {
    let unsupported = || {
        syn::Error::new(
            expr.span(),
            "default must be a literal (string, integer, float or bool); \
             use default_json = \"...\" for arrays and objects",
        )
    };
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Str(s) => Ok(serde_json::Value::String(s.value()).to_string()),
            Lit::Int(i) => Ok(i.base10_digits().to_owned()),
            Lit::Float(f) => float_json(f.base10_digits(), f.span()),
            Lit::Bool(b) => Ok(b.value.to_string()),
            _ => Err(unsupported()),
        },
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => match &*unary.expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => Ok(format!("-{}", i.base10_digits())),
            Expr::Lit(ExprLit {
                lit: Lit::Float(f), ..
            }) => Ok(format!("-{}", float_json(f.base10_digits(), f.span())?)),
            _ => Err(unsupported()),
        },
        Expr::Group(group) => literal_json(&group.expr),
        _ => Err(unsupported()),
    }
}

/// Rust float digits as JSON: `1.` → `1.0`; checked with serde_json.
fn float_json(digits: &str, span: Span) -> syn::Result<String> {
    let text = if digits.ends_with('.') {
        format!("{digits}0")
    } else {
        digits.to_owned()
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Number(_)) => Ok(text),
        _ => Err(syn::Error::new(
            span,
            format!("default {digits} is not a finite JSON number"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn error(input: TokenStream) -> String {
        match expand(input) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn rejects_non_structs_and_bad_shapes() {
        assert_eq!(
            error(quote!(
                enum E {
                    A,
                }
            )),
            "#[derive(Params)] only works on structs with named fields, not enums"
        );
        assert_eq!(
            error(quote!(
                struct T(String);
            )),
            "#[derive(Params)] needs named fields: each field is one param"
        );
        assert_eq!(
            error(quote!(
                struct G<T> {
                    t: T,
                }
            )),
            "#[derive(Params)] does not support generic structs"
        );
    }

    #[test]
    fn rejects_bad_attributes() {
        let message = error(quote!(
            struct P {
                #[param(colour = "red")]
                a: String,
            }
        ));
        assert!(
            message.starts_with("unknown param attribute `colour`; expected one of: kind,"),
            "{message}"
        );
        let message = error(quote!(
            struct P {
                #[param(kind = "mail")]
                a: String,
            }
        ));
        assert!(
            message.starts_with(r#"unknown param kind "mail"; expected one of: text, number"#),
            "{message}"
        );
        assert_eq!(
            error(quote!(
                struct P {
                    #[param(default = 1, default = 2)]
                    a: u32,
                }
            )),
            "duplicate param attribute `default` (default and default_json are exclusive)"
        );
        assert!(
            error(quote!(
                struct P {
                    #[param(default = [1])]
                    a: Vec<u32>,
                }
            ))
            .starts_with("default must be a literal")
        );
        assert!(
            error(quote!(
                struct P {
                    #[param(default_json = "[1,")]
                    a: Vec<u32>,
                }
            ))
            .starts_with("default_json is not valid JSON")
        );
        assert_eq!(
            error(quote!(
                struct P {
                    #[param(options = [1, 2])]
                    a: u32,
                }
            )),
            "options must be string literals: options = [\"a\", \"b\"]"
        );
        assert_eq!(
            error(quote!(
                struct P {
                    a: String,
                    #[param(rename = "a")]
                    b: String,
                }
            )),
            "two fields declare the param name \"a\""
        );
    }

    #[test]
    fn literal_defaults_become_json_text() {
        let json = |expr: Expr| literal_json(&expr).unwrap();
        assert_eq!(json(syn::parse_quote!(15)), "15");
        assert_eq!(json(syn::parse_quote!(15u32)), "15");
        assert_eq!(json(syn::parse_quote!(0x10)), "16");
        assert_eq!(json(syn::parse_quote!(-3)), "-3");
        assert_eq!(json(syn::parse_quote!(1.5)), "1.5");
        assert_eq!(json(syn::parse_quote!(2.)), "2.0");
        assert_eq!(json(syn::parse_quote!(-0.25)), "-0.25");
        assert_eq!(json(syn::parse_quote!(true)), "true");
        assert_eq!(
            json(syn::parse_quote!("eu \"west\"\n")),
            r#""eu \"west\"\n""#
        );
    }

    #[test]
    fn expands_valid_input() {
        let tokens = expand(quote!(
            struct P {
                /// Who.
                #[param(kind = "email", placeholder = "a@b", order = 9)]
                r#user: String,
                #[param(json)]
                filter: Option<Filter>,
            }
        ))
        .unwrap()
        .to_string();
        assert!(tokens.contains("ParamKind :: Email"), "{tokens}");
        assert!(tokens.contains("\"user\""), "{tokens}");
        assert!(tokens.contains("\"Who.\""), "{tokens}");
        assert!(tokens.contains("9u32"), "{tokens}");
        assert!(
            tokens.contains(":: runbox_sdk :: Json < Filter >"),
            "{tokens}"
        );
        assert!(
            expand(quote!(
                struct Empty;
            ))
            .is_ok()
        );
    }

    #[test]
    fn option_detection() {
        let ty: Type = syn::parse_quote!(std::option::Option<Vec<u8>>);
        assert!(option_inner(&ty).is_some());
        let ty: Type = syn::parse_quote!(Vec<Option<u8>>);
        assert!(option_inner(&ty).is_none());
    }
}
