//! The behavioural suite every backend must pass (SQLite now, PostgreSQL later): the ports'
//! rules, checked through the ports only — no SQL, no backend type.
//!
//! A backend's test crate supplies a `make()` that opens fresh, empty records configured with
//! the zone [`TIME_ZONE`] and instantiates every case as its own test:
//!
//! ```ignore
//! async fn make() -> seckill_store::conformance::Fixture { /* fresh records in a temp dir */ }
//! seckill_store::conformance_tests!(make);
//! ```
//!
//! Each case is a `pub async fn(&Records)` named as a sentence (those of [`search`] too); the
//! cases of [`rush`] and [`orders`] take the whole `&Fixture`. Time is fixed (timestamps are
//! written out, `now` is passed in); nothing sleeps. The scenario is set in Asia/Shanghai
//! (UTC+8, no DST), and some cases only pass when the backend decides windows in that zone.
//!
//! This module is test code compiled as a library feature: a panic is a failed case, so it
//! asserts and unwraps freely.
#![allow(clippy::unwrap_used)]

use std::any::Any;
use std::fmt::Debug;

use jiff::SignedDuration;

use seckill_domain::activity::{Activity, NewActivity, NewActivitySku, PurchaseRules};
use seckill_domain::catalog::{Brand, NewBrand, NewCategory, NewProduct, NewSku, Product, ProductInput, SkuInput};
use seckill_domain::ids::{ActivityId, AddressId, BrandId, CategoryId, ProductId, SkuId, SlotId, UserId};
use seckill_domain::money::Money;
use seckill_domain::slot::{NewTimeSlot, SlotSpan, SlotTime, TimeSlot};
use seckill_domain::user::{AddressInput, MAX_ADDRESSES, NEW_USER_LEVEL, NewAddress, NewUser, User, Username};
use seckill_domain::validation::FieldErrors;
use seckill_domain::{TimeZone, Timestamp};

use crate::error::{Conflict, StoreError};
use crate::page::Page;
use crate::ports::{ActivityQuery, Records};

pub mod orders;
pub mod rush;
pub mod search;

/// The zone every fixture's records must decide windows in.
pub const TIME_ZONE: &str = "Asia/Shanghai";

/// [`TIME_ZONE`], for a backend's `make()`.
pub fn time_zone() -> TimeZone {
    TimeZone::get(TIME_ZONE).unwrap()
}

/// Fresh, empty records for one case, the backend's hot state and order hand-off over them
/// (its writer running), and whatever must live as long as they do.
pub struct Fixture {
    /// The ports under test, configured with [`TIME_ZONE`].
    pub records: Records,
    /// The hot state, empty.
    pub gate: std::sync::Arc<dyn crate::rush::StockGate>,
    /// The order hand-off into `records`, giving holds back to `gate`.
    pub queue: std::sync::Arc<dyn crate::rush::OrderQueue>,
    /// Kept alive until the case ends: temp dirs, child servers, the backend itself.
    pub guard: Box<dyn Any + Send>,
}

impl Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture").field("records", &self.records).finish_non_exhaustive()
    }
}

/// Instantiates every case of the suite as a `#[tokio::test]` of the calling crate (which
/// needs `tokio` with the `macros` and `rt-multi-thread` features), each on fresh records from
/// `$make`, an `async fn() -> Fixture`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@cases $make;
            a_new_user_starts_at_the_new_user_level_with_their_details,
            a_username_is_taken_in_any_letter_case,
            credentials_are_found_by_username_in_any_letter_case,
            an_unknown_user_is_not_found,
            levels_can_be_set_from_0_to_100,
            users_are_listed_by_id_and_filtered_by_name,
            an_admin_password_can_be_replaced,
            the_first_address_is_the_default_and_a_new_default_replaces_it,
            deleting_the_default_address_promotes_the_most_recent_one,
            another_users_address_is_not_found,
            a_user_keeps_at_most_20_addresses,
            many_users_are_registered_at_once_each_with_one_default_address,
            brands_are_listed_by_sort_then_name_and_can_be_updated,
            a_category_needs_an_existing_parent,
            a_category_cannot_become_its_own_descendant,
            a_product_of_an_unknown_brand_or_category_is_invalid,
            a_product_is_stored_with_its_skus_in_order,
            updating_a_product_updates_adds_and_removes_skus,
            a_sku_of_another_product_cannot_be_updated_through_this_one,
            a_sku_used_by_an_activity_cannot_be_removed,
            an_unknown_product_is_not_found,
            enabled_slots_may_touch_but_not_overlap,
            a_slot_update_may_not_overlap_another_enabled_slot,
            slots_are_listed_by_sort_then_start,
            a_slot_used_by_an_unfinished_activity_cannot_be_deleted,
            a_deleted_slot_is_gone_from_lists_checks_and_new_activities_but_finished_activities_keep_it,
            a_valid_activity_is_stored_with_its_slots_skus_and_rules,
            windows_are_judged_in_the_shop_time_zone,
            an_activity_that_breaks_a_record_rule_is_invalid,
            a_product_sells_in_one_enabled_activity_at_a_time,
            a_disabled_activity_does_not_block_and_enabling_rechecks,
            enabling_a_slot_that_makes_two_activities_of_a_product_overlap_is_a_conflict,
            every_change_of_an_activity_or_its_slots_moves_its_version,
            an_update_replaces_the_definition_under_the_same_rules,
            activities_are_listed_by_start_and_filtered,
            activities_without_orders_have_no_order_counts,
            only_one_of_many_concurrent_activities_for_a_product_is_created,
            only_one_of_many_concurrent_overlapping_slots_is_created,
            the_records_answer_a_ping,
        );
        $crate::conformance_tests!(@rush $make;
            exactly_the_stock_is_sold_to_a_crowd_and_nobody_passes_the_limit,
            one_shopper_racing_themselves_gets_exactly_the_limit,
            one_idempotency_key_makes_one_order_however_often_it_is_sent,
            an_order_to_someone_elses_address_is_refused_and_gives_its_stock_back,
            a_release_gives_units_back_exactly_once,
            the_records_give_back_everything_the_hot_state_needs,
            a_reservation_is_recorded_once_and_reaches_the_hot_state,
            exactly_the_synced_skus_carry_the_seckill_tag,
            an_order_is_found_by_id_and_ticket_with_its_address_and_price,
        );
        $crate::conformance_tests!(@orders $make;
            a_cancellation_gives_the_units_back_to_sold_and_writes_one_return,
            another_shoppers_order_is_not_found_and_stays_as_it_was,
            a_paid_order_is_cancelled_only_by_an_operator_and_its_payment_then_needs_a_refund,
            orders_ship_only_when_paid_and_complete_only_when_shipped,
            overdue_orders_are_the_unpaid_ones_at_or_past_their_deadline_earliest_first,
            returns_stay_pending_until_marked_and_give_back_once_however_often_applied,
            a_return_pending_across_a_rebuild_of_the_hot_state_gives_back_nothing_twice,
            a_cancelled_orders_key_still_answers_with_that_order_after_a_rebuild,
            a_payment_starts_only_for_a_pending_order_before_its_deadline,
            a_notice_pays_once_and_replays_change_nothing,
            a_notice_with_the_wrong_amount_or_order_is_invalid_and_changes_nothing,
            a_failed_payment_leaves_the_order_payable,
            money_for_an_order_cancelled_meanwhile_needs_a_refund_and_the_order_stays_cancelled,
            a_payment_before_the_timeout_wins_and_the_timeout_changes_nothing,
            a_timeout_racing_a_payment_has_exactly_one_winner_for_each_order,
            orders_are_listed_newest_first_filtered_and_paged,
        );
        $crate::conformance_tests!(@search $make;
            search_matches_product_brand_and_category_names_in_any_letter_case,
            a_chinese_or_latin_substring_matches_inside_a_longer_name,
            search_finds_only_enabled_activities_that_have_not_ended,
            renaming_a_product_its_brand_or_its_category_is_found_at_once,
            search_text_is_never_query_syntax,
            the_best_matches_come_first_and_at_most_the_limit,
        );
    };
    (@search $make:path; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture: $crate::conformance::Fixture = $make().await;
                $crate::conformance::search::$case(&fixture.records).await;
                drop(fixture);
            }
        )*
    };
    (@orders $make:path; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture: $crate::conformance::Fixture = $make().await;
                $crate::conformance::orders::$case(&fixture).await;
                drop(fixture);
            }
        )*
    };
    (@rush $make:path; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture: $crate::conformance::Fixture = $make().await;
                $crate::conformance::rush::$case(&fixture).await;
                drop(fixture);
            }
        )*
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture: $crate::conformance::Fixture = $make().await;
                $crate::conformance::$case(&fixture.records).await;
                drop(fixture);
            }
        )*
    };
}

// ---- time and scenario ---------------------------------------------------------------------

/// An instant written with its offset, e.g. `"2026-11-11T10:00:00+08:00"`.
fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// "Now" for most cases: before every activity of the scenario.
fn now() -> Timestamp {
    at("2026-11-01T09:00:00+08:00")
}

/// After every activity of the scenario has finished.
fn later() -> Timestamp {
    at("2026-12-01T00:00:00+08:00")
}

/// Local midnight starting day `d` of November 2026 in Shanghai.
fn day(d: u8) -> Timestamp {
    at(&format!("2026-11-{d:02}T00:00:00+08:00"))
}

fn span(start: &str, end: &str) -> SlotSpan {
    SlotSpan::new(start.parse().unwrap(), end.parse().unwrap()).unwrap()
}

fn new_slot(name: &str, start: &str, end: &str, enabled: bool) -> NewTimeSlot {
    NewTimeSlot { name: name.into(), span: span(start, end), enabled, sort: 0 }
}

/// A shopper `name` with a valid password (for suites and backend tests alike).
pub fn new_user(name: &str) -> NewUser {
    NewUser::parse(name, "correct horse battery", None, None, None).unwrap()
}

/// A valid address for `contact` (for suites and backend tests alike).
pub fn new_address(contact: &str, is_default: Option<bool>) -> NewAddress {
    NewAddress::parse(&AddressInput {
        contact,
        phone: "13800138000",
        province: "浙江省",
        city: "杭州市",
        district: "余杭区",
        detail: "文一西路 969 号",
        is_default,
    })
    .unwrap()
}

fn new_product(name: &str, skus: &[(&str, i64, i64)]) -> NewProduct {
    NewProduct::parse(&ProductInput {
        name,
        skus: skus
            .iter()
            .map(|&(name, price_cents, stock)| SkuInput { id: None, name, spec: None, price_cents, stock })
            .collect(),
        ..Default::default()
    })
    .unwrap()
}

fn sku_update(id: Option<SkuId>, name: &str, price_cents: i64, stock: u32) -> NewSku {
    NewSku { id, name: name.into(), spec: String::new(), price: Money::from_cents(price_cents), stock }
}

/// The shop every activity case starts from: two products, a morning and an evening slot.
struct Shop {
    records: Records,
    /// "Phone": skus black and white, ¥199.00 each, 500 in stock each.
    phone: Product,
    /// "Laptop": one sku, ¥5999.00, 50 in stock.
    laptop: Product,
    /// 10:00–12:00 local.
    morning: TimeSlot,
    /// 20:00–22:00 local.
    evening: TimeSlot,
}

impl Shop {
    async fn open(records: &Records) -> Shop {
        let c = &records.catalog;
        let phone = new_product("Phone", &[("black", 19_900, 500), ("white", 19_900, 500)]);
        let phone = c.create_product(&phone, now()).await.unwrap();
        let laptop = c.create_product(&new_product("Laptop", &[("silver", 599_900, 50)]), now()).await.unwrap();
        let morning = c.create_slot(&new_slot("10点场", "10:00", "12:00", true), now()).await.unwrap();
        let evening = c.create_slot(&new_slot("20点场", "20:00", "22:00", true), now()).await.unwrap();
        Shop { records: records.clone(), phone, laptop, morning, evening }
    }

    /// The phone's black sku at ¥99.00, 100 units, on `slots` from `from` to `until`; limits
    /// 2 per user, 1 per order.
    fn sale(&self, slots: &[&TimeSlot], from: Timestamp, until: Timestamp) -> NewActivity {
        NewActivity {
            name: "Double 11 phone".into(),
            product_id: self.phone.id,
            starts_at: from,
            ends_at: until,
            slot_ids: slots.iter().map(|s| s.id).collect(),
            skus: vec![NewActivitySku {
                sku_id: self.phone.skus[0].id,
                seckill_price: Money::from_cents(9_900),
                stock: 100,
            }],
            rules: PurchaseRules {
                total_limit: 2,
                single_limit: 1,
                min_level: 0,
                reservation_required: false,
                pay_timeout_secs: 900,
            },
            enabled: true,
        }
    }

    /// [`Shop::sale`] of the laptop instead.
    fn laptop_sale(&self, slots: &[&TimeSlot], from: Timestamp, until: Timestamp) -> NewActivity {
        let mut a = self.sale(slots, from, until);
        a.name = "Laptop day".into();
        a.product_id = self.laptop.id;
        a.skus = vec![NewActivitySku {
            sku_id: self.laptop.skus[0].id,
            seckill_price: Money::from_cents(399_900),
            stock: 10,
        }];
        a
    }

    async fn create(&self, new: &NewActivity) -> Activity {
        self.records.catalog.create_activity(new, now()).await.unwrap()
    }
}

// ---- answers -------------------------------------------------------------------------------

#[track_caller]
fn conflict<T: Debug>(result: Result<T, StoreError>) -> Conflict {
    match result {
        Err(StoreError::Conflict(c)) => c,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[track_caller]
fn invalid<T: Debug>(result: Result<T, StoreError>) -> FieldErrors {
    match result {
        Err(StoreError::Invalid(e)) => e,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[track_caller]
fn not_found<T: Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[track_caller]
fn assert_field<T: Debug>(result: Result<T, StoreError>, field: &str) {
    let e = invalid(result);
    assert!(e.get(field).is_some(), "expected an error on {field}, got {e}");
}

// ---- accounts ------------------------------------------------------------------------------

/// A new shopper starts at [`NEW_USER_LEVEL`] and keeps the details given.
pub async fn a_new_user_starts_at_the_new_user_level_with_their_details(records: &Records) {
    let new =
        NewUser::parse("Alice_01", "correct horse", Some("+86 138-0013-8000"), Some("a@b.cn"), Some("Al")).unwrap();
    let user = records.accounts.create_user(&new, "$argon2id$hash", now()).await.unwrap();
    assert_eq!(user.username, "Alice_01");
    assert_eq!(user.level, NEW_USER_LEVEL);
    assert_eq!(user.phone.as_deref(), Some("+86 138-0013-8000"));
    assert_eq!(user.email.as_deref(), Some("a@b.cn"));
    assert_eq!(user.nickname.as_deref(), Some("Al"));
    assert_eq!(user.created_at, now());
    assert_eq!(records.accounts.user(user.id).await.unwrap(), user);

    let bare = records.accounts.create_user(&new_user("bob"), "$argon2id$hash", now()).await.unwrap();
    assert_ne!(bare.id, user.id);
    assert_eq!((bare.phone, bare.email, bare.nickname), (None, None, None));
}

/// Usernames are unique regardless of letter case, for shoppers and for operators.
pub async fn a_username_is_taken_in_any_letter_case(records: &Records) {
    let a = &records.accounts;
    a.create_user(&new_user("Alice"), "h", now()).await.unwrap();
    for taken in ["Alice", "alice", "ALICE", "aLiCe"] {
        assert_eq!(conflict(a.create_user(&new_user(taken), "h", now()).await), Conflict::UsernameTaken, "{taken}");
    }
    let root = Username::parse("Root").unwrap();
    a.create_admin(&root, "h", now()).await.unwrap();
    let again = Username::parse("rOOT").unwrap();
    assert_eq!(conflict(a.create_admin(&again, "h", now()).await), Conflict::UsernameTaken);
    // Still exactly one Alice.
    assert_eq!(a.users(Some("lice"), Page::default()).await.unwrap().total, 1);
}

/// A login finds the account and its hash whatever the case typed; an unknown name finds none.
pub async fn credentials_are_found_by_username_in_any_letter_case(records: &Records) {
    let a = &records.accounts;
    let user = a.create_user(&new_user("Alice"), "$argon2id$user", now()).await.unwrap();
    let found = a.user_credentials("aLICE").await.unwrap().unwrap();
    assert_eq!(found.account, user);
    assert_eq!(found.password_hash, "$argon2id$user");
    assert!(a.user_credentials("alicia").await.unwrap().is_none());

    let admin = a.create_admin(&Username::parse("Root").unwrap(), "$argon2id$admin", now()).await.unwrap();
    let found = a.admin_credentials("ROOT").await.unwrap().unwrap();
    assert_eq!(found.account, admin);
    assert_eq!(found.password_hash, "$argon2id$admin");
    // Shoppers and operators are separate.
    assert!(a.admin_credentials("alice").await.unwrap().is_none());
    assert!(a.user_credentials("root").await.unwrap().is_none());
}

/// Unknown shoppers are `NotFound`.
pub async fn an_unknown_user_is_not_found(records: &Records) {
    let a = &records.accounts;
    not_found(a.user(UserId::from_raw(999)).await);
    not_found(a.set_user_level(UserId::from_raw(999), 5).await);
}

/// Levels go from 0 to 100.
pub async fn levels_can_be_set_from_0_to_100(records: &Records) {
    let a = &records.accounts;
    let user = a.create_user(&new_user("alice"), "h", now()).await.unwrap();
    assert_eq!(a.set_user_level(user.id, 100).await.unwrap().level, 100);
    assert_eq!(a.user(user.id).await.unwrap().level, 100);
    assert_eq!(a.set_user_level(user.id, 0).await.unwrap().level, 0);
    assert_field(a.set_user_level(user.id, 101).await, "level");
    assert_eq!(a.user(user.id).await.unwrap().level, 0);
}

/// Shoppers are listed by id, paged, optionally only those whose name contains the query in
/// any letter case.
pub async fn users_are_listed_by_id_and_filtered_by_name(records: &Records) {
    let a = &records.accounts;
    let alice = a.create_user(&new_user("alice"), "h", now()).await.unwrap();
    a.create_user(&new_user("bob"), "h", now()).await.unwrap();
    let alicia = a.create_user(&new_user("alicia"), "h", now()).await.unwrap();
    let names = |users: &[User]| users.iter().map(|u| u.username.clone()).collect::<Vec<_>>();

    let all = a.users(None, Page::default()).await.unwrap();
    assert_eq!(names(&all.items), ["alice", "bob", "alicia"]);
    assert_eq!(all.total, 3);

    let ali = a.users(Some("ALI"), Page::default()).await.unwrap();
    assert_eq!(ali.items.iter().map(|u| u.id).collect::<Vec<_>>(), [alice.id, alicia.id]);
    assert_eq!(ali.total, 2);

    let second = a.users(None, Page::new(Some(2), Some(2))).await.unwrap();
    assert_eq!((second.items.len(), second.total, second.page, second.per_page), (1, 3, 2, 2));
    assert_eq!(second.items[0].id, alicia.id);
    assert!(a.users(Some("zed"), Page::default()).await.unwrap().items.is_empty());
    // Wildcards in a query are plain characters.
    assert_eq!(a.users(Some("a%"), Page::default()).await.unwrap().total, 0);
    assert_eq!(a.users(Some("a_i"), Page::default()).await.unwrap().total, 0);
}

/// An operator's password can be replaced (found in any letter case); an unknown operator is
/// `NotFound`.
pub async fn an_admin_password_can_be_replaced(records: &Records) {
    let a = &records.accounts;
    let admin = a.create_admin(&Username::parse("root").unwrap(), "old", now()).await.unwrap();
    let changed = a.set_admin_password(&Username::parse("ROOT").unwrap(), "new").await.unwrap();
    assert_eq!(changed, admin);
    assert_eq!(a.admin_credentials("root").await.unwrap().unwrap().password_hash, "new");
    not_found(a.set_admin_password(&Username::parse("nobody").unwrap(), "x").await);
}

/// The first address is the default; one added as default becomes the only default; the
/// default is listed first.
pub async fn the_first_address_is_the_default_and_a_new_default_replaces_it(records: &Records) {
    let a = &records.accounts;
    let user = a.create_user(&new_user("alice"), "h", now()).await.unwrap();
    let first = a.add_address(user.id, &new_address("one", None), now()).await.unwrap();
    assert!(first.is_default);
    assert_eq!(first.user_id, user.id);
    let second = a.add_address(user.id, &new_address("two", Some(false)), now()).await.unwrap();
    assert!(!second.is_default);
    assert!(a.address(user.id, first.id).await.unwrap().is_default);

    let third = a.add_address(user.id, &new_address("three", Some(true)), now()).await.unwrap();
    assert!(third.is_default);
    let list = a.addresses(user.id).await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].id, third.id);
    assert_eq!(list.iter().filter(|x| x.is_default).count(), 1);
    assert_eq!(a.address(user.id, third.id).await.unwrap(), third);
}

/// Deleting the default makes the most recently added remaining address the default.
pub async fn deleting_the_default_address_promotes_the_most_recent_one(records: &Records) {
    let a = &records.accounts;
    let user = a.create_user(&new_user("alice"), "h", now()).await.unwrap();
    let t = |s: i64| now() + SignedDuration::from_secs(s);
    let one = a.add_address(user.id, &new_address("one", None), t(1)).await.unwrap();
    a.add_address(user.id, &new_address("two", None), t(2)).await.unwrap();
    let three = a.add_address(user.id, &new_address("three", None), t(3)).await.unwrap();
    let four = a.add_address(user.id, &new_address("four", Some(true)), t(4)).await.unwrap();

    // Deleting an address that is not the default leaves the default alone.
    a.delete_address(user.id, three.id).await.unwrap();
    assert!(a.address(user.id, four.id).await.unwrap().is_default);

    a.delete_address(user.id, four.id).await.unwrap();
    let list = a.addresses(user.id).await.unwrap();
    let ids: Vec<AddressId> = list.iter().map(|x| x.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(list[0].is_default && list[0].contact == "two", "{list:?}");
    assert_eq!(list.iter().filter(|x| x.is_default).count(), 1);

    a.delete_address(user.id, list[0].id).await.unwrap();
    let list = a.addresses(user.id).await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].is_default && list[0].id == one.id);
    a.delete_address(user.id, one.id).await.unwrap();
    assert!(a.addresses(user.id).await.unwrap().is_empty());
    not_found(a.address(user.id, one.id).await);
}

/// Another user's address, or a deleted one, is `NotFound` — reading and deleting alike.
pub async fn another_users_address_is_not_found(records: &Records) {
    let a = &records.accounts;
    let alice = a.create_user(&new_user("alice"), "h", now()).await.unwrap();
    let bob = a.create_user(&new_user("bob"), "h", now()).await.unwrap();
    let home = a.add_address(alice.id, &new_address("home", None), now()).await.unwrap();
    not_found(a.address(bob.id, home.id).await);
    not_found(a.delete_address(bob.id, home.id).await);
    assert!(a.addresses(bob.id).await.unwrap().is_empty());
    assert_eq!(a.address(alice.id, home.id).await.unwrap(), home);
    a.delete_address(alice.id, home.id).await.unwrap();
    not_found(a.address(alice.id, home.id).await);
    not_found(a.delete_address(alice.id, home.id).await);
    not_found(a.address(alice.id, AddressId::from_raw(999)).await);
}

/// At most [`MAX_ADDRESSES`] addresses per user; deleting one makes room again.
pub async fn a_user_keeps_at_most_20_addresses(records: &Records) {
    let a = &records.accounts;
    let user = a.create_user(&new_user("alice"), "h", now()).await.unwrap();
    let other = a.create_user(&new_user("bob"), "h", now()).await.unwrap();
    let mut last = None;
    for i in 0..MAX_ADDRESSES {
        last = Some(a.add_address(user.id, &new_address(&format!("a{i}"), None), now()).await.unwrap());
    }
    assert_field(a.add_address(user.id, &new_address("one too many", None), now()).await, "address");
    assert_eq!(a.addresses(user.id).await.unwrap().len(), MAX_ADDRESSES);
    // The limit is per user.
    a.add_address(other.id, &new_address("bob's", None), now()).await.unwrap();
    a.delete_address(user.id, last.unwrap().id).await.unwrap();
    a.add_address(user.id, &new_address("room again", None), now()).await.unwrap();
}

/// A bulk registration creates every shopper at the new-user level with the hash given and the
/// address as their only, default, address, answering ids in the order of the names; a name
/// taken in any letter case (or given twice) creates nobody.
pub async fn many_users_are_registered_at_once_each_with_one_default_address(records: &Records) {
    let a = &records.accounts;
    let names: Vec<Username> = (0..12_000).map(|i| Username::parse(&format!("Bulk-{i:05}")).unwrap()).collect();
    let home = new_address("bulk", Some(false));
    let ids = a.create_users_in_bulk(&names, "!", &home, now()).await.unwrap();
    assert_eq!(ids.len(), names.len());
    let distinct: std::collections::BTreeSet<_> = ids.iter().map(|(u, _)| *u).collect();
    assert_eq!(distinct.len(), names.len());
    for i in [0, 1, 4_999, 5_000, 11_999] {
        let (user, address) = ids[i];
        let u = a.user(user).await.unwrap();
        assert_eq!(u.username, names[i].as_str());
        assert_eq!((u.level, u.created_at), (NEW_USER_LEVEL, now()));
        let list = a.addresses(user).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, address);
        assert!(list[0].is_default);
        assert_eq!((list[0].contact.as_str(), list[0].city.as_str()), ("bulk", "杭州市"));
        assert_eq!(a.address(user, address).await.unwrap(), list[0]);
    }
    let found = a.user_credentials("bulk-00007").await.unwrap().unwrap();
    assert_eq!((found.account.id, found.password_hash.as_str()), (ids[7].0, "!"));
    // Each user's address is their own.
    not_found(a.address(ids[0].0, ids[1].1).await);
    assert_eq!(a.users(None, Page::default()).await.unwrap().total, 12_000);

    // All or nothing: one taken name (in another letter case) or a name given twice.
    let taken = vec![Username::parse("fresh-1").unwrap(), Username::parse("BULK-00003").unwrap()];
    assert_eq!(conflict(a.create_users_in_bulk(&taken, "!", &home, now()).await), Conflict::UsernameTaken);
    let twice = vec![Username::parse("fresh-2").unwrap(), Username::parse("Fresh-2").unwrap()];
    assert_eq!(conflict(a.create_users_in_bulk(&twice, "!", &home, now()).await), Conflict::UsernameTaken);
    assert!(a.user_credentials("fresh-1").await.unwrap().is_none());
    assert!(a.user_credentials("fresh-2").await.unwrap().is_none());
    assert_eq!(a.users(None, Page::default()).await.unwrap().total, 12_000);
    assert!(a.create_users_in_bulk(&[], "!", &home, now()).await.unwrap().is_empty());
}

// ---- catalog -------------------------------------------------------------------------------

/// Brands are listed by `sort` then name; an update replaces the fields; an unknown brand is
/// `NotFound`.
pub async fn brands_are_listed_by_sort_then_name_and_can_be_updated(records: &Records) {
    let c = &records.catalog;
    let xiaomi = c.create_brand(&NewBrand::parse("Xiaomi", None, None, 1).unwrap(), now()).await.unwrap();
    let apple = NewBrand::parse("Apple", Some("https://img.example/a.png"), None, 1).unwrap();
    let apple = c.create_brand(&apple, now()).await.unwrap();
    let huawei = c.create_brand(&NewBrand::parse("华为", None, Some("h"), 0).unwrap(), now()).await.unwrap();
    assert_eq!(apple.letter.as_deref(), Some("A"));
    assert_eq!(apple.image_url.as_deref(), Some("https://img.example/a.png"));
    assert_eq!(huawei.letter.as_deref(), Some("H"));
    let ids = |b: Vec<Brand>| b.into_iter().map(|b| b.id).collect::<Vec<_>>();
    assert_eq!(ids(c.brands().await.unwrap()), [huawei.id, apple.id, xiaomi.id]);

    let renamed = NewBrand::parse("Apple Inc", None, None, 5).unwrap();
    let renamed = c.update_brand(apple.id, &renamed, now()).await.unwrap();
    assert_eq!((renamed.id, renamed.name.as_str(), renamed.sort, renamed.image_url), (apple.id, "Apple Inc", 5, None));
    assert_eq!(ids(c.brands().await.unwrap()), [huawei.id, xiaomi.id, apple.id]);
    not_found(c.update_brand(BrandId::from_raw(999), &NewBrand::parse("x", None, None, 0).unwrap(), now()).await);
}

/// A category's parent must exist.
pub async fn a_category_needs_an_existing_parent(records: &Records) {
    let c = &records.catalog;
    let root = c.create_category(&NewCategory::parse("数码", None, 1).unwrap(), now()).await.unwrap();
    let phones = c.create_category(&NewCategory::parse("手机", Some(root.id.get()), 0).unwrap(), now()).await.unwrap();
    assert_eq!(phones.parent_id, Some(root.id));
    assert_field(c.create_category(&NewCategory::parse("x", Some(999), 0).unwrap(), now()).await, "parent_id");
    let list = c.categories().await.unwrap();
    assert_eq!(list.iter().map(|x| x.id).collect::<Vec<_>>(), [phones.id, root.id]);
    not_found(c.update_category(CategoryId::from_raw(999), &NewCategory::parse("x", None, 0).unwrap(), now()).await);
}

/// A category's parent is never itself or one of its descendants: the tree has no cycles.
pub async fn a_category_cannot_become_its_own_descendant(records: &Records) {
    let c = &records.catalog;
    let cat = |name: &str, parent: Option<CategoryId>| NewCategory::parse(name, parent.map(|p| p.get()), 0).unwrap();
    let root = c.create_category(&cat("root", None), now()).await.unwrap();
    let child = c.create_category(&cat("child", Some(root.id)), now()).await.unwrap();
    let grandchild = c.create_category(&cat("grandchild", Some(child.id)), now()).await.unwrap();

    assert_field(c.update_category(root.id, &cat("root", Some(root.id)), now()).await, "parent_id");
    assert_field(c.update_category(root.id, &cat("root", Some(child.id)), now()).await, "parent_id");
    assert_field(c.update_category(root.id, &cat("root", Some(grandchild.id)), now()).await, "parent_id");
    assert_field(c.update_category(child.id, &cat("child", Some(grandchild.id)), now()).await, "parent_id");
    assert_field(c.update_category(child.id, &cat("child", Some(CategoryId::from_raw(999))), now()).await, "parent_id");

    // Moves that keep a tree are fine.
    let moved = c.update_category(grandchild.id, &cat("grandchild", Some(root.id)), now()).await.unwrap();
    assert_eq!(moved.parent_id, Some(root.id));
    let detached = c.update_category(child.id, &cat("child2", None), now()).await.unwrap();
    assert_eq!((detached.parent_id, detached.name.as_str()), (None, "child2"));
    let under = c.update_category(root.id, &cat("root", Some(child.id)), now()).await.unwrap();
    assert_eq!(under.parent_id, Some(child.id));
}

/// A product's brand and category must exist, on create and on update.
pub async fn a_product_of_an_unknown_brand_or_category_is_invalid(records: &Records) {
    let c = &records.catalog;
    let mut p = new_product("Phone", &[("black", 100, 1)]);
    p.brand_id = Some(BrandId::from_raw(999));
    p.category_id = Some(CategoryId::from_raw(999));
    let e = invalid(c.create_product(&p, now()).await);
    assert!(e.get("brand_id").is_some() && e.get("category_id").is_some(), "{e}");
    assert_eq!(c.products(None, Page::default()).await.unwrap().total, 0);

    let brand = c.create_brand(&NewBrand::parse("Huawei", None, None, 0).unwrap(), now()).await.unwrap();
    let category = c.create_category(&NewCategory::parse("Phones", None, 0).unwrap(), now()).await.unwrap();
    p.brand_id = Some(brand.id);
    p.category_id = Some(category.id);
    let product = c.create_product(&p, now()).await.unwrap();
    assert_eq!((product.brand_id, product.category_id), (Some(brand.id), Some(category.id)));

    let mut update = p.clone();
    update.brand_id = Some(BrandId::from_raw(998));
    update.skus[0].id = Some(product.skus[0].id);
    assert_field(c.update_product(product.id, &update, now()).await, "brand_id");
    assert_eq!(c.product(product.id).await.unwrap(), product);
}

/// A product keeps its fields and its SKUs in the order given; lists are newest first, paged,
/// optionally only products whose name contains the query in any letter case.
pub async fn a_product_is_stored_with_its_skus_in_order(records: &Records) {
    let c = &records.catalog;
    let images = vec!["https://img.example/1.jpg".to_owned(), "/static/2.jpg".to_owned()];
    let input = ProductInput {
        name: "Phone X",
        description: Some("fast"),
        image_urls: &images,
        skus: vec![
            SkuInput { id: None, name: "black", spec: Some("black / 256G"), price_cents: 19_900, stock: 5 },
            SkuInput { id: None, name: "white", spec: None, price_cents: 18_800, stock: 0 },
        ],
        ..Default::default()
    };
    let phone = c.create_product(&NewProduct::parse(&input).unwrap(), now()).await.unwrap();
    assert_eq!(phone.name, "Phone X");
    assert_eq!(phone.description, "fast");
    assert_eq!(phone.image_urls, images);
    let skus: Vec<_> =
        phone.skus.iter().map(|s| (s.name.as_str(), s.spec.as_str(), s.price.cents(), s.stock)).collect();
    assert_eq!(skus, [("black", "black / 256G", 19_900, 5), ("white", "", 18_800, 0)]);
    assert!(phone.skus.iter().all(|s| !s.seckill));
    assert_ne!(phone.skus[0].id, phone.skus[1].id);
    assert_eq!(c.product(phone.id).await.unwrap(), phone);

    let laptop = c.create_product(&new_product("Laptop", &[("silver", 500, 1)]), now()).await.unwrap();
    let pro = c.create_product(&new_product("Phone Pro", &[("gold", 900, 1)]), now()).await.unwrap();
    let first = c.products(None, Page::new(Some(1), Some(2))).await.unwrap();
    assert_eq!(first.items.iter().map(|p| p.id).collect::<Vec<_>>(), [pro.id, laptop.id]);
    assert_eq!(first.total, 3);
    assert_eq!(first.items[0], pro);
    let phones = c.products(Some("phone"), Page::default()).await.unwrap();
    assert_eq!(phones.items.iter().map(|p| p.id).collect::<Vec<_>>(), [pro.id, phone.id]);
    assert_eq!(phones.total, 2);
    assert_eq!(phones.items[1], phone);
}

/// An update changes listed SKUs in place (same id), adds SKUs without an id and removes those
/// left out; a removed SKU is no longer offered to new activities.
pub async fn updating_a_product_updates_adds_and_removes_skus(records: &Records) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    let (black, white) = (&shop.phone.skus[0], &shop.phone.skus[1]);
    let mut update = new_product("Phone 2", &[("x", 1, 1)]);
    update.description = "new".into();
    update.skus = vec![sku_update(Some(white.id), "white pearl", 17_700, 42), sku_update(None, "blue", 16_600, 7)];
    let updated = c.update_product(shop.phone.id, &update, now()).await.unwrap();
    assert_eq!((updated.id, updated.name.as_str(), updated.description.as_str()), (shop.phone.id, "Phone 2", "new"));
    assert_eq!(updated.skus.len(), 2);
    assert_eq!(updated.skus[0].id, white.id);
    assert_eq!(
        (updated.skus[0].name.as_str(), updated.skus[0].price.cents(), updated.skus[0].stock),
        ("white pearl", 17_700, 42)
    );
    assert_eq!(updated.skus[1].name, "blue");
    assert!(updated.skus.iter().all(|s| s.id != black.id));
    assert_eq!(c.product(shop.phone.id).await.unwrap(), updated);

    let mut sale = shop.sale(&[&shop.morning], day(11), day(12));
    sale.skus[0].sku_id = black.id;
    let e = invalid(c.create_activity(&sale, now()).await);
    assert!(e.get("skus[0].sku_id").is_some(), "{e}");
}

/// A SKU id of another product (or of none) is `Invalid`, and nothing changes.
pub async fn a_sku_of_another_product_cannot_be_updated_through_this_one(records: &Records) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    let mut update = new_product("Phone", &[("x", 1, 1)]);
    update.skus = vec![
        sku_update(Some(shop.phone.skus[0].id), "black", 19_900, 500),
        sku_update(Some(shop.laptop.skus[0].id), "stolen", 1, 1),
    ];
    let e = invalid(c.update_product(shop.phone.id, &update, now()).await);
    assert!(e.get("skus[1].id").is_some(), "{e}");
    update.skus[1].id = Some(SkuId::from_raw(9_999));
    let e = invalid(c.update_product(shop.phone.id, &update, now()).await);
    assert!(e.get("skus[1].id").is_some(), "{e}");
    assert_eq!(c.product(shop.phone.id).await.unwrap(), shop.phone);
    assert_eq!(c.product(shop.laptop.id).await.unwrap(), shop.laptop);
}

/// A SKU that an activity uses cannot be removed from its product.
pub async fn a_sku_used_by_an_activity_cannot_be_removed(records: &Records) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    shop.create(&shop.sale(&[&shop.morning], day(11), day(12))).await;
    let (black, white) = (&shop.phone.skus[0], &shop.phone.skus[1]);
    let mut update = new_product("Phone", &[("x", 1, 1)]);
    update.skus = vec![sku_update(Some(white.id), "white", 19_900, 500)];
    assert_field(c.update_product(shop.phone.id, &update, now()).await, "skus");
    assert_eq!(c.product(shop.phone.id).await.unwrap(), shop.phone);
    // The unused one can go.
    update.skus = vec![sku_update(Some(black.id), "black", 19_900, 500)];
    let updated = c.update_product(shop.phone.id, &update, now()).await.unwrap();
    assert_eq!(updated.skus.iter().map(|s| s.id).collect::<Vec<_>>(), [black.id]);
}

/// Unknown products are `NotFound`.
pub async fn an_unknown_product_is_not_found(records: &Records) {
    let c = &records.catalog;
    not_found(c.product(ProductId::from_raw(999)).await);
    not_found(c.update_product(ProductId::from_raw(999), &new_product("x", &[("a", 1, 1)]), now()).await);
}

// ---- time slots ----------------------------------------------------------------------------

/// Enabled slots may touch but never overlap; a disabled slot neither blocks nor is blocked.
pub async fn enabled_slots_may_touch_but_not_overlap(records: &Records) {
    let c = &records.catalog;
    let ten = c.create_slot(&new_slot("10点场", "10:00", "12:00", true), now()).await.unwrap();
    assert_eq!((ten.name.as_str(), ten.span, ten.enabled), ("10点场", span("10:00", "12:00"), true));
    c.create_slot(&new_slot("12点场", "12:00", "14:00", true), now()).await.unwrap();
    c.create_slot(&new_slot("早场", "08:00", "10:00", true), now()).await.unwrap();
    let late = c.create_slot(&new_slot("夜场", "22:00", "24:00", true), now()).await.unwrap();
    assert_eq!(late.span.end(), SlotTime::END_OF_DAY);

    let overlap = c.create_slot(&new_slot("x", "11:59", "12:00", true), now()).await;
    assert_eq!(conflict(overlap), Conflict::SlotOverlap { slot_id: ten.id, name: "10点场".into() });
    let inside = c.create_slot(&new_slot("x", "10:30", "11:00", true), now()).await;
    assert_eq!(conflict(inside), Conflict::SlotOverlap { slot_id: ten.id, name: "10点场".into() });

    let off = c.create_slot(&new_slot("off", "10:30", "13:00", false), now()).await.unwrap();
    assert!(!off.enabled);
    // A disabled slot over an enabled one, and an enabled one over a disabled one.
    c.create_slot(&new_slot("over off", "14:00", "16:00", false), now()).await.unwrap();
    c.create_slot(&new_slot("16点场", "15:00", "18:00", true), now()).await.unwrap();
    assert_eq!(c.slots().await.unwrap().len(), 7);
}

/// An update is held to the same rule, without conflicting with the slot's own old span.
pub async fn a_slot_update_may_not_overlap_another_enabled_slot(records: &Records) {
    let c = &records.catalog;
    let ten = c.create_slot(&new_slot("10点场", "10:00", "12:00", true), now()).await.unwrap();
    let two = c.create_slot(&new_slot("14点场", "14:00", "16:00", true), now()).await.unwrap();
    let off = c.create_slot(&new_slot("off", "11:00", "15:00", false), now()).await.unwrap();

    let wider = c.update_slot(ten.id, &new_slot("10点场", "09:00", "13:00", true), now()).await.unwrap();
    assert_eq!((wider.id, wider.span), (ten.id, span("09:00", "13:00")));
    let into_two = c.update_slot(ten.id, &new_slot("10点场", "09:00", "14:30", true), now()).await;
    assert_eq!(conflict(into_two), Conflict::SlotOverlap { slot_id: two.id, name: "14点场".into() });
    // Switching on a slot that overlaps an enabled one is refused too.
    assert!(matches!(
        conflict(c.update_slot(off.id, &new_slot("off", "11:00", "15:00", true), now()).await),
        Conflict::SlotOverlap { .. }
    ));
    // A disabled slot may overlap anything.
    c.update_slot(off.id, &new_slot("off2", "08:00", "20:00", false), now()).await.unwrap();
    // Nothing refused was kept.
    let slots = c.slots().await.unwrap();
    let ten_now = slots.iter().find(|s| s.id == ten.id).unwrap();
    assert_eq!(ten_now.span, span("09:00", "13:00"));
    not_found(c.update_slot(SlotId::from_raw(999), &new_slot("x", "01:00", "02:00", true), now()).await);
}

/// Slots are listed by `sort`, then start.
pub async fn slots_are_listed_by_sort_then_start(records: &Records) {
    let c = &records.catalog;
    let mk = |name: &str, start: &str, end: &str, sort: i32| NewTimeSlot { sort, ..new_slot(name, start, end, true) };
    let a = c.create_slot(&mk("a", "20:00", "22:00", 0), now()).await.unwrap();
    let b = c.create_slot(&mk("b", "08:00", "10:00", 1), now()).await.unwrap();
    let d = c.create_slot(&mk("d", "10:00", "12:00", 0), now()).await.unwrap();
    let ids: Vec<SlotId> = c.slots().await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(ids, [d.id, a.id, b.id]);
    assert_eq!(c.slots().await.unwrap()[2].sort, 1);
}

/// A slot used by an activity that has not finished — enabled or not — cannot be deleted;
/// from the instant the activity ends, it can.
pub async fn a_slot_used_by_an_unfinished_activity_cannot_be_deleted(records: &Records) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    let mut off = shop.laptop_sale(&[&shop.evening], day(20), day(21));
    off.enabled = false;
    let sale = shop.create(&shop.sale(&[&shop.morning], day(11), day(12))).await;
    let disabled = shop.create(&off).await;

    assert_eq!(conflict(c.delete_slot(shop.morning.id, now()).await), Conflict::SlotInUse { activity_id: sale.id });
    let last_moment = at("2026-11-11T23:59:59+08:00");
    assert_eq!(
        conflict(c.delete_slot(shop.morning.id, last_moment).await),
        Conflict::SlotInUse { activity_id: sale.id }
    );
    assert_eq!(
        conflict(c.delete_slot(shop.evening.id, day(15)).await),
        Conflict::SlotInUse { activity_id: disabled.id }
    );
    assert_eq!(c.slots().await.unwrap().len(), 2);

    c.delete_slot(shop.morning.id, sale.ends_at).await.unwrap();
    assert_eq!(c.slots().await.unwrap().iter().map(|s| s.id).collect::<Vec<_>>(), [shop.evening.id]);
    // A slot nobody uses goes at once.
    let spare = c.create_slot(&new_slot("spare", "13:00", "14:00", true), now()).await.unwrap();
    c.delete_slot(spare.id, now()).await.unwrap();
}

/// A deleted slot vanishes from the list, from overlap checks and from new activities, while
/// the finished activities that used it keep showing it.
pub async fn a_deleted_slot_is_gone_from_lists_checks_and_new_activities_but_finished_activities_keep_it(
    records: &Records,
) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    let sale = shop.create(&shop.sale(&[&shop.morning], day(11), day(12))).await;
    c.delete_slot(shop.morning.id, later()).await.unwrap();

    assert!(c.slots().await.unwrap().iter().all(|s| s.id != shop.morning.id));
    let kept = c.activity(sale.id).await.unwrap();
    assert_eq!(
        kept.slots.iter().map(|s| (s.id, s.name.as_str(), s.span)).collect::<Vec<_>>(),
        [(shop.morning.id, "10点场", span("10:00", "12:00"))]
    );
    assert!(kept.version > sale.version);

    // Its span is free again.
    c.create_slot(&new_slot("new 10点场", "10:00", "11:00", true), later()).await.unwrap();
    // New activities cannot use it.
    let e = invalid(c.create_activity(&shop.sale(&[&shop.morning], day(25), day(26)), later()).await);
    assert!(e.get("time_slot_ids").is_some(), "{e}");
    // It is gone for good.
    not_found(c.delete_slot(shop.morning.id, later()).await);
    not_found(c.update_slot(shop.morning.id, &new_slot("back", "05:00", "06:00", true), later()).await);
}

// ---- activities ----------------------------------------------------------------------------

/// A valid activity comes back with its slots (in the order given, as currently defined), its
/// SKUs with nothing sold, its rules and version 1.
pub async fn a_valid_activity_is_stored_with_its_slots_skus_and_rules(records: &Records) {
    let shop = Shop::open(records).await;
    let mut new = shop.sale(&[&shop.evening, &shop.morning], day(11), day(13));
    new.skus.push(NewActivitySku {
        sku_id: shop.phone.skus[1].id,
        seckill_price: Money::from_cents(19_900),
        stock: 500,
    });
    new.rules = PurchaseRules {
        total_limit: 3,
        single_limit: 2,
        min_level: 7,
        reservation_required: true,
        pay_timeout_secs: 60,
    };
    let a = records.catalog.create_activity(&new, now()).await.unwrap();

    assert_eq!(
        (a.name.as_str(), a.product_id, a.starts_at, a.ends_at),
        ("Double 11 phone", shop.phone.id, day(11), day(13))
    );
    assert_eq!(a.slots.iter().map(|s| s.id).collect::<Vec<_>>(), [shop.evening.id, shop.morning.id]);
    assert_eq!((a.slots[1].name.as_str(), a.slots[1].span, a.slots[1].enabled), ("10点场", shop.morning.span, true));
    let skus: Vec<_> = a.skus.iter().map(|s| (s.sku_id, s.seckill_price.cents(), s.stock, s.sold)).collect();
    assert_eq!(skus, [(shop.phone.skus[0].id, 9_900, 100, 0), (shop.phone.skus[1].id, 19_900, 500, 0)]);
    assert_eq!(a.rules, new.rules);
    assert!(a.enabled);
    assert_eq!(a.version, 1);
    assert_eq!((a.created_at, a.updated_at), (now(), now()));
    assert_eq!(records.catalog.activity(a.id).await.unwrap(), a);
    not_found(records.catalog.activity(ActivityId::from_raw(999)).await);
}

/// Windows are decided in the shop's zone: 10:00–12:00 Shanghai is 02:00–04:00 UTC.
pub async fn windows_are_judged_in_the_shop_time_zone(records: &Records) {
    let shop = Shop::open(records).await;
    // 00:00–03:00 UTC on the 11th covers 10:00–11:00 Shanghai time: one window.
    let utc_night = shop.sale(&[&shop.morning], at("2026-11-11T00:00:00Z"), at("2026-11-11T03:00:00Z"));
    records.catalog.create_activity(&utc_night, now()).await.unwrap();
    // 05:00–11:00 UTC is 13:00–19:00 in Shanghai: no window, though 10:00–11:00 UTC is inside.
    let utc_morning = shop.laptop_sale(&[&shop.morning], at("2026-11-11T05:00:00Z"), at("2026-11-11T11:00:00Z"));
    assert_field(records.catalog.create_activity(&utc_morning, now()).await, "time_slot_ids");
}

/// Every rule that needs the records is checked: SKUs of the product, prices and stock within
/// the SKU's, existing slots, at least one window, an existing product.
pub async fn an_activity_that_breaks_a_record_rule_is_invalid(records: &Records) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    let base = shop.sale(&[&shop.morning], day(11), day(12));

    let mut a = base.clone();
    a.skus[0].sku_id = shop.laptop.skus[0].id;
    assert_field(c.create_activity(&a, now()).await, "skus[0].sku_id");

    let mut a = base.clone();
    a.skus[0].seckill_price = Money::from_cents(19_901);
    assert_field(c.create_activity(&a, now()).await, "skus[0].seckill_price_cents");

    let mut a = base.clone();
    a.skus[0].stock = 501;
    assert_field(c.create_activity(&a, now()).await, "skus[0].stock");

    let mut a = base.clone();
    a.slot_ids.push(SlotId::from_raw(999));
    assert_field(c.create_activity(&a, now()).await, "time_slot_ids");

    let off = c.create_slot(&new_slot("off", "14:00", "16:00", false), now()).await.unwrap();
    let only_off = shop.sale(&[&off], day(11), day(12));
    assert_field(c.create_activity(&only_off, now()).await, "time_slot_ids");

    let mut a = base.clone();
    a.product_id = ProductId::from_raw(999);
    assert_field(c.create_activity(&a, now()).await, "product_id");

    assert!(c.activities(&ActivityQuery::default()).await.unwrap().is_empty());
    // A disabled slot beside an enabled one is fine: it just opens no window.
    c.create_activity(&shop.sale(&[&shop.morning, &off], day(11), day(12)), now()).await.unwrap();
}

/// A product sells in at most one enabled activity at any instant; other slots, other days and
/// other products do not conflict.
pub async fn a_product_sells_in_one_enabled_activity_at_a_time(records: &Records) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    let first = shop.create(&shop.sale(&[&shop.morning], day(11), day(12))).await;
    // Same days, another slot.
    let evening = shop.create(&shop.sale(&[&shop.evening], day(11), day(12))).await;
    // Same slot, the next day (touching dates).
    let next_day = shop.create(&shop.sale(&[&shop.morning], day(12), day(13))).await;
    // Another product, same slot and days.
    shop.create(&shop.laptop_sale(&[&shop.morning], day(11), day(12))).await;
    // Dates overlap `next_day`'s, windows do not: from noon on the 12th (its window is over)
    // to 11:00 on the 13th.
    shop.create(&shop.sale(&[&shop.morning], at("2026-11-12T12:00:00+08:00"), at("2026-11-13T11:00:00+08:00"))).await;

    let inside = shop.sale(&[&shop.morning], at("2026-11-11T10:30:00+08:00"), at("2026-11-11T11:00:00+08:00"));
    assert_eq!(
        conflict(c.create_activity(&inside, now()).await),
        Conflict::ProductInActivity { activity_id: first.id }
    );
    let long = shop.sale(&[&shop.evening], day(11), day(14));
    assert_eq!(
        conflict(c.create_activity(&long, now()).await),
        Conflict::ProductInActivity { activity_id: evening.id }
    );
    let late_morning = shop.sale(&[&shop.morning], at("2026-11-12T11:00:00+08:00"), at("2026-11-12T23:00:00+08:00"));
    let e = conflict(c.create_activity(&late_morning, now()).await);
    assert_eq!(e, Conflict::ProductInActivity { activity_id: next_day.id });
    assert_eq!(
        c.activities(&ActivityQuery { product_id: Some(shop.phone.id), ..Default::default() }).await.unwrap().len(),
        4
    );
}

/// A disabled activity neither conflicts nor is conflicted with; switching it on re-checks.
pub async fn a_disabled_activity_does_not_block_and_enabling_rechecks(records: &Records) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    let first = shop.create(&shop.sale(&[&shop.morning], day(11), day(12))).await;
    let mut twin = shop.sale(&[&shop.morning], day(11), day(12));
    twin.enabled = false;
    let twin = shop.create(&twin).await;
    assert!(!twin.enabled);

    let on = c.set_activity_enabled(twin.id, true, now()).await;
    assert_eq!(conflict(on), Conflict::ProductInActivity { activity_id: first.id });
    assert!(!c.activity(twin.id).await.unwrap().enabled);

    let off = c.set_activity_enabled(first.id, false, now()).await.unwrap();
    assert!(!off.enabled);
    let on = c.set_activity_enabled(twin.id, true, now()).await.unwrap();
    assert!(on.enabled);
    let back = c.set_activity_enabled(first.id, true, now()).await;
    assert_eq!(conflict(back), Conflict::ProductInActivity { activity_id: twin.id });

    // An update that keeps an activity disabled is not checked either.
    let mut renamed = shop.sale(&[&shop.morning], day(11), day(12));
    renamed.enabled = false;
    renamed.name = "still off".into();
    assert_eq!(c.update_activity(first.id, &renamed, now()).await.unwrap().name, "still off");
    renamed.enabled = true;
    assert_eq!(
        conflict(c.update_activity(first.id, &renamed, now()).await),
        Conflict::ProductInActivity { activity_id: twin.id }
    );
    not_found(c.set_activity_enabled(ActivityId::from_raw(999), true, now()).await);
}

/// Switching on a slot that two enabled activities of one product share would make them sell
/// at once: refused like any other change that breaks the rule, and nothing changes.
pub async fn enabling_a_slot_that_makes_two_activities_of_a_product_overlap_is_a_conflict(records: &Records) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    let night = c.create_slot(&new_slot("夜场", "22:00", "23:00", false), now()).await.unwrap();
    let a = shop.create(&shop.sale(&[&shop.morning, &night], day(11), day(12))).await;
    let b = shop.create(&shop.sale(&[&shop.evening, &night], day(11), day(12))).await;

    let on = new_slot("夜场", "22:00", "23:00", true);
    let e = conflict(c.update_slot(night.id, &on, now()).await);
    assert!(
        e == Conflict::ProductInActivity { activity_id: a.id }
            || e == Conflict::ProductInActivity { activity_id: b.id },
        "{e:?}"
    );
    assert!(c.slots().await.unwrap().iter().any(|s| s.id == night.id && !s.enabled));
    assert_eq!(c.activity(a.id).await.unwrap().version, a.version);

    c.set_activity_enabled(b.id, false, now()).await.unwrap();
    assert!(c.update_slot(night.id, &on, now()).await.unwrap().enabled);
}

/// `version` moves on every change of an activity and of any slot it uses, and only then.
pub async fn every_change_of_an_activity_or_its_slots_moves_its_version(records: &Records) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    let a = shop.create(&shop.sale(&[&shop.morning], day(11), day(12))).await;
    let other = shop.create(&shop.laptop_sale(&[&shop.evening], day(11), day(12))).await;
    let mut v = a.version;

    let t1 = at("2026-11-02T09:00:00+08:00");
    let updated = c.update_activity(a.id, &shop.sale(&[&shop.morning], day(11), day(13)), t1).await.unwrap();
    assert!(updated.version > v);
    assert_eq!((updated.created_at, updated.updated_at), (a.created_at, t1));
    v = updated.version;

    let off = c.set_activity_enabled(a.id, false, now()).await.unwrap();
    assert!(off.version > v);
    v = off.version;
    let on = c.set_activity_enabled(a.id, true, now()).await.unwrap();
    assert!(on.version > v);
    v = on.version;

    let moved = c.update_slot(shop.morning.id, &new_slot("10点场", "10:00", "11:30", true), now()).await.unwrap();
    let after_slot = c.activity(a.id).await.unwrap();
    assert!(after_slot.version > v);
    assert_eq!(after_slot.slots[0].span, moved.span);
    assert_eq!(c.activity(other.id).await.unwrap().version, other.version);

    let off_slot = c.update_slot(shop.evening.id, &new_slot("20点场", "20:00", "22:00", false), now()).await.unwrap();
    let other_now = c.activity(other.id).await.unwrap();
    assert!(other_now.version > other.version);
    assert!(!other_now.slots[0].enabled && !off_slot.enabled);
    assert_eq!(c.activity(a.id).await.unwrap().version, after_slot.version);
}

/// An update replaces the definition (slots, SKUs, rules, name) under the create rules; it
/// does not conflict with its own old definition.
pub async fn an_update_replaces_the_definition_under_the_same_rules(records: &Records) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    let a = shop.create(&shop.sale(&[&shop.morning], day(11), day(12))).await;
    let b = shop.create(&shop.sale(&[&shop.evening], day(12), day(13))).await;

    let mut new = shop.sale(&[&shop.evening, &shop.morning], day(11), day(12));
    new.name = "renamed".into();
    new.skus = vec![
        NewActivitySku { sku_id: shop.phone.skus[1].id, seckill_price: Money::from_cents(100), stock: 30 },
        NewActivitySku { sku_id: shop.phone.skus[0].id, seckill_price: Money::from_cents(200), stock: 50 },
    ];
    new.rules.total_limit = 5;
    let updated = c.update_activity(a.id, &new, now()).await.unwrap();
    assert_eq!((updated.id, updated.name.as_str(), updated.rules.total_limit), (a.id, "renamed", 5));
    assert_eq!(updated.slots.iter().map(|s| s.id).collect::<Vec<_>>(), [shop.evening.id, shop.morning.id]);
    let skus: Vec<_> = updated.skus.iter().map(|s| (s.sku_id, s.seckill_price.cents(), s.stock, s.sold)).collect();
    assert_eq!(skus, [(shop.phone.skus[1].id, 100, 30, 0), (shop.phone.skus[0].id, 200, 50, 0)]);
    assert_eq!(c.activity(a.id).await.unwrap(), updated);

    // Growing into b's days and slot conflicts with b.
    let grown = shop.sale(&[&shop.evening], day(11), day(13));
    assert_eq!(
        conflict(c.update_activity(a.id, &grown, now()).await),
        Conflict::ProductInActivity { activity_id: b.id }
    );
    // The record rules hold on update too.
    let mut bad = shop.sale(&[&shop.morning], day(11), day(12));
    bad.skus[0].stock = 501;
    assert_field(c.update_activity(a.id, &bad, now()).await, "skus[0].stock");
    // Another product is fine while nothing is sold.
    let laptop = c.update_activity(a.id, &shop.laptop_sale(&[&shop.morning], day(11), day(12)), now()).await.unwrap();
    assert_eq!(laptop.product_id, shop.laptop.id);
    assert_eq!(c.activity(a.id).await.unwrap(), laptop);
    not_found(
        c.update_activity(ActivityId::from_raw(999), &shop.sale(&[&shop.morning], day(20), day(21)), now()).await,
    );
}

/// Activities are listed by `starts_at` then id, optionally only those not finished by an
/// instant, or of one product.
pub async fn activities_are_listed_by_start_and_filtered(records: &Records) {
    let shop = Shop::open(records).await;
    let c = &records.catalog;
    let late = shop.create(&shop.laptop_sale(&[&shop.morning], day(13), day(14))).await;
    let early = shop.create(&shop.sale(&[&shop.morning], day(11), day(12))).await;
    let middle = shop.create(&shop.sale(&[&shop.evening], day(12), day(13))).await;
    let same_start = shop.create(&shop.laptop_sale(&[&shop.evening], day(12), day(13))).await;
    let ids =
        |q: ActivityQuery| async move { c.activities(&q).await.unwrap().into_iter().map(|a| a.id).collect::<Vec<_>>() };

    assert_eq!(ids(ActivityQuery::default()).await, [early.id, middle.id, same_start.id, late.id]);
    // `ends_at > ends_after`: `early` ends exactly at midnight starting the 12th.
    let q = ActivityQuery { ends_after: Some(day(12)), ..Default::default() };
    assert_eq!(ids(q).await, [middle.id, same_start.id, late.id]);
    let q = ActivityQuery { ends_after: Some(day(12)), product_id: Some(shop.phone.id) };
    assert_eq!(ids(q).await, [middle.id]);
    let q = ActivityQuery { product_id: Some(shop.laptop.id), ..Default::default() };
    assert_eq!(ids(q).await, [same_start.id, late.id]);
    let listed = c.activities(&ActivityQuery::default()).await.unwrap();
    assert_eq!(listed[0], early);
    assert_eq!(listed[1].slots[0].id, shop.evening.id);
    assert!(ids(ActivityQuery { ends_after: Some(later()), ..Default::default() }).await.is_empty());
}

/// Order counts list only activities that have orders.
pub async fn activities_without_orders_have_no_order_counts(records: &Records) {
    let shop = Shop::open(records).await;
    let a = shop.create(&shop.sale(&[&shop.morning], day(11), day(12))).await;
    assert!(records.catalog.order_counts(&[a.id]).await.unwrap().is_empty());
    assert!(records.catalog.order_counts(&[]).await.unwrap().is_empty());
}

// ---- races ---------------------------------------------------------------------------------

/// 16 concurrent creates of overlapping activities for one product: exactly one wins, every
/// other one is told which activity holds the product.
pub async fn only_one_of_many_concurrent_activities_for_a_product_is_created(records: &Records) {
    let shop = Shop::open(records).await;
    let tasks: Vec<_> = (0..16i64)
        .map(|i| {
            let catalog = records.catalog.clone();
            let mut new = shop.sale(&[&shop.morning], day(11) + SignedDuration::from_mins(i), day(12));
            new.name = format!("rush {i}");
            tokio::spawn(async move { catalog.create_activity(&new, now()).await })
        })
        .collect();
    let results: Vec<_> = futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    let winners: Vec<&Activity> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = winners[0].id;
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, StoreError::Conflict(Conflict::ProductInActivity { activity_id }) if *activity_id == winner),
                "{e:?}"
            );
        }
    }
    let q = ActivityQuery { product_id: Some(shop.phone.id), ..Default::default() };
    assert_eq!(records.catalog.activities(&q).await.unwrap().len(), 1);
}

/// 16 concurrent creates of mutually overlapping enabled slots: exactly one wins.
pub async fn only_one_of_many_concurrent_overlapping_slots_is_created(records: &Records) {
    let tasks: Vec<_> = (0..16u16)
        .map(|i| {
            let catalog = records.catalog.clone();
            let from = SlotTime::from_minutes(600 + i).unwrap();
            let until = SlotTime::from_minutes(660 + i).unwrap();
            let new = NewTimeSlot {
                name: format!("slot {i}"),
                span: SlotSpan::new(from, until).unwrap(),
                enabled: true,
                sort: 0,
            };
            tokio::spawn(async move { catalog.create_slot(&new, now()).await })
        })
        .collect();
    let results: Vec<_> = futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    let winners: Vec<&TimeSlot> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, StoreError::Conflict(Conflict::SlotOverlap { slot_id, .. }) if *slot_id == winners[0].id),
                "{e:?}"
            );
        }
    }
    assert_eq!(records.catalog.slots().await.unwrap().len(), 1);
}

// ---- health --------------------------------------------------------------------------------

/// Fresh records answer a ping.
pub async fn the_records_answer_a_ping(records: &Records) {
    records.health.ping().await.unwrap();
}

#[cfg(test)]
mod tests {
    /// Every `pub async fn` case of this file is listed in `conformance_tests!`, so no case is
    /// written and silently never run.
    #[test]
    fn every_case_is_instantiated_by_the_macro() {
        let source = include_str!("conformance.rs");
        for (file, list) in [
            (source, "@cases $make;"),
            (include_str!("conformance/rush.rs"), "@rush $make;"),
            (include_str!("conformance/orders.rs"), "@orders $make;"),
            (include_str!("conformance/search.rs"), "@search $make;"),
        ] {
            let (_, listed) = source.split_once(list).unwrap();
            let (listed, _) = listed.split_once(");").unwrap();
            let cases: Vec<&str> = file
                .lines()
                .filter_map(|l| l.strip_prefix("pub async fn "))
                .map(|l| l.split('(').next().unwrap())
                .collect();
            assert!(cases.len() > 5);
            for case in &cases {
                assert!(listed.contains(&format!("{case},")), "{case} is not in conformance_tests!");
            }
            assert_eq!(listed.matches(',').count(), cases.len());
        }
    }
}
