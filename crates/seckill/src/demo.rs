//! `seckill demo`: a shop to look at in one command. Fresh data under `<data_dir>/demo` on every
//! start: three brands, categories, products with SKUs, two daily time slots, a sale opening
//! about a minute after start and another one tomorrow, an operator and a shopper.

use std::sync::Arc;

use anyhow::Context as _;
use rand::Rng as _;
use rand::distr::Alphanumeric;
use seckill_domain::activity::{ActivityInput, ActivitySkuInput, NewActivity};
use seckill_domain::catalog::{NewBrand, NewCategory, NewProduct, ProductInput, SkuInput};
use seckill_domain::clock::{Clock, SystemClock};
use seckill_domain::slot::{NewTimeSlot, SlotTime};
use seckill_domain::user::{AddressInput, NewAddress, NewUser};
use seckill_domain::{TimeZone, Timestamp};
use seckill_server::auth::Passwords;
use seckill_store::Records;

use crate::cli::{create_admin, shutdown_signal};
use crate::launch::Server;
use crate::settings::Settings;

/// The demo operator's login name.
pub const DEMO_ADMIN: &str = "admin";
/// The demo shopper's login name.
pub const DEMO_SHOPPER: &str = "demo";

/// What the demo seeded, for the banner and for tests.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub admin_password: String,
    pub shopper_password: String,
    /// The sale opening about a minute after start.
    pub flash_activity: i64,
    pub flash_opens_at: Timestamp,
    pub flash_product: String,
    pub flash_price_cents: i64,
    pub flash_list_price_cents: i64,
    pub flash_stock: u32,
    /// The sale opening tomorrow.
    pub later_activity: i64,
}

/// Runs the demo until Ctrl-C.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let mut settings = settings.clone();
    settings.data_dir = settings.data_dir.join("demo");
    // The demo always runs the embedded shape, whatever the configuration names.
    settings.database = crate::settings::DatabaseUrl::Sqlite(settings.data_dir.join("seckill.db"));
    settings.redis_url = None;
    reset_dir(&settings.data_dir)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let server = match Server::start(&settings, clock.clone()).await {
        Ok(s) => s,
        Err(e) if is_addr_in_use(&e) => {
            eprintln!("seckill demo: {} is busy; using a free port instead", settings.listen);
            settings.listen.set_port(0);
            Server::start(&settings, clock.clone()).await?
        }
        Err(e) => return Err(e),
    };
    let passwords = Passwords::new(settings.password_hashing);
    let seeded = seed(server.records(), &passwords, &settings.timezone, clock.now()).await?;
    print_banner(&server, &settings, &seeded);
    server.run_until(shutdown_signal()).await
}

fn is_addr_in_use(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse))
}

fn reset_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot clear the demo data in {}", dir.display())),
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn random_password() -> String {
    rand::rng().sample_iter(Alphanumeric).take(16).map(char::from).collect()
}

/// Seeds the demo catalog through the ports, as an operator would, relative to `now` in `tz`.
pub async fn seed(records: &Records, passwords: &Passwords, tz: &TimeZone, now: Timestamp) -> anyhow::Result<Seeded> {
    let admin_password = random_password();
    create_admin(records, passwords, DEMO_ADMIN, &admin_password, false, now).await?;

    let shopper_password = random_password();
    let shopper = NewUser::parse(DEMO_SHOPPER, &shopper_password, Some("13800138000"), None, Some("Demo"))
        .map_err(|e| anyhow::anyhow!("demo shopper: {e}"))?;
    let hash = passwords.hash(&shopper_password).await.context("cannot hash the password")?;
    let user = records.accounts.create_user(&shopper, &hash, now).await.context("demo shopper")?;
    let address = NewAddress::parse(&AddressInput {
        contact: "张三",
        phone: "13800138000",
        province: "浙江省",
        city: "杭州市",
        district: "余杭区",
        detail: "文一西路 969 号",
        is_default: Some(true),
    })
    .map_err(|e| anyhow::anyhow!("demo address: {e}"))?;
    records.accounts.add_address(user.id, &address, now).await.context("demo address")?;

    let catalog = &records.catalog;
    let brand = |name: &str, letter: &str| NewBrand::parse(name, None, Some(letter), 0);
    let huawei = catalog.create_brand(&invalid(brand("华为 HUAWEI", "H"))?, now).await?;
    let apple = catalog.create_brand(&invalid(brand("Apple", "A"))?, now).await?;
    let xiaomi = catalog.create_brand(&invalid(brand("小米 Xiaomi", "X"))?, now).await?;
    let digital = catalog.create_category(&invalid(NewCategory::parse("数码 Electronics", None, 0))?, now).await?;
    let phones =
        catalog.create_category(&invalid(NewCategory::parse("手机 Phones", Some(digital.id.get()), 0))?, now).await?;
    let audio = catalog
        .create_category(&invalid(NewCategory::parse("耳机 Headphones", Some(digital.id.get()), 1))?, now)
        .await?;

    let product = |name: &'static str,
                   brand: i64,
                   category: i64,
                   description: &'static str,
                   image: &'static str,
                   skus: Vec<(&'static str, &'static str, i64, i64)>| {
        let skus = skus
            .into_iter()
            .map(|(name, spec, price_cents, stock)| SkuInput { id: None, name, spec: Some(spec), price_cents, stock })
            .collect();
        invalid(NewProduct::parse(&ProductInput {
            name,
            brand_id: Some(brand),
            category_id: Some(category),
            description: Some(description),
            image_urls: &[image.to_owned()],
            skus,
        }))
    };
    let mate = catalog
        .create_product(
            &product(
                "HUAWEI Mate 70 Pro",
                huawei.id.get(),
                phones.id.get(),
                "6.9\" OLED, Kirin 9020, 5500 mAh. Flash-sale price for the first buyers only.",
                "/static/img/phone.svg",
                vec![
                    ("曜石黑 12+256G", "black / 12GB / 256GB", 599_900, 1_000),
                    ("雪域白 12+512G", "white / 12GB / 512GB", 699_900, 500),
                ],
            )?,
            now,
        )
        .await?;
    catalog
        .create_product(
            &product(
                "MacBook Air 13\" M4",
                apple.id.get(),
                digital.id.get(),
                "M4 chip, 13.6\" Liquid Retina, 18 hours of battery.",
                "/static/img/laptop.svg",
                vec![("午夜色 16+512G", "midnight / 16GB / 512GB", 899_900, 800)],
            )?,
            now,
        )
        .await?;
    let buds = catalog
        .create_product(
            &product(
                "Xiaomi Buds 5",
                xiaomi.id.get(),
                audio.id.get(),
                "Hybrid noise cancelling, 39 h battery with the case.",
                "/static/img/earbuds.svg",
                vec![("陶瓷白", "white", 69_900, 2_000), ("曜石黑", "black", 69_900, 2_000)],
            )?,
            now,
        )
        .await?;

    // Two daily slots: the current hour and the next two (split at midnight if needed), then the
    // two hours after that. The flash sale's `starts_at` (a minute from now) clips its first
    // window, so it opens a minute after start whatever the hour.
    let local = now.to_zoned(tz.clone());
    let hour = u16::try_from(local.hour()).unwrap_or(0);
    let minutes = |h: u16| SlotTime::from_minutes(h.min(24) * 60);
    let first_end = (hour + 2).min(24);
    let (second_start, second_end) = if first_end >= 24 { (0, 2) } else { (first_end, (first_end + 2).min(24)) };
    let slot = |name: &str, start: u16, end: u16| -> anyhow::Result<NewTimeSlot> {
        let (start, end) = (minutes(start)?, minutes(end)?);
        invalid(NewTimeSlot::parse(name, &start.to_string(), &end.to_string(), true, 0))
    };
    let now_slot = catalog.create_slot(&slot(&format!("{hour:02}点场"), hour, first_end)?, now).await?;
    let next_slot =
        catalog.create_slot(&slot(&format!("{second_start:02}点场"), second_start, second_end)?, now).await?;

    let opens_at = now.checked_add(jiff::SignedDuration::from_secs(60))?.round(jiff::Unit::Second)?;
    let ends_at = opens_at.checked_add(jiff::SignedDuration::from_hours(48))?;
    let slot_ids = [now_slot.id.get(), next_slot.id.get()];
    let flash_skus = vec![
        ActivitySkuInput { sku_id: mate.skus[0].id.get(), seckill_price_cents: 399_900, stock: 100 },
        ActivitySkuInput { sku_id: mate.skus[1].id.get(), seckill_price_cents: 499_900, stock: 50 },
    ];
    let flash = catalog
        .create_activity(
            &invalid(NewActivity::parse(&ActivityInput {
                name: "Mate 70 Pro 限时秒杀",
                product_id: mate.id.get(),
                starts_at: &opens_at.to_string(),
                ends_at: &ends_at.to_string(),
                time_slot_ids: &slot_ids,
                skus: flash_skus,
                total_limit: 2,
                single_limit: 1,
                pay_timeout_secs: Some(15 * 60),
                ..Default::default()
            }))?,
            now,
        )
        .await
        .context("demo flash sale")?;

    let tomorrow = now.checked_add(jiff::SignedDuration::from_hours(24))?;
    let later_ends = tomorrow.checked_add(jiff::SignedDuration::from_hours(48))?;
    let later = catalog
        .create_activity(
            &invalid(NewActivity::parse(&ActivityInput {
                name: "Buds 5 预约秒杀",
                product_id: buds.id.get(),
                starts_at: &tomorrow.round(jiff::Unit::Second)?.to_string(),
                ends_at: &later_ends.round(jiff::Unit::Second)?.to_string(),
                time_slot_ids: &slot_ids,
                skus: buds
                    .skus
                    .iter()
                    .map(|s| ActivitySkuInput { sku_id: s.id.get(), seckill_price_cents: 19_900, stock: 200 })
                    .collect(),
                total_limit: 1,
                single_limit: 1,
                reservation_required: Some(true),
                ..Default::default()
            }))?,
            now,
        )
        .await
        .context("demo reservation sale")?;

    Ok(Seeded {
        admin_password,
        shopper_password,
        flash_activity: flash.id.get(),
        flash_opens_at: opens_at,
        flash_product: mate.name.clone(),
        flash_price_cents: 399_900,
        flash_list_price_cents: mate.skus[0].price.cents(),
        flash_stock: 150,
        later_activity: later.id.get(),
    })
}

/// Demo inputs are ours; a validation error here is a bug worth a clear message.
fn invalid<T>(r: Result<T, seckill_domain::validation::FieldErrors>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("demo data is invalid: {e}"))
}

fn print_banner(server: &Server, settings: &Settings, s: &Seeded) {
    let base = server.base_url();
    let opens_local = s.flash_opens_at.to_zoned(settings.timezone.clone()).strftime("%H:%M:%S %Z");
    let yuan = |c: i64| format!("¥{}.{:02}", c / 100, c % 100);
    println!();
    println!("  seckill demo — embedded shape, data in {} (recreated on every start)", settings.data_dir.display());
    println!();
    println!(
        "  Sale #{}: {} — {} units at {} (list {}), opens at {} (in about a minute)",
        s.flash_activity,
        s.flash_product,
        s.flash_stock,
        yuan(s.flash_price_cents),
        yuan(s.flash_list_price_cents),
        opens_local
    );
    println!("  Sale #{}: Xiaomi Buds 5, reservation required, opens tomorrow", s.later_activity);
    println!();
    println!("  Shop          {base}/");
    println!("  The sale      {base}/seckill/{}", s.flash_activity);
    println!("  Console       {base}/admin");
    println!("  Shop API      {base}/api/activities");
    println!("  Sale status   {base}/api/activities/{}/status", s.flash_activity);
    println!("  OpenAPI       {base}/api/openapi.json");
    println!("  Metrics       {base}/metrics");
    println!();
    println!("  Operator      {DEMO_ADMIN} / {}", s.admin_password);
    println!("  Shopper       {DEMO_SHOPPER} / {}", s.shopper_password);
    println!();
    println!("  Try:");
    println!("    curl -s {base}/api/activities/{}/status", s.flash_activity);
    println!(
        "    curl -s -X POST {base}/api/admin/sessions -H 'content-type: application/json' -d '{{\"username\":\"{DEMO_ADMIN}\",\"password\":\"{}\"}}'",
        s.admin_password
    );
    println!();
    println!("  Ctrl-C stops the demo.");
    println!();
}
