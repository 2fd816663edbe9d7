//! When an activity sells: the one pure function that decides an activity's state at an
//! instant, from `starts_at`, `ends_at`, its daily slots and the shop's time zone.
//!
//! A *window* is one stretch of real time during which the activity is purchasable: a slot's
//! local `start..end` on one day, converted to instants in the zone and clipped to
//! `[starts_at, ends_at)`. Touching windows (`10:00–12:00` then `12:00–14:00`, or `22:00–24:00`
//! then `00:00–02:00` the next day) merge into one, so the state never flickers at a seam.
//!
//! Days with a DST jump keep well-defined windows, by the rule of RFC 5545 (jiff's
//! "compatible" disambiguation): a local time that does not exist (spring forward) is read with
//! the offset before the gap, so it moves forward by the gap's length; an ambiguous one (fall
//! back) means its first occurrence. A slot that is exactly the skipped hour opens no window
//! that day; one across the fold lasts an hour longer.

use std::collections::VecDeque;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::slot::{SlotSpan, SlotTime};

/// The longest activity accepted: bounds every walk over its days.
pub const MAX_ACTIVITY_DAYS: i64 = 400;

/// One purchasable stretch of real time, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    /// Whether `now` is inside.
    pub fn contains(&self, now: Timestamp) -> bool {
        self.start <= now && now < self.end
    }

    /// Whether two windows share an instant.
    pub fn overlaps(&self, other: &Window) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Where an activity stands in time, ignoring stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Before its first window opens.
    Upcoming,
    /// Inside a window.
    Running,
    /// Between two windows (between slots, or overnight).
    Paused,
    /// After its last window, or past `ends_at`.
    Ended,
    /// Switched off by an operator (and not yet ended).
    Disabled,
}

impl Phase {
    /// The stable lower-case name used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Upcoming => "upcoming",
            Phase::Running => "running",
            Phase::Paused => "paused",
            Phase::Ended => "ended",
            Phase::Disabled => "disabled",
        }
    }
}

/// The full picture at one instant: the phase and the window bounds a countdown needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    pub phase: Phase,
    /// The window now open (`Running`).
    pub current: Option<Window>,
    /// The next window to open (`Upcoming`, `Paused`, and `Running` when another follows).
    pub next: Option<Window>,
}

impl Moment {
    /// The next instant at which the phase changes by itself (not counting operator edits), or
    /// `None` once ended. A scheduler sleeps until then.
    pub fn next_transition(&self) -> Option<Timestamp> {
        match self.phase {
            Phase::Running => self.current.map(|w| w.end),
            Phase::Upcoming | Phase::Paused => self.next.map(|w| w.start),
            Phase::Ended | Phase::Disabled => None,
        }
    }
}

/// The time rules of one activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    starts_at: Timestamp,
    ends_at: Timestamp,
    spans: Vec<SlotSpan>,
}

/// Why a schedule is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("ends_at must be after starts_at")]
    EndsBeforeStart,
    #[error("an activity may last at most {MAX_ACTIVITY_DAYS} days")]
    TooLong,
    #[error("no enabled time slot opens between starts_at and ends_at")]
    NoWindow,
}

impl Schedule {
    /// A schedule selling during `spans` (the activity's *enabled* slots) every day between
    /// `starts_at` and `ends_at`. Only the ordering and length are checked here; see
    /// [`Schedule::validate`] for the full rule.
    pub fn new(starts_at: Timestamp, ends_at: Timestamp, spans: Vec<SlotSpan>) -> Result<Self, ScheduleError> {
        if starts_at >= ends_at {
            return Err(ScheduleError::EndsBeforeStart);
        }
        if ends_at.duration_since(starts_at) > SignedDuration::from_hours(24 * MAX_ACTIVITY_DAYS) {
            return Err(ScheduleError::TooLong);
        }
        let mut spans = spans;
        spans.sort_by_key(|s| (s.start(), s.end()));
        spans.dedup();
        Ok(Schedule { starts_at, ends_at, spans })
    }

    /// [`Schedule::new`], and at least one window must open in the zone.
    pub fn validate(
        starts_at: Timestamp,
        ends_at: Timestamp,
        spans: Vec<SlotSpan>,
        tz: &TimeZone,
    ) -> Result<Self, ScheduleError> {
        let schedule = Schedule::new(starts_at, ends_at, spans)?;
        if schedule.first_window(tz).is_none() {
            return Err(ScheduleError::NoWindow);
        }
        Ok(schedule)
    }

    /// The first instant the activity may sell.
    pub fn starts_at(&self) -> Timestamp {
        self.starts_at
    }

    /// The instant after which it never sells again.
    pub fn ends_at(&self) -> Timestamp {
        self.ends_at
    }

    /// The first window of the whole activity.
    pub fn first_window(&self, tz: &TimeZone) -> Option<Window> {
        self.windows_from(self.starts_at, tz).next()
    }

    /// Windows that end after `from`, in order, merged where they touch.
    pub fn windows_from<'a>(&'a self, from: Timestamp, tz: &'a TimeZone) -> Windows<'a> {
        let from = from.max(self.starts_at);
        let local = |t: Timestamp| t.to_zoned(tz.clone()).date();
        // A window touching `from` began on `from`'s local date or the day before.
        let first_date = local(from).yesterday().unwrap_or(local(from));
        let last_date = local(self.ends_at);
        Windows {
            schedule: self,
            tz,
            next_date: Some(first_date),
            last_date,
            from,
            queue: VecDeque::new(),
            pending: None,
        }
    }

    /// The state at `now`, for an activity that is `enabled` or not.
    pub fn moment_at(&self, now: Timestamp, enabled: bool, tz: &TimeZone) -> Moment {
        let ended = Moment { phase: Phase::Ended, current: None, next: None };
        if now >= self.ends_at {
            return ended;
        }
        let Some(first) = self.first_window(tz) else {
            return ended;
        };
        let mut ahead = self.windows_from(now, tz);
        let (phase, current, next) = if now < first.start {
            (Phase::Upcoming, None, Some(first))
        } else {
            match ahead.next() {
                None => return ended,
                Some(w) if w.contains(now) => (Phase::Running, Some(w), ahead.next()),
                Some(w) => (Phase::Paused, None, Some(w)),
            }
        };
        let phase = if enabled { phase } else { Phase::Disabled };
        Moment { phase, current, next }
    }

    /// The local windows of one day, clipped to the activity, empty ones dropped, by start.
    fn windows_on(&self, date: Date, tz: &TimeZone) -> Vec<Window> {
        let at = |t: SlotTime| -> Option<Timestamp> {
            let (h, m) = t.hour_minute();
            let (day, h) = if h == 24 { (date.tomorrow().ok()?, 0) } else { (date, h) };
            day.at(h, m, 0, 0).to_zoned(tz.clone()).ok().map(|z| z.timestamp())
        };
        let mut out: Vec<Window> = self
            .spans
            .iter()
            .filter_map(|span| {
                let start = at(span.start())?.max(self.starts_at);
                let end = at(span.end())?.min(self.ends_at);
                (start < end).then_some(Window { start, end })
            })
            .collect();
        out.sort_by_key(|w| w.start);
        out
    }

    /// Whether any window of `self` overlaps any window of `other` — the rule that keeps one
    /// product out of two activities selling at the same time.
    pub fn overlaps(&self, other: &Schedule, tz: &TimeZone) -> bool {
        let from = self.starts_at.max(other.starts_at);
        let until = self.ends_at.min(other.ends_at);
        if from >= until {
            return false;
        }
        let mut a = self.windows_from(from, tz).take_while(|w| w.start < until).peekable();
        let mut b = other.windows_from(from, tz).take_while(|w| w.start < until).peekable();
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            if x.overlaps(y) {
                return true;
            }
            if x.end <= y.end {
                a.next();
            } else {
                b.next();
            }
        }
        false
    }
}

/// Iterator over an activity's merged windows; see [`Schedule::windows_from`].
#[derive(Debug)]
pub struct Windows<'a> {
    schedule: &'a Schedule,
    tz: &'a TimeZone,
    next_date: Option<Date>,
    last_date: Date,
    from: Timestamp,
    queue: VecDeque<Window>,
    pending: Option<Window>,
}

impl Iterator for Windows<'_> {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        loop {
            while self.queue.is_empty() {
                match self.next_date {
                    Some(date) if date <= self.last_date => {
                        self.queue.extend(self.schedule.windows_on(date, self.tz));
                        self.next_date = date.tomorrow().ok();
                    }
                    _ => break,
                }
            }
            match (self.queue.pop_front(), self.pending) {
                (Some(w), None) => self.pending = Some(w),
                (Some(w), Some(p)) if w.start <= p.end => {
                    self.pending = Some(Window { start: p.start, end: p.end.max(w.end) });
                }
                (Some(w), Some(p)) => {
                    self.pending = Some(w);
                    if p.end > self.from {
                        return Some(p);
                    }
                }
                (None, _) => {
                    let p = self.pending.take()?;
                    return (p.end > self.from).then_some(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(a: &str, b: &str) -> SlotSpan {
        SlotSpan::new(a.parse().unwrap(), b.parse().unwrap()).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    #[test]
    fn an_activity_is_upcoming_running_paused_then_ended_across_slots() {
        let tz = shanghai();
        // Two days, slots 10:00–12:00 and 20:00–22:00 Beijing time (UTC+8).
        let s = Schedule::new(
            ts("2026-11-10T16:00:00Z"),
            ts("2026-11-12T16:00:00Z"),
            vec![span("10:00", "12:00"), span("20:00", "22:00")],
        )
        .unwrap();
        let at = |t: &str| s.moment_at(ts(t), true, &tz);

        let m = at("2026-11-11T01:59:59Z"); // 09:59:59 local
        assert_eq!(m.phase, Phase::Upcoming);
        assert_eq!(m.next_transition(), Some(ts("2026-11-11T02:00:00Z")));

        let m = at("2026-11-11T02:00:00Z"); // 10:00 local, opening second
        assert_eq!(m.phase, Phase::Running);
        assert_eq!(m.current.map(|w| w.end), Some(ts("2026-11-11T04:00:00Z")));
        assert_eq!(m.next.map(|w| w.start), Some(ts("2026-11-11T12:00:00Z")));

        let m = at("2026-11-11T04:00:00Z"); // 12:00 local: closed (half-open)
        assert_eq!(m.phase, Phase::Paused);
        assert_eq!(m.next_transition(), Some(ts("2026-11-11T12:00:00Z")));

        let m = at("2026-11-11T14:00:00Z"); // 22:00 local, overnight pause
        assert_eq!(m.phase, Phase::Paused);
        assert_eq!(m.next_transition(), Some(ts("2026-11-12T02:00:00Z")));

        assert_eq!(at("2026-11-12T13:00:00Z").phase, Phase::Running); // 21:00 on day 2
        assert_eq!(at("2026-11-12T14:00:00Z").phase, Phase::Ended); // after the last window
        assert_eq!(at("2026-11-12T16:00:00Z").phase, Phase::Ended);
        assert_eq!(at("2026-11-12T14:00:00Z").next_transition(), None);
    }

    #[test]
    fn a_disabled_activity_says_so_until_it_ends() {
        let tz = TimeZone::UTC;
        let s = Schedule::new(ts("2026-11-11T00:00:00Z"), ts("2026-11-12T00:00:00Z"), vec![span("10:00", "12:00")])
            .unwrap();
        assert_eq!(s.moment_at(ts("2026-11-11T10:30:00Z"), false, &tz).phase, Phase::Disabled);
        assert_eq!(s.moment_at(ts("2026-11-11T09:00:00Z"), false, &tz).phase, Phase::Disabled);
        assert_eq!(s.moment_at(ts("2026-11-12T00:00:00Z"), false, &tz).phase, Phase::Ended);
    }

    #[test]
    fn windows_are_clipped_to_starts_at_and_ends_at() {
        let tz = TimeZone::UTC;
        let s = Schedule::new(ts("2026-11-11T10:30:00Z"), ts("2026-11-11T11:15:00Z"), vec![span("10:00", "12:00")])
            .unwrap();
        let w: Vec<_> = s.windows_from(s.starts_at(), &tz).collect();
        assert_eq!(w, vec![Window { start: ts("2026-11-11T10:30:00Z"), end: ts("2026-11-11T11:15:00Z") }]);
        assert_eq!(s.moment_at(ts("2026-11-11T10:29:59Z"), true, &tz).phase, Phase::Upcoming);
        assert_eq!(s.moment_at(ts("2026-11-11T11:15:00Z"), true, &tz).phase, Phase::Ended);
    }

    #[test]
    fn touching_slots_merge_across_midnight() {
        let tz = shanghai();
        let s = Schedule::new(
            ts("2026-11-10T00:00:00Z"),
            ts("2026-11-13T00:00:00Z"),
            vec![span("22:00", "24:00"), span("00:00", "02:00")],
        )
        .unwrap();
        // 2026-11-11 23:00 local = 15:00Z: running until 02:00 local next day = 18:00Z.
        let m = s.moment_at(ts("2026-11-11T15:00:00Z"), true, &tz);
        assert_eq!(m.phase, Phase::Running);
        assert_eq!(m.current.map(|w| w.end), Some(ts("2026-11-11T18:00:00Z")));
        assert_eq!(m.next.map(|w| w.start), Some(ts("2026-11-12T14:00:00Z")));
    }

    #[test]
    fn a_dst_gap_shifts_or_swallows_a_slot_and_a_fold_lengthens_one() {
        let tz = berlin();
        // 2026-03-29: clocks jump 02:00 → 03:00 in Berlin. 02:15–02:45 does not exist that day
        // and moves forward by the gap, to 03:15–03:45 CEST.
        let s = Schedule::new(ts("2026-03-28T00:00:00Z"), ts("2026-03-31T00:00:00Z"), vec![span("02:15", "02:45")])
            .unwrap();
        let w: Vec<_> = s.windows_from(s.starts_at(), &tz).collect();
        assert_eq!(
            w,
            vec![
                Window { start: ts("2026-03-28T01:15:00Z"), end: ts("2026-03-28T01:45:00Z") }, // CET, UTC+1
                Window { start: ts("2026-03-29T01:15:00Z"), end: ts("2026-03-29T01:45:00Z") }, // 03:15 CEST
                Window { start: ts("2026-03-30T00:15:00Z"), end: ts("2026-03-30T00:45:00Z") }, // CEST, UTC+2
            ]
        );
        // The skipped hour itself opens nothing that day.
        let s = Schedule::new(ts("2026-03-28T00:00:00Z"), ts("2026-03-31T00:00:00Z"), vec![span("02:00", "03:00")])
            .unwrap();
        let starts: Vec<_> = s.windows_from(s.starts_at(), &tz).map(|w| w.start).collect();
        assert_eq!(starts, vec![ts("2026-03-28T01:00:00Z"), ts("2026-03-30T00:00:00Z")]);

        // 2026-10-25: 03:00 → 02:00. Slot 02:00–03:00 runs from the first 02:00 to 03:00: 2 hours.
        let s = Schedule::new(ts("2026-10-25T00:00:00Z"), ts("2026-10-26T00:00:00Z"), vec![span("02:00", "03:00")])
            .unwrap();
        let w: Vec<_> = s.windows_from(s.starts_at(), &tz).collect();
        assert_eq!(w, vec![Window { start: ts("2026-10-25T00:00:00Z"), end: ts("2026-10-25T02:00:00Z") }]);
    }

    #[test]
    fn a_schedule_without_any_window_is_refused() {
        let tz = TimeZone::UTC;
        let only_night = vec![span("20:00", "22:00")];
        assert_eq!(
            Schedule::validate(ts("2026-11-11T10:00:00Z"), ts("2026-11-11T12:00:00Z"), only_night.clone(), &tz),
            Err(ScheduleError::NoWindow)
        );
        assert_eq!(
            Schedule::validate(ts("2026-11-11T10:00:00Z"), ts("2026-11-11T10:00:00Z"), only_night.clone(), &tz),
            Err(ScheduleError::EndsBeforeStart)
        );
        assert_eq!(
            Schedule::validate(ts("2026-01-01T00:00:00Z"), ts("2027-06-01T00:00:00Z"), only_night, &tz),
            Err(ScheduleError::TooLong)
        );
        assert_eq!(
            Schedule::validate(ts("2026-11-11T00:00:00Z"), ts("2026-11-12T00:00:00Z"), vec![], &tz),
            Err(ScheduleError::NoWindow)
        );
    }

    #[test]
    fn two_schedules_overlap_only_when_their_windows_do() {
        let tz = TimeZone::UTC;
        let morning = vec![span("10:00", "12:00")];
        let evening = vec![span("20:00", "22:00")];
        let a = Schedule::new(ts("2026-11-11T00:00:00Z"), ts("2026-11-14T00:00:00Z"), morning.clone()).unwrap();
        let b = Schedule::new(ts("2026-11-13T00:00:00Z"), ts("2026-11-20T00:00:00Z"), morning.clone()).unwrap();
        let c = Schedule::new(ts("2026-11-11T00:00:00Z"), ts("2026-11-14T00:00:00Z"), evening).unwrap();
        // Both sell 10:00–12:00 on the 13th.
        assert!(a.overlaps(&b, &tz));
        assert!(b.overlaps(&a, &tz));
        assert!(!a.overlaps(&c, &tz));
        // Dates overlap only outside the slot: a ends at 11:00 on the 11th, d starts at 11:00 on the 11th.
        let a2 = Schedule::new(ts("2026-11-10T00:00:00Z"), ts("2026-11-11T11:00:00Z"), morning.clone()).unwrap();
        let d = Schedule::new(ts("2026-11-11T11:00:00Z"), ts("2026-11-12T00:00:00Z"), morning.clone()).unwrap();
        assert!(!a2.overlaps(&d, &tz));
        // Overlapping dates, but no shared window: a3 sells only on the 11th, e only from the 12th.
        let a3 = Schedule::new(ts("2026-11-11T00:00:00Z"), ts("2026-11-12T09:00:00Z"), morning.clone()).unwrap();
        let e = Schedule::new(ts("2026-11-11T13:00:00Z"), ts("2026-11-13T00:00:00Z"), morning).unwrap();
        assert!(!a3.overlaps(&e, &tz));
    }
}
