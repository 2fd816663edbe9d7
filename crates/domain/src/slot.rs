//! Daily time slots (场次): local wall-clock spans such as `10:00–12:00`, repeated every day in
//! the shop's time zone.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::SlotId;
use crate::validation::{FieldErrors, text};

/// A wall-clock time of day at minute precision, `00:00 ..= 24:00` (`24:00` only ends a slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotTime(u16);

/// Not an `HH:MM` time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a time of day as HH:MM (00:00 to 24:00)")]
pub struct BadSlotTime;

impl SlotTime {
    /// Midnight at the start of the day.
    pub const MIDNIGHT: SlotTime = SlotTime(0);
    /// Midnight at the end of the day.
    pub const END_OF_DAY: SlotTime = SlotTime(24 * 60);

    /// From minutes after midnight, `0 ..= 1440`.
    pub fn from_minutes(minutes: u16) -> Result<Self, BadSlotTime> {
        if minutes <= 24 * 60 { Ok(SlotTime(minutes)) } else { Err(BadSlotTime) }
    }

    /// Minutes after midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// Hour and minute (`24:00` is `(24, 0)`).
    pub fn hour_minute(self) -> (i8, i8) {
        // Both fit: hours <= 24, minutes < 60.
        ((self.0 / 60) as i8, (self.0 % 60) as i8)
    }
}

impl FromStr for SlotTime {
    type Err = BadSlotTime;
    fn from_str(s: &str) -> Result<Self, BadSlotTime> {
        let (h, m) = s.split_once(':').ok_or(BadSlotTime)?;
        if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(BadSlotTime);
        }
        let h: u16 = h.parse().map_err(|_| BadSlotTime)?;
        let m: u16 = m.parse().map_err(|_| BadSlotTime)?;
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(BadSlotTime);
        }
        SlotTime::from_minutes(h * 60 + m)
    }
}

impl fmt::Display for SlotTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for SlotTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SlotTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A non-empty span of the day, `start < end`, half-open: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlotSpan {
    start: SlotTime,
    end: SlotTime,
}

/// `start` is not before `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("end must be after start")]
pub struct EmptySpan;

impl SlotSpan {
    /// A span, refusing `start >= end` (slots do not cross midnight; use `24:00` to end one at
    /// midnight).
    pub fn new(start: SlotTime, end: SlotTime) -> Result<Self, EmptySpan> {
        if start < end { Ok(SlotSpan { start, end }) } else { Err(EmptySpan) }
    }

    /// First minute inside.
    pub fn start(self) -> SlotTime {
        self.start
    }

    /// First minute after.
    pub fn end(self) -> SlotTime {
        self.end
    }

    /// Whether two spans share any minute (touching spans, `10:00–12:00` and `12:00–14:00`, do not).
    pub fn overlaps(self, other: SlotSpan) -> bool {
        self.start < other.end && other.start < self.end
    }
}

impl fmt::Display for SlotSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", self.start, self.end)
    }
}

/// A stored time slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSlot {
    pub id: SlotId,
    pub name: String,
    pub span: SlotSpan,
    /// A disabled slot opens no window for any activity.
    pub enabled: bool,
    pub sort: i32,
}

/// A valid slot definition, for create and update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTimeSlot {
    pub name: String,
    pub span: SlotSpan,
    pub enabled: bool,
    pub sort: i32,
}

impl NewTimeSlot {
    /// Parses the operator's input, collecting every problem.
    pub fn parse(name: &str, start: &str, end: &str, enabled: bool, sort: i32) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = text(&mut errors, "name", name, 64);
        let start = start.parse::<SlotTime>().map_err(|e| errors.add("start", e.to_string())).ok();
        let end = end.parse::<SlotTime>().map_err(|e| errors.add("end", e.to_string())).ok();
        if start == Some(SlotTime::END_OF_DAY) {
            errors.add("start", "must be before 24:00");
        }
        let span = match (start, end) {
            (Some(s), Some(e)) => SlotSpan::new(s, e).map_err(|e| errors.add("end", e.to_string())).ok(),
            _ => None,
        };
        match span {
            Some(span) if errors.is_empty() => Ok(NewTimeSlot { name, span, enabled, sort }),
            _ => Err(errors),
        }
    }

    /// The first enabled slot in `existing` (other than `except`) this one would overlap, if this
    /// one is enabled. Enabled slots never overlap: a shopper's "10:00 场" is one window.
    pub fn first_overlap<'a>(&self, existing: &'a [TimeSlot], except: Option<SlotId>) -> Option<&'a TimeSlot> {
        if !self.enabled {
            return None;
        }
        existing.iter().filter(|s| s.enabled && Some(s.id) != except).find(|s| s.span.overlaps(self.span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> SlotTime {
        s.parse().unwrap()
    }

    fn slot(id: i64, start: &str, end: &str, enabled: bool) -> TimeSlot {
        TimeSlot {
            id: SlotId::from_raw(id),
            name: format!("slot {id}"),
            span: SlotSpan::new(t(start), t(end)).unwrap(),
            enabled,
            sort: 0,
        }
    }

    #[test]
    fn times_parse_as_two_digit_hours_and_minutes() {
        assert_eq!(t("10:30").minutes(), 630);
        assert_eq!(t("00:00"), SlotTime::MIDNIGHT);
        assert_eq!(t("24:00"), SlotTime::END_OF_DAY);
        for bad in ["24:01", "25:00", "10:60", "1:00", "10:0", "10-00", "ab:cd", "", "+1:00", "10:00:00"] {
            assert_eq!(bad.parse::<SlotTime>(), Err(BadSlotTime), "{bad}");
        }
        assert_eq!(t("09:05").to_string(), "09:05");
    }

    #[test]
    fn a_slot_must_end_after_it_starts() {
        let e = NewTimeSlot::parse("noon", "12:00", "10:00", true, 0).unwrap_err();
        assert_eq!(e.get("end"), Some("end must be after start"));
        let e = NewTimeSlot::parse("noon", "12:00", "12:00", true, 0).unwrap_err();
        assert!(e.get("end").is_some());
        let e = NewTimeSlot::parse(" ", "24:00", "xx", true, 0).unwrap_err();
        assert!(e.get("name").is_some() && e.get("start").is_some() && e.get("end").is_some());
        let ok = NewTimeSlot::parse("late", "22:00", "24:00", true, 0).unwrap();
        assert_eq!(ok.span.to_string(), "22:00–24:00");
    }

    #[test]
    fn enabled_slots_may_touch_but_not_overlap() {
        let existing = [slot(1, "10:00", "12:00", true), slot(2, "14:00", "16:00", false)];
        let touching = NewTimeSlot::parse("a", "12:00", "14:00", true, 0).unwrap();
        assert_eq!(touching.first_overlap(&existing, None), None);
        let overlapping = NewTimeSlot::parse("b", "11:59", "13:00", true, 0).unwrap();
        assert_eq!(overlapping.first_overlap(&existing, None).map(|s| s.id.get()), Some(1));
        // A disabled slot neither blocks nor is blocked.
        let over_disabled = NewTimeSlot::parse("c", "15:00", "17:00", true, 0).unwrap();
        assert_eq!(over_disabled.first_overlap(&existing, None), None);
        let disabled = NewTimeSlot::parse("d", "11:00", "13:00", false, 0).unwrap();
        assert_eq!(disabled.first_overlap(&existing, None), None);
        // Updating slot 1 does not conflict with itself.
        assert_eq!(overlapping.first_overlap(&existing, Some(SlotId::from_raw(1))), None);
    }
}
