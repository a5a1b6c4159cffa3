//! The repositories' error type: constraint conflicts are told apart from everything else so
//! that callers can answer 409 (API) or skip (worker) without parsing messages.

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A unique constraint refused the write; the field names the constraint.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// A foreign key refused the write: the row it points at does not exist (any more), e.g.
    /// the tenant was deleted while the request was in flight.
    #[error("missing reference ({constraint})")]
    MissingReference { constraint: String },
    #[error("migration failed: {0}")]
    Migrate(String),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Sqlx(sqlx::Error),
}

impl DbError {
    /// Whether retrying later may succeed (connection trouble, serialization failure,
    /// deadlock), as opposed to a fault in the data.
    pub fn is_transient(&self) -> bool {
        if self.is_unavailable() {
            return true;
        }
        match self {
            DbError::Sqlx(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
                // 40001 serialization_failure, 40P01 deadlock_detected.
                code == "40001" || code == "40P01"
            }),
            // A concurrent insert of the same row: retrying sees the winner's row.
            DbError::Conflict { .. } => true,
            _ => false,
        }
    }

    /// Whether the database itself is out of reach (connection refused or lost, pool
    /// exhausted, server shutting down or out of resources) — every query would fail now, as
    /// opposed to this one query losing a race.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Sqlx(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Protocol(_)
                | sqlx::Error::Tls(_) => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    // 57P01 admin_shutdown, 57P03 cannot_connect_now, 08xxx connection
                    // exceptions, 53xxx insufficient resources.
                    code == "57P01"
                        || code == "57P03"
                        || code.starts_with("08")
                        || code.starts_with("53")
                }),
                _ => false,
            },
            _ => false,
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let constraint = || db.constraint().unwrap_or("unnamed").to_owned();
            match db.code().as_deref() {
                Some("23505") => {
                    return DbError::Conflict {
                        constraint: constraint(),
                    };
                }
                Some("23503") => {
                    return DbError::MissingReference {
                        constraint: constraint(),
                    };
                }
                _ => {}
            }
        }
        DbError::Sqlx(e)
    }
}
