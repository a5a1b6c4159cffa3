//! Field readers for the Telnyx payload types.
//!
//! serde borrows a `Cow<str>` field from the input only when the field's type is exactly
//! `Cow<str>`; an `Option<Cow<str>>` always allocates. [`optional_str`] borrows optional text
//! too (it still allocates when the JSON string has escapes, which cannot be borrowed).
//! [`null_as_empty`] reads `null` like an absent list, as Telnyx sometimes sends.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

pub(super) fn optional_str<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    Ok(Option::<CowStr<'de>>::deserialize(d)?.map(|s| s.0))
}

pub(super) fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

struct CowStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CowVisitor;
        impl<'de> Visitor<'de> for CowVisitor {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(CowVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Probe<'a> {
        #[serde(borrow, default, deserialize_with = "optional_str")]
        text: Option<Cow<'a, str>>,
        #[serde(default, deserialize_with = "null_as_empty")]
        list: Vec<u8>,
    }

    fn probe(json: &str) -> Probe<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn optional_text_is_borrowed_unless_escaped() {
        assert!(matches!(
            probe(r#"{"text": "hi"}"#).text,
            Some(Cow::Borrowed("hi"))
        ));
        assert!(matches!(probe(r#"{"text": "h\u0069"}"#).text, Some(Cow::Owned(t)) if t == "hi"));
        assert_eq!(probe(r#"{"text": null}"#).text, None);
        assert_eq!(probe("{}").text, None);
        let err = serde_json::from_str::<Probe>(r#"{"text": 1}"#)
            .err()
            .unwrap();
        assert!(err.to_string().contains("expected a string"), "{err}");
    }

    #[test]
    fn null_lists_are_empty() {
        assert!(probe(r#"{"list": null}"#).list.is_empty());
        assert_eq!(probe(r#"{"list": [1, 2]}"#).list, [1, 2]);
    }
}
