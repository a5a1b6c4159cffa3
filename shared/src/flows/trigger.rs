//! What starts a flow: a customer's first contact, or a message with one of its keywords.

use super::definition::{TriggerDefinition, TriggerKind};
use super::error::FlowError;
use super::keyword::Keyword;
use super::step::MAX_KEYWORDS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    FirstContact,
    /// 1-20 keywords, none repeated (compared case-insensitively).
    Keywords(Vec<Keyword>),
}

impl Trigger {
    pub fn parse(definition: &TriggerDefinition) -> Result<Self, FlowError> {
        let error = |field: &str, reason: &str| FlowError::InvalidTrigger {
            field: field.to_owned(),
            reason: reason.to_owned(),
        };
        match (definition.kind.as_str(), &definition.keywords) {
            ("first_contact", None) => Ok(Self::FirstContact),
            ("first_contact", Some(_)) => Err(error(
                "keywords",
                "is only for keywords triggers; leave it out",
            )),
            ("keywords", None) => Err(error("keywords", "is required for a keywords trigger")),
            ("keywords", Some(raw)) => {
                if raw.is_empty() || raw.len() > MAX_KEYWORDS {
                    return Err(error("keywords", "must hold 1-20 keywords"));
                }
                let mut keywords: Vec<Keyword> = Vec::with_capacity(raw.len());
                for (i, text) in raw.iter().enumerate() {
                    let keyword =
                        Keyword::parse(text).map_err(|reason| FlowError::InvalidTrigger {
                            field: format!("keywords[{i}]"),
                            reason,
                        })?;
                    if keywords
                        .iter()
                        .any(|k| k.as_str().to_lowercase() == keyword.as_str().to_lowercase())
                    {
                        return Err(FlowError::InvalidTrigger {
                            field: format!("keywords[{i}]"),
                            reason: format!("repeats '{keyword}'"),
                        });
                    }
                    keywords.push(keyword);
                }
                Ok(Self::Keywords(keywords))
            }
            _ => Err(error("kind", "must be first_contact or keywords")),
        }
    }

    pub fn kind(&self) -> TriggerKind {
        match self {
            Self::FirstContact => TriggerKind::FirstContact,
            Self::Keywords(_) => TriggerKind::Keywords,
        }
    }

    /// `first_contact` or `keywords`, as stored in `flows.trigger_kind`.
    pub fn kind_str(&self) -> &'static str {
        match self {
            Self::FirstContact => "first_contact",
            Self::Keywords(_) => "keywords",
        }
    }

    /// The keywords (none for a first-contact trigger).
    pub fn keywords(&self) -> &[Keyword] {
        match self {
            Self::FirstContact => &[],
            Self::Keywords(keywords) => keywords,
        }
    }

    /// Whether a customer's message starts the flow. `first_contact` says whether it is the
    /// customer's first message to the tenant on this channel.
    pub fn matches(&self, message: &str, first_contact: bool) -> bool {
        match self {
            Self::FirstContact => first_contact,
            Self::Keywords(keywords) => keywords.iter().any(|k| k.matches(message)),
        }
    }

    /// The trigger as the API shows it.
    pub fn definition(&self) -> TriggerDefinition {
        TriggerDefinition {
            kind: self.kind_str().to_owned(),
            keywords: match self {
                Self::FirstContact => None,
                Self::Keywords(keywords) => {
                    Some(keywords.iter().map(|k| k.as_str().to_owned()).collect())
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(kind: &str, keywords: Option<&[&str]>) -> Result<Trigger, FlowError> {
        Trigger::parse(&TriggerDefinition {
            kind: kind.into(),
            keywords: keywords.map(|k| k.iter().map(|s| s.to_string()).collect()),
        })
    }

    #[test]
    fn first_contact_and_keywords() {
        let first = trigger("first_contact", None).unwrap();
        assert!(first.matches("hello", true) && !first.matches("hello", false));
        let words = trigger("keywords", Some(&["Menu", " book "])).unwrap();
        assert!(words.matches("show me the MENU", false));
        assert!(words.matches("book", true));
        assert!(!words.matches("hello", true));
        assert_eq!(
            words.definition().keywords.unwrap(),
            vec!["Menu".to_owned(), "book".to_owned()]
        );
    }

    #[test]
    fn refusals_name_the_field() {
        let path = |r: Result<Trigger, FlowError>| r.unwrap_err().path();
        assert_eq!(path(trigger("sometimes", None)), "trigger.kind");
        assert_eq!(path(trigger("keywords", None)), "trigger.keywords");
        assert_eq!(path(trigger("keywords", Some(&[]))), "trigger.keywords");
        assert_eq!(
            path(trigger("keywords", Some(&["a", " "]))),
            "trigger.keywords[1]"
        );
        assert_eq!(
            path(trigger("keywords", Some(&["a", "A"]))),
            "trigger.keywords[1]"
        );
        assert_eq!(
            path(trigger("first_contact", Some(&["a"]))),
            "trigger.keywords"
        );
        let many: Vec<String> = (0..21).map(|i| format!("k{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(path(trigger("keywords", Some(&many))), "trigger.keywords");
    }
}
