//! How a tenant's bundle and the global bundle become the one prompt the LLM gets.
//!
//! The rule, in full:
//!
//! 1. The global sections come first, **in the global order**.
//! 2. A global section whose key the tenant also has is replaced by the tenant's section, in
//!    the global section's position (the tenant's position of that section does not matter).
//! 3. The tenant's sections with keys the global bundle lacks follow, in the tenant's order.
//! 4. Sections whose content is empty or only whitespace are left out, so a tenant hides a
//!    global section by overriding it with an empty one.
//!
//! Keys are unique in the result. A parsed [`Bundle`](super::Bundle) never repeats a key; if
//! a slice given here does, the first section with that key counts and the later ones are
//! ignored.
//!
//! The function is pure: the engine calls it with the rows it read, the admin API calls it to
//! show the effective prompt, and both get the same answer.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::{Section, SectionKey};

/// Which bundle a section of the merged prompt came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Global,
    Tenant,
}

/// A section of the merged prompt, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EffectiveSection {
    #[serde(rename = "section_key")]
    pub key: SectionKey,
    pub content: String,
    pub source: Source,
}

/// The sections the LLM gets, in order: see the [module documentation](self) for the rule.
pub fn merge(global: &[Section], tenant: &[Section]) -> Vec<EffectiveSection> {
    let mut overrides: HashMap<&SectionKey, &Section> = HashMap::with_capacity(tenant.len());
    for section in tenant {
        overrides.entry(&section.key).or_insert(section);
    }
    let mut seen: HashSet<&SectionKey> = HashSet::with_capacity(global.len() + tenant.len());
    let mut merged = Vec::with_capacity(global.len() + tenant.len());
    for section in global {
        if !seen.insert(&section.key) {
            continue;
        }
        merged.push(match overrides.get(&section.key) {
            Some(own) => (*own, Source::Tenant),
            None => (section, Source::Global),
        });
    }
    for section in tenant {
        if seen.insert(&section.key) {
            merged.push((section, Source::Tenant));
        }
    }
    merged
        .into_iter()
        .filter(|(section, _)| !section.content.trim().is_empty())
        .map(|(section, source)| EffectiveSection {
            key: section.key.clone(),
            content: section.content.clone(),
            source,
        })
        .collect()
}

/// The merged sections as one text, each trimmed, separated by a blank line: a plain
/// system instruction for a model that takes one.
pub fn render(sections: &[EffectiveSection]) -> String {
    sections
        .iter()
        .map(|s| s.content.trim())
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(pairs: &[(&str, &str)]) -> Vec<Section> {
        pairs
            .iter()
            .map(|(k, c)| Section {
                key: SectionKey::parse(k).unwrap(),
                content: (*c).to_owned(),
            })
            .collect()
    }

    fn shape(merged: &[EffectiveSection]) -> Vec<(&str, &str, Source)> {
        merged
            .iter()
            .map(|s| (s.key.as_str(), s.content.as_str(), s.source))
            .collect()
    }

    use Source::{Global as G, Tenant as T};

    #[test]
    fn nothing_merges_to_nothing() {
        assert!(merge(&[], &[]).is_empty());
    }

    #[test]
    fn either_bundle_alone_is_kept_in_its_order() {
        let global = bundle(&[("c", "3"), ("a", "1"), ("b", "2")]);
        assert_eq!(
            shape(&merge(&global, &[])),
            [("c", "3", G), ("a", "1", G), ("b", "2", G)]
        );
        assert_eq!(
            shape(&merge(&[], &global)),
            [("c", "3", T), ("a", "1", T), ("b", "2", T)]
        );
    }

    #[test]
    fn a_tenant_section_replaces_the_global_one_in_the_global_position() {
        let global = bundle(&[
            ("role", "You help."),
            ("tone", "Be formal."),
            ("safety", "No advice."),
        ]);
        // The override is last in the tenant's order, yet lands in the global's position.
        let tenant = bundle(&[
            ("hours", "9-5"),
            ("tone", "Be warm."),
            ("faq", "Parking: yes"),
        ]);
        assert_eq!(
            shape(&merge(&global, &tenant)),
            [
                ("role", "You help.", G),
                ("tone", "Be warm.", T),
                ("safety", "No advice.", G),
                ("hours", "9-5", T),
                ("faq", "Parking: yes", T),
            ]
        );
    }

    #[test]
    fn an_empty_override_hides_the_global_section() {
        let global = bundle(&[("role", "You help."), ("tone", "Be formal.")]);
        let tenant = bundle(&[("tone", "  \n"), ("extra", "")]);
        assert_eq!(shape(&merge(&global, &tenant)), [("role", "You help.", G)]);
    }

    #[test]
    fn a_repeated_key_counts_once_at_its_first_occurrence() {
        let global = bundle(&[("a", "g1"), ("b", "g2"), ("a", "g3")]);
        let tenant = bundle(&[("x", "t1"), ("b", "t2"), ("x", "t3"), ("b", "t4")]);
        assert_eq!(
            shape(&merge(&global, &tenant)),
            [("a", "g1", G), ("b", "t2", T), ("x", "t1", T)]
        );
    }

    #[test]
    fn rendering_joins_trimmed_sections_with_blank_lines() {
        let merged = merge(&bundle(&[("a", "One.\n"), ("b", "  Two.")]), &[]);
        assert_eq!(render(&merged), "One.\n\nTwo.");
        assert_eq!(render(&[]), "");
    }
}
