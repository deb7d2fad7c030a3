//! `TestApp`: a running service on a fresh database, with typed request helpers; the booking helpers the booking
//! suites share ([`booking`]); an app whose database connections go through a proxy the test controls
//! ([`app_behind_proxy`]).

pub mod booking;

use std::collections::HashMap;
use std::net::SocketAddr;

use boxoffice::app::{AppState, Application, Routes};
use boxoffice::config::Config;
use boxoffice::db::{Dialect, migrate};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::proxy::Proxy;

/// The shared secret of every test application.
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0001";
/// The tests' ticket signing key (`kid:seed`); its public key is what `GET /tickets/keys` publishes.
pub const TICKET_KEYS: &str = "t1:0101010101010101010101010101010101010101010101010101010101010101";

/// The server URL tests create their databases on (`make test` exports it).
pub fn admin_database_url() -> String {
    std::env::var("BOXOFFICE_TEST_DATABASE_URL").expect(
        "BOXOFFICE_TEST_DATABASE_URL is not set: run the suite with `make test`, which starts PostgreSQL and Redis",
    )
}

/// The Redis tests use (`make test` exports it).
pub fn redis_url() -> String {
    std::env::var("BOXOFFICE_TEST_REDIS_URL").expect("BOXOFFICE_TEST_REDIS_URL is not set: run `make test`")
}

/// `admin_database_url` with another database name.
pub fn database_url(name: &str) -> String {
    let base = admin_database_url();
    let (prefix, _) = base.rsplit_once('/').expect("the URL names a database");
    format!("{prefix}/{name}")
}

/// Runs one statement on the admin database.
pub async fn admin_execute(sql: &str) {
    let (client, connection) = tokio_postgres::connect(&admin_database_url(), NoTls).await.expect("connect admin");
    tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

static DIALECT: OnceCell<Dialect> = OnceCell::const_new();

/// The dialect of the test server (`SELECT version()`): the suite runs against PostgreSQL (`make test`) or, by
/// pointing `BOXOFFICE_TEST_DATABASE_URL` at one, a CockroachDB cluster (README, "CockroachDB").
pub async fn server_dialect() -> Dialect {
    *DIALECT
        .get_or_init(|| async {
            let (client, connection) =
                tokio_postgres::connect(&admin_database_url(), NoTls).await.expect("connect admin");
            tokio::spawn(connection);
            let row = client.query_one("SELECT version()", &[]).await.expect("SELECT version()");
            Dialect::from_version(row.get(0))
        })
        .await
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// The migrated, demo-seeded template database, created once per test process. Its name is a fingerprint of
/// this test binary (rebuilt whenever the code, and so possibly the schema or the seed data, changes), so a stale
/// template is never reused; several test processes may race to build it, and the loser's copy is dropped.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let exe = std::env::current_exe().expect("test binary path");
            let built = std::fs::metadata(&exe).and_then(|m| m.modified()).expect("test binary mtime");
            let name = format!("tmpl_{}", &migrate::checksum(&format!("{}{built:?}", exe.display()))[..12]);
            let (client, connection) =
                tokio_postgres::connect(&admin_database_url(), NoTls).await.expect("connect admin");
            let conn = tokio::spawn(connection);
            let exists = client
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                .await
                .expect("query pg_database")
                .is_some();
            if !exists {
                let building = format!("{name}_building_{}", std::process::id());
                client.batch_execute(&format!("CREATE DATABASE {building}")).await.expect("create template");
                {
                    let (mut tc, tconn) =
                        tokio_postgres::connect(&database_url(&building), NoTls).await.expect("connect template");
                    let tconn = tokio::spawn(tconn);
                    migrate::run(&mut tc, Dialect::Postgres).await.expect("migrate template");
                    boxoffice::seed::demo(&mut tc).await.expect("seed the template with the demo data");
                    drop(tc);
                    let _ = tconn.await;
                }
                let published = client.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}")).await;
                if published.is_err() {
                    // Another process published the same template first.
                    client.batch_execute(&format!("DROP DATABASE {building}")).await.expect("drop duplicate");
                }
            }
            drop(client);
            let _ = conn.await;
            name
        })
        .await
}

/// A test's own database, dropped when the guard is (as [`TestApp`] drops its own): a full suite used to leave 18
/// databases behind, from tests that made one without a `TestApp`. Reads as its name (`&db` is a `&str`).
#[derive(Debug)]
pub struct TestDb {
    name: String,
}

impl TestDb {
    /// The name, for an owner that drops the database itself ([`TestApp`]).
    fn into_name(self) -> String {
        let this = std::mem::ManuallyDrop::new(self);
        this.name.clone()
    }
}

impl std::ops::Deref for TestDb {
    type Target = str;
    fn deref(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Display for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(&self.name);
    }
}

/// A fresh database cloned from the template (migrated, with the demo data), dropped with its guard.
///
/// CockroachDB has no `CREATE DATABASE .. TEMPLATE`: there each test's database is created empty, migrated and
/// seeded (slower, same result).
pub async fn fresh_database() -> TestDb {
    if server_dialect().await == Dialect::Cockroach {
        let name = empty_database().await;
        let (mut client, connection) = tokio_postgres::connect(&database_url(&name), NoTls).await.expect("connect");
        let connection = tokio::spawn(connection);
        migrate::run(&mut client, Dialect::Cockroach).await.expect("migrate");
        boxoffice::seed::demo(&mut client).await.expect("seed the demo data");
        drop(client);
        let _ = connection.await;
        return name;
    }
    let template = template().await;
    let name = format!("t_{}", Uuid::new_v4().simple());
    admin_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}")).await;
    TestDb { name }
}

/// An empty database (no migrations): for migration tests.
pub async fn empty_database() -> TestDb {
    server_dialect().await;
    let name = format!("e_{}", Uuid::new_v4().simple());
    admin_execute(&format!("CREATE DATABASE {name}")).await;
    TestDb { name }
}

/// The configuration of a test application on database `db`; `overrides` replace any variable. The dialect is the
/// test server's (known once a test database was made), so the same tests run against PostgreSQL and CockroachDB.
pub fn test_config(db: &str, overrides: &[(&str, &str)]) -> Config {
    let dialect = DIALECT.get().map_or("auto", |d| d.name());
    let mut vars: HashMap<String, String> = [
        ("BOXOFFICE_LISTEN_ADDR", "127.0.0.1:0".to_owned()),
        ("BOXOFFICE_DATABASE_URL", database_url(db)),
        ("BOXOFFICE_DB_DIALECT", dialect.to_owned()),
        ("BOXOFFICE_DB_POOL_SIZE", "8".to_owned()),
        ("BOXOFFICE_READ_POOL_SIZE", "4".to_owned()),
        ("BOXOFFICE_REDIS_URL", redis_url()),
        ("BOXOFFICE_REDIS_KEY_PREFIX", format!("test:{db}:")),
        ("BOXOFFICE_JWT_SECRET", JWT_SECRET.to_owned()),
        ("BOXOFFICE_TICKET_KEYS", TICKET_KEYS.to_owned()),
        ("BOXOFFICE_DB_TIMEOUT_MS", "1000".to_owned()),
        // The limiters run in every test, with quotas no functional test reaches; tests/api/limits.rs sets its own.
        ("BOXOFFICE_RATE_LIMITS", "relaxed".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Config::from_map(&vars).expect("valid test configuration")
}

/// A running service on its own database.
pub struct TestApp {
    /// `http://127.0.0.1:port`.
    pub address: String,
    /// The database's name.
    pub db_name: String,
    /// The application's state (pools, config, token keys).
    pub state: AppState,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// Cancelling it shuts the server down.
    pub shutdown: CancellationToken,
    /// The server task.
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        drop_database(&self.db_name);
    }
}

/// Drops a test's database once the test is over (set `BOXOFFICE_TEST_KEEP_DATABASES=1` to keep them for a
/// post-mortem). Without this, every run leaves a demo-sized copy behind: a shared test server filled a disk that
/// way. Runs on a thread of its own because `Drop` cannot await; `WITH (FORCE)` closes the app's pooled connections.
pub fn drop_database(name: &str) {
    if std::env::var_os("BOXOFFICE_TEST_KEEP_DATABASES").is_some() {
        return;
    }
    let name = name.to_owned();
    let dropper = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        runtime.block_on(async {
            let Ok((client, connection)) = tokio_postgres::connect(&admin_database_url(), NoTls).await else {
                return;
            };
            tokio::spawn(connection);
            // PostgreSQL 13+ takes WITH (FORCE); CockroachDB drops with CASCADE and has no open-connection check.
            if client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.is_err() {
                let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} CASCADE")).await;
            }
        });
    });
    let _ = dropper.join();
}

impl TestApp {
    /// A service on a fresh database with the demo data.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// A service on a fresh database, with configuration overrides.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> Self {
        let db_name = fresh_database().await.into_name();
        Self::spawn_on(&db_name, test_config(&db_name, overrides)).await
    }

    /// A service with this exact configuration (the database must exist).
    pub async fn spawn_on(db_name: &str, config: Config) -> Self {
        let app = Application::build(config, Routes::All).await.expect("application builds");
        let addr: SocketAddr = app.local_addr().expect("bound");
        let state = app.state().clone();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(app.run_until(shutdown.clone()));
        Self {
            address: format!("http://{addr}"),
            db_name: db_name.to_owned(),
            state,
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
            shutdown,
            server,
        }
    }

    /// A request to `path` on this service.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.address))
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.request(Method::GET, path);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.request(Method::POST, path).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    /// Registers a customer; returns the response.
    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/users",
            &json!({ "name": "Test User", "email": email, "phoneNumber": "+1 212 555 0100", "password": password }),
            None,
        )
        .await
    }

    /// Logs in; returns the response.
    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json("/auth/token", &json!({ "email": email, "password": password }), None).await
    }

    /// A new customer's id and access token.
    pub async fn customer(&self) -> (Uuid, String) {
        let email = format!("{}@example.com", Uuid::new_v4().simple());
        let user: Value =
            expect_status(self.register(&email, "correct horse battery").await, StatusCode::CREATED).await;
        let id = user["id"].as_str().and_then(|s| s.parse().ok()).expect("user id");
        (id, self.token_for(&email, "correct horse battery").await)
    }

    /// A new admin's id and access token.
    pub async fn admin(&self) -> (Uuid, String) {
        let email = format!("admin-{}@example.com", Uuid::new_v4().simple());
        let user = boxoffice::auth::ensure_admin(&self.state.db, &email, "admin password 1", "Admin")
            .await
            .expect("admin created");
        (user.id.0, self.token_for(&email, "admin password 1").await)
    }

    /// A new door scanner's (staff) id and access token.
    pub async fn staff(&self) -> (Uuid, String) {
        let email = format!("staff-{}@example.com", Uuid::new_v4().simple());
        let role = boxoffice::auth::model::Role::Staff;
        let user = boxoffice::auth::ensure_role(&self.state.db, &email, "staff password 1", "Door", role)
            .await
            .expect("staff created");
        (user.id.0, self.token_for(&email, "staff password 1").await)
    }

    async fn token_for(&self, email: &str, password: &str) -> String {
        let body: Value = expect_status(self.login(email, password).await, StatusCode::OK).await;
        body["accessToken"].as_str().expect("token").to_owned()
    }

    /// A direct connection to this test's database, for arranging and asserting.
    pub async fn db(&self) -> deadpool_postgres::Object {
        self.state.db.write.get().await.expect("db connection")
    }
}

/// Asserts the status and returns the JSON body (printing the body when the status is wrong).
pub async fn expect_status(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts an RFC 9457 problem response of `status` and `slug`; returns the problem document.
pub async fn expect_problem(response: Response, status: StatusCode, slug: &str) -> Value {
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = expect_status(response, status).await;
    assert_eq!(content_type, "application/problem+json", "body: {body}");
    assert_eq!(body["type"], format!("https://boxoffice.dev/problems/{slug}"), "body: {body}");
    assert_eq!(body["status"], status.as_u16(), "body: {body}");
    assert!(body["title"].is_string() && body["detail"].is_string(), "body: {body}");
    body
}

/// The address of the test database server (`BOXOFFICE_TEST_DATABASE_URL`), for proxies in front of it.
pub fn pg_addr() -> SocketAddr {
    let config: tokio_postgres::Config = admin_database_url().parse().expect("valid URL");
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        #[allow(unreachable_patterns, reason = "unix sockets exist only on unix")]
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}").parse().expect("the test database URL uses an IP address")
}

/// An app on a fresh database whose connections go through a [`Proxy`] the test controls (to cut, stall or resume
/// them), with configuration `overrides`.
pub async fn app_behind_proxy(overrides: &[(&str, &str)]) -> (TestApp, Proxy) {
    let db = fresh_database().await.into_name(); // the TestApp drops it
    let proxy = Proxy::start(pg_addr()).await;
    let url = database_url(&db).replace(&pg_addr().to_string(), &proxy.addr().to_string());
    let mut vars = vec![("BOXOFFICE_DATABASE_URL", url.as_str())];
    vars.extend_from_slice(overrides);
    (TestApp::spawn_on(&db, test_config(&db, &vars)).await, proxy)
}

impl TestApp {
    /// `GET path` that may fail to connect (after shutdown).
    pub async fn get_result(&self, path: &str) -> reqwest::Result<Response> {
        self.request(Method::GET, path).send().await
    }
}
