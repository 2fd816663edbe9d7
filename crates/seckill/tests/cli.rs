//! The `seckill` binary as an operator runs it: configuration errors, `migrate`, `admin create`,
//! `config`, `serve` and `demo`, each as a child process over a temp data dir with
//! `SECKILL_*` variables only (the test's own environment is not inherited).
//!
//! Children are wrapped in the testkit's [`Running`], which kills them on drop, so a failing test
//! never leaves a server behind; their output is read line by line until the expected line, with
//! a bound.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};

use seckill_testkit::process::{Finished, Line, Running};
use serde_json::{Value, json};

/// `seckill` with a clean environment: the data dir, a free loopback port, cheap passwords.
fn seckill(data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seckill"));
    c.env_clear()
        .env("SECKILL_DATA_DIR", data_dir)
        .env("SECKILL_LISTEN", "127.0.0.1:0")
        .env("SECKILL_PASSWORD_HASHING", "fast-insecure")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs `seckill args…` over `data_dir` with extra `env` to completion.
fn run(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Finished {
    let mut c = seckill(data_dir);
    c.args(args).envs(env.iter().copied());
    Running::start(c).finish()
}

/// `seckill serve` (or `demo`) started, with the base URL it reports.
fn serve(command: Command) -> (Running, String) {
    let mut child = Running::start(command);
    let base = child.serving_url();
    (child, base)
}

async fn post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new().post(format!("{base}{path}")).json(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{base}{path}")).await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[test]
fn an_invalid_setting_stops_start_up_with_one_line_naming_the_key() {
    let cases = [
        ("SECKILL_LISTEN", "nope", "expected host:port"),
        ("SECKILL_TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("SECKILL_SECRET", "short", "at least 32 bytes"),
        ("SECKILL_RATE_LIMITS", "maybe", "expected on or off"),
        ("SECKILL_DATABASE_URL", "mysql://db/x", "sqlite://"),
        ("SECKILL_SESSION_TTL_SECS", "5", "between 60 and"),
        ("SECKILL_PASSWORD_HASHING", "none", "expected standard"),
        ("SECKILL_TYPO", "1", "not a seckill setting"),
    ];
    for command in ["serve", "migrate"] {
        for (key, value, reason) in cases {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("data");
            let done = run(&data, &[command], &[(key, value)]);
            let line = done.one_line_failure();
            assert!(line.contains(key), "{command} {key}={value}: the line names the key: {line}");
            assert!(line.contains(reason), "{command} {key}={value}: the line says why: {line}");
            assert!(done.stdout.is_empty(), "{:?}", done.stdout);
            assert!(!data.exists(), "{command} {key}: nothing is created before the settings are valid");
        }
    }
    // The secret is never echoed, not even when it is wrong.
    let dir = tempfile::tempdir().unwrap();
    let done = run(dir.path(), &["serve"], &[("SECKILL_SECRET", "hunter2-is-too-short")]);
    assert!(!done.one_line_failure().contains("hunter2"), "{:?}", done.stderr);
}

#[test]
fn redis_without_postgres_an_unreachable_database_and_a_busy_port_are_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let done = run(dir.path(), &["serve"], &[("SECKILL_REDIS_URL", "redis://127.0.0.1:6379")]);
    let line = done.one_line_failure();
    assert!(
        line.contains("SECKILL_REDIS_URL") && line.contains("cluster shape") && line.contains("postgres"),
        "{line}"
    );
    // Nothing listens on port 1; the password is never shown.
    let dir = tempfile::tempdir().unwrap();
    let done = run(dir.path(), &["serve"], &[("SECKILL_DATABASE_URL", "postgres://app:hunter2@127.0.0.1:1/seckill")]);
    let line = done.failure();
    assert!(line.contains("SECKILL_DATABASE_URL") && line.contains("postgres://app:***@127.0.0.1:1/seckill"), "{line}");
    assert!(done.stderr.iter().all(|l| !l.contains("hunter2")), "{:?}", done.stderr);
    // Another process holds the port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let done = run(dir.path(), &["serve"], &[("SECKILL_LISTEN", &addr)]);
    let line = done.failure();
    assert!(line.contains("SECKILL_LISTEN") && line.contains(&addr), "{line}");
}

#[test]
fn a_bad_configuration_file_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seckill.toml");
    std::fs::write(&file, "timezone = \"Mars/Olympus\"\n").unwrap();
    let done = run(&dir.path().join("data"), &["--config", file.to_str().unwrap(), "serve"], &[]);
    let line = done.one_line_failure();
    assert!(line.contains("timezone") && line.contains("seckill.toml"), "{line}");
    std::fs::write(&file, "lisen = \"127.0.0.1:0\"\n").unwrap();
    let done = run(&dir.path().join("data"), &["--config", file.to_str().unwrap(), "serve"], &[]);
    assert!(done.one_line_failure().contains("unknown key \"lisen\""), "{:?}", done.stderr);
    let missing = dir.path().join("missing.toml");
    let done = run(&dir.path().join("data"), &["--config", missing.to_str().unwrap(), "serve"], &[]);
    assert!(done.one_line_failure().contains("cannot read"), "{:?}", done.stderr);
    // The environment wins over the file.
    std::fs::write(&file, "timezone = \"Mars/Olympus\"\n").unwrap();
    let done = run(
        &dir.path().join("data"),
        &["--config", file.to_str().unwrap(), "config"],
        &[("SECKILL_TIMEZONE", "Asia/Shanghai")],
    );
    done.assert_success();
    let shown = done.stdout();
    let timezone = shown.lines().find(|l| l.trim_start().starts_with("timezone ") && l.contains(" = "));
    assert_eq!(timezone.map(|l| l.split(" = ").nth(1).unwrap_or("").trim()), Some("Asia/Shanghai"), "{shown}");
}

#[test]
fn migrate_creates_the_records_and_reports_the_migrations() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..2 {
        let done = run(dir.path(), &["migrate"], &[]);
        done.assert_success();
        let out = done.stdout();
        assert!(out.contains("up to date"), "round {round}: {out}");
        assert!(out.contains(&dir.path().join("seckill.db").display().to_string()), "names the records: {out}");
        assert!(
            done.stdout.iter().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "schema"]),
            "round {round}: lists migration 1: {out}"
        );
    }
    assert!(dir.path().join("seckill.db").is_file());
}

#[tokio::test]
async fn migrate_over_postgres_applies_the_migrations_once_and_admin_create_uses_them() {
    let database = seckill_testkit::postgres::empty_database().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("SECKILL_DATABASE_URL", database.url())];
    for round in 0..2 {
        let done = run(dir.path(), &["migrate"], &env);
        done.assert_success();
        let out = done.stdout();
        assert!(
            out.contains("up to date") && out.contains("postgres://seckill:***@127.0.0.1:"),
            "round {round}: {out}"
        );
        for (version, name) in [("1", "schema"), ("2", "search")] {
            assert!(
                done.stdout.iter().any(|l| l.split_whitespace().collect::<Vec<_>>() == [version, name]),
                "round {round}: lists migration {version}: {out}"
            );
        }
    }
    let done = run(dir.path(), &["admin", "create", "--username", "ops", "--password", "first passphrase"], &env);
    done.assert_success();
    assert!(!dir.path().join("seckill.db").exists(), "no SQLite file next to PostgreSQL records");
}

#[tokio::test]
async fn admin_create_creates_refuses_a_duplicate_and_resets_with_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let done = run(dir.path(), &["admin", "create", "--username", "ops", "--password", "first passphrase"], &[]);
    done.assert_success();
    assert_eq!(done.stdout, ["operator \"ops\" created"]);

    for name in ["ops", "OPS"] {
        let done = run(dir.path(), &["admin", "create", "--username", name, "--password", "second passphrase"], &[]);
        let line = done.failure();
        assert!(line.contains("already exists") && line.contains("--reset"), "{line}");
    }
    let done = run(dir.path(), &["admin", "create", "--username", "ops", "--password", "short"], &[]);
    let line = done.failure();
    assert!(line.contains("password") && line.contains("8 characters"), "{line}");
    assert!(!line.contains("short"), "the password itself is not echoed: {line}");
    let done = run(dir.path(), &["admin", "create", "--username", "o p", "--password", "long enough"], &[]);
    assert!(done.failure().contains("username"), "{:?}", done.stderr);

    // The password may come from the environment, to keep it out of shell history.
    let done = run(
        dir.path(),
        &["admin", "create", "--username", "ops", "--reset"],
        &[("SECKILL_ADMIN_PASSWORD", "second passphrase")],
    );
    done.assert_success();
    assert_eq!(done.stdout, ["operator \"ops\" password reset"]);

    // The server agrees: the new password opens the console, the old one no longer does.
    let (_server, base) = serve({
        let mut c = seckill(dir.path());
        c.arg("serve");
        c
    });
    let (status, body) =
        post(&base, "/api/admin/sessions", &json!({"username": "ops", "password": "second passphrase"})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        post(&base, "/api/admin/sessions", &json!({"username": "ops", "password": "first passphrase"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("BAD_CREDENTIALS")));
}

#[test]
fn config_shows_every_key_and_never_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "s3cr3t-0123456789-abcdefghij-0123456789";
    let done = run(
        dir.path(),
        &["config"],
        &[("SECKILL_SECRET", secret), ("SECKILL_DATABASE_URL", "postgres://app:hunter2@db:5432/seckill")],
    );
    done.assert_success();
    let out = done.stdout();
    assert!(!out.contains(secret), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
    assert!(out.lines().any(|l| l.trim_start().starts_with("secret ") && l.trim_end().ends_with("= [set]")), "{out}");
    assert!(out.contains("postgres://app:***@db:5432/seckill"), "{out}");
    for key in ["SECKILL_LISTEN", "SECKILL_DATA_DIR", "SECKILL_SECRET", "SECKILL_TIMEZONE", "SECKILL_RATE_LIMITS"] {
        assert!(out.contains(key), "{key} listed: {out}");
    }
    assert!(done.stderr.is_empty(), "{:?}", done.stderr);
    // Printing the configuration creates nothing.
    assert!(!dir.path().join("secret").exists());
}

#[tokio::test]
async fn serve_logs_its_bound_address_answers_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = serve({
        let mut c = seckill(dir.path());
        c.arg("serve");
        c
    });
    let port: u16 =
        base.strip_prefix("http://127.0.0.1:").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{base}"));
    assert_ne!(port, 0, "the bound port, not the configured 0");
    assert!(
        server.stderr.iter().any(|l| l.contains(&format!("sqlite://{}", dir.path().display()))),
        "{:?}",
        server.stderr
    );
    assert!(server.stderr.iter().any(|l| l.contains("INFO")), "logs go to stderr: {:?}", server.stderr);
    assert!(!server.stderr.iter().any(|l| l.contains('\u{1b}')), "no colour codes into a pipe: {:?}", server.stderr);

    assert_eq!(get(&base, "/healthz").await, (200, json!({"status": "ok"})));
    assert_eq!(get(&base, "/readyz").await, (200, json!({"status": "ready"})));
    assert!(dir.path().join("secret").is_file(), "the secret was generated into the data dir");

    // SIGTERM (to our child, by its id) stops it cleanly with exit status 0.
    let pid = server.child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill(1) runs");
    assert!(sent.success());
    let done = server.finish();
    assert!(done.status.success(), "{:?}: {:?}", done.status, done.stderr);
}

#[tokio::test]
async fn demo_prints_an_operator_password_that_works_and_a_sale_opening_in_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Running::start({
        let mut c = seckill(dir.path());
        c.arg("demo");
        c
    });
    let status_url = demo.wait_for("the sale status URL", |l| match l {
        Line::Out(l) => l.trim().strip_prefix("Sale status").map(|url| url.trim().to_owned()),
        Line::Err(_) => None,
    });
    let password = demo.wait_for("the operator's password", |l| match l {
        Line::Out(l) => {
            l.trim().strip_prefix("Operator").and_then(|rest| rest.split(" / ").nth(1)).map(|p| p.trim().to_owned())
        }
        Line::Err(_) => None,
    });
    assert_eq!(password.len(), 16, "{password}");
    let base = status_url.split("/api/").next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"), "{base}");
    assert!(dir.path().join("demo").join("seckill.db").is_file(), "demo data lives under <data_dir>/demo");

    let (status, body) = post(&base, "/api/admin/sessions", &json!({"username": "admin", "password": password})).await;
    assert_eq!(status, 200, "{body}");
    let (status, wrong) = post(&base, "/api/admin/sessions", &json!({"username": "admin", "password": "not-it"})).await;
    assert_eq!(status, 401, "{wrong}");

    let shopper = demo.wait_for("the shopper's password", |l| match l {
        Line::Out(l) => l.trim().strip_prefix("Shopper").map(|rest| rest.trim().to_owned()),
        Line::Err(_) => None,
    });
    let (name, shopper_password) = shopper.split_once(" / ").unwrap();
    let (status, body) = post(&base, "/api/sessions", &json!({"username": name, "password": shopper_password})).await;
    assert_eq!(status, 200, "the demo shopper signs in: {body}");

    let path = status_url.strip_prefix(&base).unwrap();
    let (_, time) = get(&base, "/api/time").await;
    let (code, sale) = get(&base, path).await;
    assert_eq!(code, 200, "{sale}");
    assert_eq!(sale["state"], "upcoming", "{sale}");
    let now: jiff::Timestamp = time["now"].as_str().unwrap().parse().unwrap();
    let opens: jiff::Timestamp = sale["next_window_start"].as_str().unwrap().parse().unwrap();
    let wait = opens.duration_since(now).as_secs_f64();
    assert!((50.0..=70.0).contains(&wait), "opens {wait} s after /api/time: {sale}");
    assert_eq!(sale["skus"].as_array().map(Vec::len), Some(2), "{sale}");

    // Ctrl-C (SIGINT, to our child by its id) stops the demo cleanly.
    let sent = Command::new("kill").args(["-INT", &demo.child.id().to_string()]).status().expect("kill(1) runs");
    assert!(sent.success());
    let done = demo.finish();
    assert!(done.status.success(), "{:?}: {:?}", done.status, done.stderr);
}

#[tokio::test]
async fn the_demo_moves_to_a_free_port_when_the_configured_one_is_busy() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Running::start({
        let mut c = seckill(dir.path());
        c.arg("demo").env("SECKILL_LISTEN", &addr);
        c
    });
    demo.wait_for("the note about the busy port", |l| match l {
        Line::Err(l) => l.contains(&addr).then_some(()).filter(|()| l.contains("busy")),
        Line::Out(_) => None,
    });
    let status_url = demo.wait_for("the sale status URL", |l| match l {
        Line::Out(l) => l.trim().strip_prefix("Sale status").map(|url| url.trim().to_owned()),
        Line::Err(_) => None,
    });
    assert!(!status_url.contains(&addr), "{status_url}");
    let (code, sale) = get(&status_url, "").await;
    assert_eq!((code, sale["state"].as_str()), (200, Some("upcoming")), "{sale}");
}

#[tokio::test]
async fn reconcile_compares_redis_with_postgres_and_needs_both() {
    let dir = tempfile::tempdir().unwrap();
    let line = run(dir.path(), &["reconcile"], &[]).failure().to_owned();
    assert!(line.contains("SECKILL_REDIS_URL"), "{line}");

    let database = seckill_testkit::postgres::fresh_database().await;
    let redis = seckill_testkit::redis::RedisServer::start().unwrap();
    let env = [("SECKILL_DATABASE_URL", database.url().to_owned()), ("SECKILL_REDIS_URL", redis.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = run(dir.path(), &["reconcile"], &env);
    done.assert_success();
    assert!(done.stdout().contains("0 activities compared") && done.stdout().contains("no drift"), "{}", done.stdout());

    // Redis unreachable: one line naming the key, and a server does not start either.
    let gone = [("SECKILL_DATABASE_URL", database.url()), ("SECKILL_REDIS_URL", "redis://127.0.0.1:1/")];
    let line = run(dir.path(), &["serve"], &gone).failure().to_owned();
    assert!(line.contains("SECKILL_REDIS_URL"), "{line}");
}

#[tokio::test]
async fn a_bench_configured_for_other_records_than_its_target_says_so_before_it_starts() {
    // The server keeps its records in one data dir; the bench is configured with another, so the
    // shoppers it creates and the invariants it reads would not be the server's.
    let (served, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(served.path(), &["admin", "create", "--username", "ops", "--password", "long passphrase"], &[])
        .assert_success();
    let (_server, base) = serve({
        let mut c = seckill(served.path());
        c.arg("serve");
        c
    });
    let bench = [
        "bench",
        "--target",
        &base,
        "--admin-user",
        "ops",
        "--admin-password",
        "long passphrase",
        "--users",
        "10",
        "--duration",
        "1s",
        "--quiet",
    ];
    let refused = run(other.path(), &bench, &[]);
    let line = refused.failure();
    assert!(line.contains("another secret") && line.contains("SECKILL_DATA_DIR"), "{line}");

    // Nothing was set up on the server: no activity was created.
    let (status, body) = get(&base, "/api/activities").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(0), "{body}");

    // With the server's own configuration the same command gets past the check (and runs).
    let done = run(served.path(), &bench, &[]);
    assert!(!done.stderr.iter().any(|l| l.contains("another secret")), "{:?}", done.stderr);
}

#[test]
fn a_repeated_sweep_runs_every_point_once_per_round_and_reports_medians() {
    // Two rounds of three points (a crowd on one SKU, then one and two SKUs), each point on a
    // fresh child server, each round with its own hello-world baseline.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("sweep.json");
    let report_arg = report.to_str().unwrap();
    let args = [
        "bench",
        "--sweep",
        "--sweep-users",
        "20",
        "--sweep-skus",
        "1,2",
        "--sweep-sku-users",
        "20",
        "--stock",
        "4",
        "--repeat",
        "2",
        "--baseline",
        "-c",
        "4",
        "--duration",
        "1s",
        "--quiet",
        "--report",
        report_arg,
    ];
    let mut c = seckill(dir.path());
    c.args(args);
    // Six runs of about four seconds each (the sale opens a few seconds after its set-up).
    let done = Running::start(c).finish_within(std::time::Duration::from_secs(180));
    done.assert_success();
    assert!(done.stdout().contains("median of 2 rounds"), "{}", done.stdout());
    let sweep: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(sweep["rounds"], 2);
    assert_eq!(sweep["baselines"].as_array().map(Vec::len), Some(2));
    assert_eq!(sweep["runs"].as_array().map(Vec::len), Some(6));
    let points = sweep["points"].as_array().unwrap();
    let labels: Vec<&str> = points.iter().map(|p| p["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["20 users", "1 SKU", "2 SKUs"]);
    let parts: Vec<&str> = points.iter().map(|p| p["part"].as_str().unwrap()).collect();
    assert_eq!(parts, ["users", "skus", "skus"]);
    let rate = |p: &Value, key: &str| p[key].as_f64().unwrap_or_else(|| panic!("{key} of {p}"));
    for p in points {
        assert_eq!(p["runs"], 2, "{p}");
        assert_eq!(p["invariants_hold"], true, "{p}");
        let (min, median, max) = (rate(p, "req_per_sec_min"), rate(p, "req_per_sec"), rate(p, "req_per_sec_max"));
        assert!(0.0 < min && min <= median && median <= max, "{p}");
        assert!(rate(p, "vs_baseline") > 0.0, "{p}");
    }
    // Each part of the sweep is measured against its own first point, median to median.
    assert_eq!(rate(&points[0], "relative_req_per_sec"), 1.0);
    assert_eq!(rate(&points[1], "relative_req_per_sec"), 1.0);
    let relative = rate(&points[2], "req_per_sec") / rate(&points[1], "req_per_sec");
    assert!((rate(&points[2], "relative_req_per_sec") - relative).abs() < 1e-9, "{points:?}");
}

/// State and parent of process `pid` from `/proc/PID/stat`, if it exists.
fn state_and_parent(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: the name may hold spaces and parentheses.
    let mut after = stat.rsplit_once(')')?.1.split_whitespace();
    Some((after.next()?.chars().next()?, after.next()?.parse().ok()?))
}

/// Whether `pid` is a process that has not exited (a zombie has).
fn running(pid: u32) -> bool {
    state_and_parent(pid).is_some_and(|(state, _)| state != 'Z')
}

/// Live (not zombie) processes whose parent is `parent`, with their command lines.
fn children_of(parent: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| state_and_parent(pid).is_some_and(|(state, ppid)| ppid == parent && state != 'Z'))
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            Some((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")))
        })
        .collect()
}

/// Whether `pid` holds an established TCP connection: a server that has one has accepted it,
/// so it is past its start-up (and its "serving on" line).
fn has_connections(pid: u32) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    let sockets: std::collections::HashSet<String> = fds
        .filter_map(|fd| {
            let target = std::fs::read_link(fd.ok()?.path()).ok()?;
            Some(target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // `sl local remote st … inode`: state 01 is ESTABLISHED.
        fields.get(3) == Some(&"01") && fields.get(9).is_some_and(|inode| sockets.contains(*inode))
    })
}

#[test]
fn a_server_the_bench_spawned_stops_when_the_bench_is_killed() {
    // `kill -9` of the bench runs none of its clean-up: its child server must notice on its own
    // instead of serving on as an orphan.
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut c = seckill(dir.path());
    c.args([
        "bench",
        "--embedded",
        "--spawn",
        "--users",
        "20",
        "--stock",
        "4",
        "-c",
        "2",
        "--duration",
        "60s",
        "--quiet",
    ]);
    // What a killed bench leaves in its temp dir stays inside this test's.
    c.env("TMPDIR", &tmp);
    let mut bench = Running::start(c);
    let deadline = std::time::Instant::now() + seckill_testkit::process::PATIENCE;
    // Its server, once it serves the bench (killed before that, it would die of its closed
    // stderr pipe at its "serving on" line anyway — not what is tested here).
    let server = loop {
        let child = children_of(bench.id()).into_iter().find(|(_, cmd)| cmd.contains(" serve "));
        if let Some((pid, _)) = child.filter(|(pid, _)| has_connections(*pid)) {
            break pid;
        }
        assert!(std::time::Instant::now() < deadline, "the bench started no server that it talks to");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // Never leave it running, whatever happens below.
    struct Reap(u32);
    impl Drop for Reap {
        fn drop(&mut self) {
            if running(self.0) {
                let _ = Command::new("kill").args(["-9", &self.0.to_string()]).status();
            }
        }
    }
    let _reap = Reap(server);
    bench.kill();
    let deadline = std::time::Instant::now() + seckill_testkit::process::PATIENCE;
    while running(server) {
        assert!(std::time::Instant::now() < deadline, "the server {server} outlived its bench");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
