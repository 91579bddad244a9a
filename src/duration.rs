//! Human durations in configuration and directives: `500ms`, `3s`, `15min`, `2h`, `1d`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written the way PostgreSQL settings and people write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub fn as_millis(self) -> u128 {
        self.0.as_millis()
    }

    /// The value for `SET lock_timeout = '...'`: whole milliseconds, which PostgreSQL accepts.
    pub fn to_postgres(self) -> String {
        format!("{}ms", self.0.as_millis())
    }
}

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let unit = unit.trim();
        let expected = "expected a number and a unit, e.g. 500ms, 3s, 15min, 2h";
        let value: f64 = number
            .parse()
            .map_err(|_| format!("invalid duration `{input}`: {expected}"))?;
        let millis_per_unit = match unit {
            "ms" => 1.0,
            "s" | "sec" | "secs" | "second" | "seconds" => 1_000.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
            "h" | "hour" | "hours" => 3_600_000.0,
            "d" | "day" | "days" => 86_400_000.0,
            "" => {
                return Err(format!(
                    "invalid duration `{input}`: missing unit; {expected}"
                ));
            }
            other => {
                return Err(format!(
                    "invalid duration `{input}`: unknown unit `{other}`; {expected}"
                ));
            }
        };
        let millis = value * millis_per_unit;
        if !millis.is_finite() || millis > u64::MAX as f64 / 2.0 {
            return Err(format!("invalid duration `{input}`: too large"));
        }
        Ok(HumanDuration(Duration::from_millis(millis.round() as u64)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("min", 60_000),
            ("s", 1_000),
        ] {
            if ms >= size && ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> u128 {
        text.parse::<HumanDuration>().unwrap().as_millis()
    }

    #[test]
    fn parses_the_usual_units() {
        assert_eq!(ms("500ms"), 500);
        assert_eq!(ms("3s"), 3_000);
        assert_eq!(ms("1.5s"), 1_500);
        assert_eq!(ms("15min"), 900_000);
        assert_eq!(ms("30m"), 1_800_000);
        assert_eq!(ms("2h"), 7_200_000);
        assert_eq!(ms(" 1 d "), 86_400_000);
    }

    #[test]
    fn rejects_missing_or_unknown_units() {
        assert!(
            "3".parse::<HumanDuration>()
                .unwrap_err()
                .contains("missing unit")
        );
        assert!(
            "3 weeks"
                .parse::<HumanDuration>()
                .unwrap_err()
                .contains("unknown unit `weeks`")
        );
        assert!("fast".parse::<HumanDuration>().is_err());
    }

    #[test]
    fn displays_in_the_largest_whole_unit() {
        assert_eq!(HumanDuration(Duration::from_secs(900)).to_string(), "15min");
        assert_eq!(
            HumanDuration(Duration::from_millis(1500)).to_string(),
            "1500ms"
        );
        assert_eq!(
            HumanDuration(Duration::from_secs(3)).to_postgres(),
            "3000ms"
        );
    }
}
