//! A calendar month in UTC (`2026-11`): the period LLM token budgets and usage reports cover.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::ParseError;

/// A month of a year from 2000 to 9999. It starts at midnight UTC on its first day and ends
/// where the next one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// Always the first day of the month.
    first: NaiveDate,
}

impl Month {
    /// `YYYY-MM`, exactly: `^[2-9][0-9]{3}-(0[1-9]|1[0-2])$`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let refuse = || ParseError::new("month", "use YYYY-MM, a month from 2000-01 to 9999-12");
        let (year, month) = s.split_once('-').ok_or_else(refuse)?;
        let digits =
            |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return Err(refuse());
        }
        let year: i32 = year.parse().map_err(|_| refuse())?;
        let month: u32 = month.parse().map_err(|_| refuse())?;
        if !(2000..=9999).contains(&year) {
            return Err(refuse());
        }
        NaiveDate::from_ymd_opt(year, month, 1)
            .map(|first| Self { first })
            .ok_or_else(refuse)
    }

    /// The month `at` falls in.
    pub fn of(at: DateTime<Utc>) -> Self {
        let day = at.date_naive();
        Self {
            first: day.with_day(1).unwrap_or(day),
        }
    }

    /// The month now, in UTC.
    pub fn current() -> Self {
        Self::of(Utc::now())
    }

    /// Midnight UTC on the first day.
    pub fn start(&self) -> DateTime<Utc> {
        self.first.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// Where the month ends (exclusive): the start of the next month.
    pub fn end(&self) -> DateTime<Utc> {
        self.first
            .checked_add_months(chrono::Months::new(1))
            .map(|next| next.and_time(chrono::NaiveTime::MIN).and_utc())
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_bounds_months() {
        let nov = Month::parse("2026-11").unwrap();
        assert_eq!(nov.to_string(), "2026-11");
        assert_eq!(nov.start().to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(nov.end().to_rfc3339(), "2026-12-01T00:00:00+00:00");
        let dec = Month::parse("2026-12").unwrap();
        assert_eq!(dec.end().to_rfc3339(), "2027-01-01T00:00:00+00:00");
        assert_eq!(
            Month::parse("9999-12").unwrap().end().to_rfc3339(),
            "+10000-01-01T00:00:00+00:00"
        );
        for bad in [
            "",
            "2026",
            "2026-1",
            "2026-13",
            "2026-00",
            "26-11",
            "2026-11-01",
            "1999-12",
            "+2026-11",
            "2026-+1",
            "２０２６-11",
            "2026_11",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_month_of_an_instant_is_taken_in_utc() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T23:30:00-02:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(Month::of(at).to_string(), "2026-12");
    }
}
