//! Extractors that answer malformed input with the API's JSON error shape instead of axum's
//! plain-text rejections: [`ApiJson`], [`ApiQuery`], [`ApiPath`] and [`PathId`].

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON body. Malformed JSON, wrong types and missing fields are `400 BAD_REQUEST` (naming
/// the field), a missing or wrong content type is `415`, a body over the limit is `413`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> AppError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType,
        JsonRejection::JsonDataError(e) => AppError::BadRequest(plain(&e.body_text())),
        JsonRejection::JsonSyntaxError(e) => AppError::BadRequest(plain(&e.body_text())),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
        other => AppError::BadRequest(plain(&other.body_text())),
    }
}

/// A parser's complaint in the words of the API, not of our code: no Rust type names (`expected
/// struct RegisterRequest with 5 elements`, `expected i64`), no framework preamble, and what the
/// client sent echoed [`clip`]ped.
pub(crate) fn plain(message: &str) -> String {
    const PREAMBLES: [&str; 4] = [
        "Failed to deserialize the JSON body into the target type: ",
        "Failed to parse the request body as JSON: ",
        "Failed to deserialize query string: ",
        "Failed to buffer the request body: ",
    ];
    let mut text = PREAMBLES.iter().fold(message, |m, p| m.strip_prefix(p).unwrap_or(m)).to_owned();
    // `expected struct Name` (and ` with N elements`, from a JSON array): the body's shape.
    while let Some(at) = text.find("expected struct ") {
        let rest = &text[at + "expected struct ".len()..];
        let mut end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if let Some(with) = rest[end..].strip_prefix(" with ") {
            let count = with.find(|c: char| !c.is_ascii_digit()).unwrap_or(with.len());
            for unit in [" elements", " element"] {
                if with[count..].starts_with(unit) {
                    end += " with ".len() + count + unit.len();
                    break;
                }
            }
        }
        text.replace_range(at..at + "expected struct ".len() + end, "expected a JSON object");
    }
    for (rust, api) in [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected i32", "expected an integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected u16", "expected a non-negative integer"),
        ("expected u8", "expected a non-negative integer"),
        ("expected f64", "expected a number"),
        ("to a `i64`", "to an integer"),
    ] {
        text = text.replace(rust, api);
    }
    clip(&text, 240)
}

/// `text` cut to at most `max` characters (`…` marking the cut), so what a client sent is never
/// echoed back at length.
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Query parameters. Unparsable values (`?page=abc`, `?state=weird`) are `400 BAD_REQUEST`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| AppError::BadRequest(plain(&e.body_text())))
    }
}

/// For `#[serde(deserialize_with)]` on an optional query number: a blank value (`?page=`) is
/// absent, anything else must parse.
pub fn blank_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let raw: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// For `#[serde(deserialize_with)]` on an optional query enum: a blank value (`?state=`) is
/// absent, anything else must be one of the variants.
pub fn blank_as_no_variant<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::de::IntoDeserializer;
    let raw: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => T::deserialize(s.into_deserializer()).map(Some),
    }
}

/// Path parameters. Values of the wrong type are `400 BAD_REQUEST`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e: PathRejection| AppError::BadRequest(plain(&e.body_text())))
    }
}

/// The one id of a path such as `/api/activities/{id}`, as a typed domain id. Not an integer:
/// `400 BAD_REQUEST`; zero or negative: `404 NOT_FOUND` (no record can have such an id).
#[derive(Debug, Clone, Copy)]
pub struct PathId<I>(pub I);

impl<I, S> FromRequestParts<S> for PathId<I>
where
    I: TryFrom<i64> + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let ApiPath(text) = ApiPath::<String>::from_request_parts(parts, state).await?;
        let raw: i64 = text.parse().map_err(|_| AppError::BadRequest(format!("`{}` is not an id", clip(&text, 40))))?;
        I::try_from(raw).map(PathId).map_err(|_| AppError::NotFound(format!("id {raw}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, header};
    use axum::routing::{get, post};
    use seckill_domain::ids::ActivityId;
    use serde::Deserialize;
    use tower::ServiceExt;

    #[derive(Debug, Deserialize)]
    struct Input {
        name: String,
        #[allow(dead_code)]
        count: i64,
    }

    #[derive(Debug, Deserialize)]
    struct Paging {
        #[serde(default, deserialize_with = "blank_as_none")]
        page: Option<u32>,
    }

    fn router() -> Router {
        let app = Router::new()
            .route("/echo", post(|ApiJson(i): ApiJson<Input>| async move { i.name }))
            .route("/things/{id}", get(|PathId(id): PathId<ActivityId>| async move { id.to_string() }))
            .route("/pages", get(|ApiQuery(p): ApiQuery<Paging>| async move { format!("{:?}", p.page) }));
        // The server's own layers: its body limit, and JSON for what a layer refuses.
        crate::finish(app)
    }

    async fn send(req: Request<Body>) -> (u16, serde_json::Value) {
        let r = router().oneshot(req).await.unwrap();
        let status = r.status().as_u16();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into());
        (status, body)
    }

    fn json(body: impl Into<Body>) -> Request<Body> {
        Request::post("/echo").header(header::CONTENT_TYPE, "application/json").body(body.into()).unwrap()
    }

    #[tokio::test]
    async fn a_well_formed_body_passes() {
        let (s, body) = send(json(r#"{"name":"x","count":1}"#)).await;
        assert_eq!((s, body), (200, serde_json::json!("x")));
    }

    #[tokio::test]
    async fn malformed_json_is_a_bad_request() {
        let (s, body) = send(json(r#"{"name": "#)).await;
        assert_eq!((s, body["error"]["code"].as_str()), (400, Some("BAD_REQUEST")));
    }

    #[tokio::test]
    async fn a_wrong_type_is_a_bad_request_naming_the_field() {
        let (s, body) = send(json(r#"{"name":"x","count":"many"}"#)).await;
        assert_eq!(s, 400);
        assert_eq!(body["error"]["code"], "BAD_REQUEST");
        assert!(body["error"]["message"].as_str().unwrap().contains("count"), "{body}");
    }

    #[tokio::test]
    async fn a_missing_field_is_a_bad_request_naming_the_field() {
        let (s, body) = send(json(r#"{"name":"x"}"#)).await;
        assert_eq!(s, 400);
        assert!(body["error"]["message"].as_str().unwrap().contains("count"), "{body}");
    }

    #[tokio::test]
    async fn a_body_without_the_json_content_type_is_unsupported() {
        let req = Request::post("/echo").body(Body::from(r#"{"name":"x","count":1}"#)).unwrap();
        let (s, body) = send(req).await;
        assert_eq!((s, body["error"]["code"].as_str()), (415, Some("UNSUPPORTED_MEDIA_TYPE")));
        let req = Request::post("/echo").header(header::CONTENT_TYPE, "text/plain").body(Body::from("{}")).unwrap();
        assert_eq!(send(req).await.0, 415);
    }

    #[tokio::test]
    async fn an_oversized_body_is_payload_too_large_with_or_without_a_length() {
        let big = format!(r#"{{"name":"{}","count":1}}"#, "x".repeat(crate::BODY_LIMIT_BYTES));
        // With Content-Length: refused by the limit layer before the handler.
        let req = Request::post("/echo")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, big.len())
            .body(Body::from(big.clone()))
            .unwrap();
        let (s, body) = send(req).await;
        assert_eq!((s, body["error"]["code"].as_str()), (413, Some("PAYLOAD_TOO_LARGE")));
        // Streamed without a length: the JSON extractor's own limit trips.
        let stream = futures_like_stream(big);
        let req = Request::post("/echo").header(header::CONTENT_TYPE, "application/json").body(stream).unwrap();
        let (s, body) = send(req).await;
        assert_eq!((s, body["error"]["code"].as_str()), (413, Some("PAYLOAD_TOO_LARGE")));
    }

    fn futures_like_stream(text: String) -> Body {
        let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> =
            text.into_bytes().chunks(4096).map(|c| Ok(axum::body::Bytes::copy_from_slice(c))).collect();
        Body::from_stream(futures::stream::iter(chunks))
    }

    #[tokio::test]
    async fn complaints_name_no_rust_types_and_echo_little() {
        let (s, body) = send(json("[]")).await;
        assert_eq!(s, 400);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("expected a JSON object"), "{message}");
        assert!(!message.contains("struct") && !message.contains("Input") && !message.contains("Failed"), "{message}");
        let (_, body) = send(json(r#"{"name":"x","count":1e20}"#)).await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("count") && message.contains("expected an integer"), "{message}");
        let long = "9".repeat(3000);
        let (s, body) = send(Request::get(format!("/things/{long}x")).body(Body::empty()).unwrap()).await;
        assert_eq!(s, 400);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("is not an id") && message.len() < 100, "{message}");
        assert_eq!(
            plain("expected struct A with 1 element, expected struct B"),
            "expected a JSON object, expected a JSON object"
        );
        assert_eq!(clip("héllo", 2), "hé…");
        assert_eq!(clip("hé", 2), "hé");
    }

    #[tokio::test]
    async fn path_ids_must_be_integers_and_positive() {
        let get = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();
        assert_eq!(send(get("/things/7")).await, (200, serde_json::json!(7)));
        let (s, body) = send(get("/things/abc")).await;
        assert_eq!((s, body["error"]["code"].as_str()), (400, Some("BAD_REQUEST")));
        let (s, body) = send(get("/things/0")).await;
        assert_eq!((s, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")));
        assert_eq!(send(get("/things/-3")).await.0, 404);
        assert_eq!(send(get("/things/99999999999999999999999")).await.0, 400);
    }

    #[tokio::test]
    async fn unparsable_query_values_are_bad_requests() {
        let get = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();
        assert_eq!(send(get("/pages?page=2")).await, (200, serde_json::json!("Some(2)")));
        let (s, body) = send(get("/pages?page=abc")).await;
        assert_eq!((s, body["error"]["code"].as_str()), (400, Some("BAD_REQUEST")));
        assert_eq!(send(get("/pages?page=-1")).await.0, 400);
        assert_eq!(send(get("/pages?page=")).await, (200, serde_json::json!("None")));
        assert_eq!(send(get("/pages")).await, (200, serde_json::json!("None")));
    }
}
