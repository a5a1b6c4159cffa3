//! A tenant's new order of its modules: every one of its modules exactly once, and nothing
//! else. Another tenant's module, or an id that names nothing, is refused like a duplicate or a
//! missing one, so a reorder can never touch or reveal a module that is not the tenant's.

use std::collections::HashSet;

use uuid::Uuid;

/// The tenant's module ids, in the order the tenant wants them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleOrder(Vec<Uuid>);

/// Why an order was refused; `index` is the offending entry's place in the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("{id} is not one of this tenant's modules")]
    NotOwned { index: usize, id: Uuid },
    #[error("{id} appears more than once")]
    Duplicate { index: usize, id: Uuid },
    #[error("the order must list every module of the tenant; missing: {}", join(.missing))]
    Missing { missing: Vec<Uuid> },
}

fn join(ids: &[Uuid]) -> String {
    ids.iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl ModuleOrder {
    /// `requested` checked against `owned`, the ids of all the tenant's modules.
    pub fn parse(requested: &[Uuid], owned: &[Uuid]) -> Result<Self, OrderError> {
        let owned_set: HashSet<Uuid> = owned.iter().copied().collect();
        let mut seen = HashSet::with_capacity(requested.len());
        for (index, &id) in requested.iter().enumerate() {
            if !owned_set.contains(&id) {
                return Err(OrderError::NotOwned { index, id });
            }
            if !seen.insert(id) {
                return Err(OrderError::Duplicate { index, id });
            }
        }
        let missing: Vec<Uuid> = owned
            .iter()
            .filter(|id| !seen.contains(*id))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(OrderError::Missing { missing });
        }
        Ok(Self(requested.to_vec()))
    }

    pub fn ids(&self) -> &[Uuid] {
        &self.0
    }
}

impl OrderError {
    /// The offending entry's place in the request, when there is one.
    pub fn index(&self) -> Option<usize> {
        match self {
            Self::NotOwned { index, .. } | Self::Duplicate { index, .. } => Some(*index),
            Self::Missing { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u128) -> Vec<Uuid> {
        (1..=n).map(Uuid::from_u128).collect()
    }

    #[test]
    fn a_permutation_of_the_tenants_modules() {
        let owned = ids(3);
        let wanted = vec![owned[2], owned[0], owned[1]];
        assert_eq!(ModuleOrder::parse(&wanted, &owned).unwrap().ids(), wanted);
        assert!(ModuleOrder::parse(&[], &[]).is_ok());
    }

    #[test]
    fn foreign_duplicate_and_missing_ids_are_refused() {
        let owned = ids(3);
        let stranger = Uuid::from_u128(99);
        assert_eq!(
            ModuleOrder::parse(&[owned[0], stranger, owned[1], owned[2]], &owned),
            Err(OrderError::NotOwned {
                index: 1,
                id: stranger
            })
        );
        assert_eq!(
            ModuleOrder::parse(&[owned[0], owned[1], owned[1], owned[2]], &owned),
            Err(OrderError::Duplicate {
                index: 2,
                id: owned[1]
            })
        );
        assert_eq!(
            ModuleOrder::parse(&[owned[2], owned[0]], &owned),
            Err(OrderError::Missing {
                missing: vec![owned[1]]
            })
        );
    }
}
