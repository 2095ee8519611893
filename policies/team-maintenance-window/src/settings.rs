//! Settings of `team-maintenance-window`.

use std::collections::BTreeMap;

use serde::Deserialize;
use tke_recycle_policy_sdk::{SeverityOverrides, parse_settings};

/// The codes this policy emits.
pub const CODES: &[&str] = &[
    "team-maintenance-window.outside-window",
    "team-maintenance-window.unknown-node",
];

/// ```json
/// {"match_labels": {"tier": "critical"}, "window_start": "01:00", "window_end": "05:00",
///  "time_zone": "+08:00"}
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Nodes carrying all of these labels are held to the window.
    #[serde(default = "default_match_labels")]
    pub match_labels: BTreeMap<String, String>,
    /// Start of the window, `HH:MM` local time, inclusive.
    #[serde(default = "default_start")]
    pub window_start: String,
    /// End of the window, `HH:MM` local time, exclusive. Earlier than the start means the window
    /// runs over midnight.
    #[serde(default = "default_end")]
    pub window_end: String,
    /// The cluster's time zone: a UTC offset (`+08:00`, `-05:30`, `UTC`) or a zone without
    /// daylight saving time (`Asia/Shanghai`). Required: a wrong default would open the window at
    /// the wrong hour.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Per-code severity overrides.
    #[serde(default)]
    pub severity_overrides: SeverityOverrides,
}

fn default_match_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("tier".to_owned(), "critical".to_owned())])
}

fn default_start() -> String {
    "01:00".to_owned()
}

fn default_end() -> String {
    "05:00".to_owned()
}

/// Zones whose offset never changes (no daylight saving time), so a fixed offset is exact.
const FIXED_ZONES: &[(&str, i32)] = &[
    ("Asia/Shanghai", 8 * 60),
    ("Asia/Hong_Kong", 8 * 60),
    ("Asia/Taipei", 8 * 60),
    ("Asia/Singapore", 8 * 60),
    ("Asia/Kuala_Lumpur", 8 * 60),
    ("Asia/Manila", 8 * 60),
    ("Asia/Tokyo", 9 * 60),
    ("Asia/Seoul", 9 * 60),
    ("Asia/Bangkok", 7 * 60),
    ("Asia/Jakarta", 7 * 60),
    ("Asia/Kolkata", 5 * 60 + 30),
    ("Asia/Dubai", 4 * 60),
    ("Asia/Riyadh", 3 * 60),
    ("Etc/UTC", 0),
];

/// The validated window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start, minutes after local midnight.
    pub start: u32,
    /// End, minutes after local midnight.
    pub end: u32,
    /// Local time minus UTC, minutes.
    pub offset_minutes: i32,
}

fn parse_hh_mm(field: &str, text: &str) -> Result<u32, String> {
    let parsed = text.split_once(':').and_then(|(h, m)| {
        let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
        (h < 24 && m < 60 && text.len() == 5).then_some(h * 60 + m)
    });
    parsed.ok_or_else(|| {
        format!(
            "{field}: {text:?} is not a time of day; write HH:MM in 24-hour time, e.g. \"01:00\""
        )
    })
}

/// `+08:00`, `-05:30`, `UTC`, `Z` or a zone of [`FIXED_ZONES`] -> minutes east of UTC.
pub fn parse_time_zone(text: &str) -> Result<i32, String> {
    if matches!(text, "UTC" | "Z") {
        return Ok(0);
    }
    if let Some((_, minutes)) = FIXED_ZONES.iter().find(|(name, _)| *name == text) {
        return Ok(*minutes);
    }
    let offset = text.strip_prefix(['+', '-']).and_then(|rest| {
        let (h, m) = rest.split_once(':')?;
        let (h, m) = (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?);
        (rest.len() == 5 && h <= 14 && m < 60).then_some(h * 60 + m)
    });
    match offset {
        Some(minutes) if text.starts_with('-') => Ok(-minutes),
        Some(minutes) => Ok(minutes),
        None => Err(format!(
            "time_zone: {text:?} is neither a UTC offset nor a zone without daylight saving time; write \"+08:00\" (or \"UTC\"), or one of {}",
            FIXED_ZONES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

impl Settings {
    /// Parse and validate.
    pub fn parse(json: &str) -> Result<Self, String> {
        let settings: Self = parse_settings(json)?;
        settings.window()?;
        if settings.match_labels.keys().any(|k| k.is_empty()) {
            return Err("match_labels: an empty key matches no node; use a label key, e.g. {\"tier\": \"critical\"}".to_owned());
        }
        settings.severity_overrides.validate(CODES)?;
        Ok(settings)
    }

    /// The window in minutes, checked.
    pub fn window(&self) -> Result<Window, String> {
        let start = parse_hh_mm("window_start", &self.window_start)?;
        let end = parse_hh_mm("window_end", &self.window_end)?;
        if start == end {
            return Err(format!(
                "window_end: {:?} equals window_start, an empty window; make the end later, e.g. \"05:00\"",
                self.window_end
            ));
        }
        let Some(zone) = &self.time_zone else {
            return Err("time_zone: missing; set the cluster's time zone, e.g. \"+08:00\" or \"Asia/Shanghai\"".to_owned());
        };
        Ok(Window {
            start,
            end,
            offset_minutes: parse_time_zone(zone)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::utc("UTC", 0)]
    #[case::east_offset("+08:00", 480)]
    #[case::half_hour_west_offset("-03:30", -210)]
    #[case::fixed_zone("Asia/Shanghai", 480)]
    #[case::fixed_half_hour_zone("Asia/Kolkata", 330)]
    fn time_zones(#[case] text: &str, #[case] minutes: i32) {
        assert_eq!(parse_time_zone(text), Ok(minutes));
    }

    #[rstest]
    #[case::reject_missing_time_zone(r#"{}"#, &["time_zone", "missing", "+08:00"])]
    #[case::reject_zone_with_daylight_saving(r#"{"time_zone": "Europe/Berlin"}"#, &["time_zone", "Europe/Berlin", "Asia/Shanghai"])]
    #[case::reject_offset_without_colon(r#"{"time_zone": "+0800"}"#, &["time_zone", "+0800", "\"+08:00\""])]
    #[case::reject_hour_25(r#"{"time_zone": "UTC", "window_start": "25:00"}"#, &["window_start", "25:00", "HH:MM"])]
    #[case::reject_single_digit_hour(r#"{"time_zone": "UTC", "window_end": "5:00"}"#, &["window_end", "\"5:00\""])]
    #[case::reject_empty_window(r#"{"time_zone": "UTC", "window_start": "05:00"}"#, &["window_end", "empty window"])]
    #[case::reject_empty_label_key(r#"{"time_zone": "UTC", "match_labels": {"": "x"}}"#, &["match_labels", "empty key"])]
    #[case::reject_typo(r#"{"time_zone": "UTC", "window_begin": "01:00"}"#, &["window_begin", "window_start"])]
    fn invalid_settings_name_field_value_and_fix(#[case] json: &str, #[case] needles: &[&str]) {
        let err = Settings::parse(json).expect_err("must be rejected");
        for needle in needles {
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }
}
