//! A small JSON client for a server the test started as a child process (`seckill serve`):
//! every answer as `(status, JSON body)`, transport failures (a killed server) as `Err`.

use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one request may take, and how long a `503` is asked again.
pub const PATIENCE: Duration = Duration::from_secs(30);
/// The pause between two tries after a `503`.
const PAUSE: Duration = Duration::from_millis(100);

/// A transport failure (the server died under the request) or an answer.
pub type Outcome = Result<(u16, Value), String>;

/// An HTTP client of one server.
#[derive(Debug, Clone)]
pub struct Api {
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Api {
    pub fn new(base: String) -> Api {
        let http = reqwest::Client::builder().timeout(PATIENCE).build().unwrap_or_else(|e| panic!("client: {e}"));
        Api { http, base }
    }

    /// One request, answered or not.
    pub async fn try_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Outcome {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// An answer with status `expected`, whose body is returned (panics otherwise). A `503`
    /// ("retry shortly": a busy pool on a machine running many tests at once) is asked again,
    /// within [`PATIENCE`].
    pub async fn expect(
        &self,
        expected: u16,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (status, answer) = self
                .try_send(method.clone(), path, body, token, None)
                .await
                .unwrap_or_else(|e| panic!("{method} {} {path}: {e}", self.base));
            if status != 503 || Instant::now() >= deadline {
                assert_eq!(status, expected, "{method} {} {path}: {answer}", self.base);
                return answer;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }

    /// `POST` answered `200`.
    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Value {
        self.expect(200, reqwest::Method::POST, path, Some(body), token).await
    }

    /// `POST` answered `201`.
    pub async fn create(&self, path: &str, body: &Value, token: Option<&str>) -> Value {
        self.expect(201, reqwest::Method::POST, path, Some(body), token).await
    }

    /// `GET` answered `200`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Value {
        self.expect(200, reqwest::Method::GET, path, None, token).await
    }
}

/// A sale opened through the admin API: an activity running now and for an hour, in a slot
/// covering the whole day (touching days merge, so midnight is no boundary), two SKUs, one
/// unit per order.
#[derive(Debug, Clone)]
pub struct Sale {
    /// The operator's token.
    pub admin: String,
    pub id: i64,
    pub skus: [i64; 2],
    /// The definition, for `PUT`.
    pub body: Value,
}

impl Api {
    /// Signs in as operator `username` and opens a [`Sale`] named `name` with `stock` units of
    /// its two SKUs and `total_limit` per shopper.
    pub async fn open_sale(
        &self,
        (username, password): (&str, &str),
        name: &str,
        stock: [u32; 2],
        total_limit: u32,
    ) -> Sale {
        let admin = self
            .post("/api/admin/sessions", &serde_json::json!({"username": username, "password": password}), None)
            .await;
        let admin = admin["token"].as_str().unwrap_or_else(|| panic!("no admin token: {admin}")).to_owned();
        let product = serde_json::json!({
            "name": "HUAWEI Mate 70 Pro",
            "skus": [
                {"name": "black", "price_cents": 599_900, "stock": 1_000},
                {"name": "white", "price_cents": 699_900, "stock": 500},
            ],
        });
        let product = self.create("/api/admin/products", &product, Some(&admin)).await;
        let sku = |i: usize| product["skus"][i]["id"].as_i64().unwrap_or_else(|| panic!("no sku id: {product}"));
        let skus = [sku(0), sku(1)];
        let slot = serde_json::json!({"name": "all day", "start": "00:00", "end": "24:00"});
        let slot = self.create("/api/admin/time-slots", &slot, Some(&admin)).await;
        let now: jiff::Timestamp = self.get("/api/time", None).await["now"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no server time"));
        let body = serde_json::json!({
            "name": name,
            "product_id": product["id"],
            "starts_at": (now - jiff::SignedDuration::from_secs(5)).to_string(),
            "ends_at": (now + jiff::SignedDuration::from_hours(1)).to_string(),
            "time_slot_ids": [slot["id"]],
            "skus": [
                {"sku_id": skus[0], "seckill_price_cents": 399_900, "stock": stock[0]},
                {"sku_id": skus[1], "seckill_price_cents": 499_900, "stock": stock[1]},
            ],
            "total_limit": total_limit,
            "single_limit": 1,
        });
        let activity = self.create("/api/admin/activities", &body, Some(&admin)).await;
        assert_eq!(activity["state"], "running", "{activity}");
        let id = activity["id"].as_i64().unwrap_or_else(|| panic!("no activity id: {activity}"));
        Sale { admin, id, skus, body }
    }
}
