//! Per-user and per-address request budgets for the rush endpoints (GCRA token buckets, in
//! memory, per process). Both are checked before anything else of the funnel but the token.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use seckill_domain::ids::UserId;
use seckill_domain::rejection::Rejection;

/// A budget: `per_sec` requests a second on average, bursts of twice that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_sec: NonZeroU32,
}

impl Rate {
    fn quota(self) -> Quota {
        let burst = self.per_sec.saturating_mul(NonZeroU32::MIN.saturating_add(1));
        Quota::per_second(self.per_sec).allow_burst(burst)
    }
}

/// Keys idle longer than this are forgotten when the maps grow.
const FORGET_AFTER_KEYS: usize = 100_000;

/// The rush's budgets; `None` when rate limits are off.
#[derive(Debug)]
pub struct RateLimits {
    limiters: Option<(DefaultKeyedRateLimiter<UserId>, DefaultKeyedRateLimiter<IpAddr>)>,
    checks: AtomicU64,
}

impl RateLimits {
    /// Budgets per user and per address, or none at all.
    pub fn new(enabled: bool, user: Rate, ip: Rate) -> Self {
        RateLimits {
            limiters: enabled.then(|| (RateLimiter::keyed(user.quota()), RateLimiter::keyed(ip.quota()))),
            checks: AtomicU64::new(0),
        }
    }

    /// Spends one request of `user`'s and `ip`'s budgets; `RateLimited` with the seconds to
    /// wait when either is empty.
    pub fn check(&self, user: UserId, ip: Option<IpAddr>) -> Result<(), Rejection> {
        let Some((by_user, by_ip)) = &self.limiters else { return Ok(()) };
        // Now and then, forget keys whose buckets are full again: memory follows active
        // clients, not every client ever seen.
        if self.checks.fetch_add(1, Ordering::Relaxed).is_multiple_of(65_536)
            && (by_user.len() > FORGET_AFTER_KEYS || by_ip.len() > FORGET_AFTER_KEYS)
        {
            by_user.retain_recent();
            by_ip.retain_recent();
        }
        by_user.check_key(&user).map_err(|n| limited(n.wait_time_from(DefaultClock::default().now())))?;
        if let Some(ip) = ip {
            by_ip.check_key(&ip).map_err(|n| limited(n.wait_time_from(DefaultClock::default().now())))?;
        }
        Ok(())
    }
}

fn limited(wait: Duration) -> Rejection {
    let secs = u32::try_from(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).unwrap_or(u32::MAX).max(1);
    Rejection::RateLimited { retry_after_secs: secs }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(n: u32) -> Rate {
        Rate { per_sec: NonZeroU32::new(n).unwrap() }
    }

    #[test]
    fn a_user_gets_a_burst_then_is_told_when_to_retry() {
        let limits = RateLimits::new(true, rate(2), rate(1000));
        let u = UserId::from_raw(1);
        for _ in 0..4 {
            assert_eq!(limits.check(u, None), Ok(()));
        }
        assert!(matches!(limits.check(u, None), Err(Rejection::RateLimited { retry_after_secs: 1 })));
        // Another user has a budget of their own.
        assert_eq!(limits.check(UserId::from_raw(2), None), Ok(()));
    }

    #[test]
    fn an_address_is_limited_across_users_and_off_means_off() {
        let limits = RateLimits::new(true, rate(1000), rate(1));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(limits.check(UserId::from_raw(1), Some(ip)), Ok(()));
        assert_eq!(limits.check(UserId::from_raw(2), Some(ip)), Ok(()));
        assert!(limits.check(UserId::from_raw(3), Some(ip)).is_err());
        let off = RateLimits::new(false, rate(1), rate(1));
        for _ in 0..100 {
            assert_eq!(off.check(UserId::from_raw(1), Some(ip)), Ok(()));
        }
    }
}
