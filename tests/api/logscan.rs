//! Passwords and tokens never reach the logs: the real binary, at the most verbose level, through a session of
//! registrations, logins, token use and every kind of refusal; then its whole output is searched for each secret.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxoffice::auth::model::Role;
use boxoffice::auth::token::{Claims, TokenKeys};
use boxoffice::config::{AuthConfig, Secret};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use uuid::Uuid;

use crate::helpers::{JWT_SECRET, database_url, fresh_database, redis_url};

/// The `boxoffice serve` process of a test, its captured output, and its address.
struct Binary {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    address: String,
}

impl Binary {
    async fn spawn(db: &str, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_boxoffice"));
        command.args(["serve", "--routes", "all"]).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("BOXOFFICE_")) {
            command.env_remove(name);
        }
        let prefix = format!("test:{db}:");
        let database = database_url(db);
        let redis = redis_url();
        let base = [
            ("BOXOFFICE_LISTEN_ADDR", "127.0.0.1:0"),
            ("BOXOFFICE_DATABASE_URL", database.as_str()),
            ("BOXOFFICE_DB_DIALECT", "postgres"),
            ("BOXOFFICE_REDIS_URL", redis.as_str()),
            ("BOXOFFICE_REDIS_KEY_PREFIX", prefix.as_str()),
            ("BOXOFFICE_JWT_SECRET", JWT_SECRET),
            ("BOXOFFICE_LOG_FORMAT", "json"),
        ];
        command.envs(base.iter().chain(env).copied());
        let mut child = command.spawn().expect("boxoffice starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        tokio::spawn({
            let lines = lines.clone();
            async move {
                let mut addr_tx = Some(addr_tx);
                let mut reader = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if let Ok(event) = serde_json::from_str::<Value>(&line)
                        && event["message"] == "serving"
                        && let Some(tx) = addr_tx.take()
                    {
                        let _ = tx.send(event["addr"].as_str().unwrap_or_default().to_owned());
                    }
                    lines.lock().expect("lines").push(line);
                }
            }
        });
        tokio::spawn({
            let lines = lines.clone();
            async move {
                let mut reader = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    lines.lock().expect("lines").push(line);
                }
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(30), addr_rx)
            .await
            .unwrap_or_else(|_| panic!("no 'serving' line; output: {:?}", lines.lock().expect("lines")))
            .expect("address");
        Self { child, lines, address: format!("http://{addr}") }
    }

    /// SIGTERM, wait for the graceful exit, and return everything the process wrote.
    async fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(status.success());
        let exit =
            tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.expect("exits").expect("status");
        assert!(exit.success(), "{exit:?}");
        // Let the reader tasks drain the pipes.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.lines.lock().expect("lines").clone()
    }
}

#[tokio::test]
async fn no_password_or_token_ever_reaches_the_logs() {
    let db = fresh_database().await;
    let admin_password = format!("admin-{}", Uuid::new_v4().simple());
    let binary = Binary::spawn(
        &db,
        &[
            ("BOXOFFICE_LOG", "trace"),
            ("BOXOFFICE_ADMIN_EMAIL", "root@example.com"),
            ("BOXOFFICE_ADMIN_PASSWORD", &admin_password),
        ],
    )
    .await;
    let http = Client::new();
    let url = |path: &str| format!("{}{path}", binary.address);
    let post = |path: &str, body: Value| http.post(url(path)).json(&body).send();
    let marker = Uuid::new_v4().simple().to_string();
    let password = format!("pw-{marker}");
    let wrong = format!("wrong-{marker}");
    let short = format!("s{}", &marker[..6]);
    let numeric: u64 = 9_000_000_000 + u64::from(u32::from_str_radix(&marker[..7], 16).expect("hex"));
    let email = format!("{marker}@example.com");

    let response = post(
        "/users",
        json!({"name": "Log Scan", "email": email, "phoneNumber": "+12125550100", "password": password}),
    )
    .await
    .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.expect("user");
    let id: Uuid = user["id"].as_str().and_then(|s| s.parse().ok()).expect("id");
    let hash: String = {
        let (client, connection) =
            tokio_postgres::connect(&database_url(&db), tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(connection);
        let row = client.query_one("SELECT password_hash FROM users WHERE id = $1", &[&id]).await.expect("user");
        row.get(0)
    };
    let token: Value = post("/auth/token", json!({"email": email, "password": password}))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let token = token["accessToken"].as_str().expect("token").to_owned();
    let me = http.get(url("/users/me")).bearer_auth(&token).send().await.expect("sent");
    assert_eq!(me.status(), StatusCode::OK);

    // Refusals of every kind, each carrying a secret.
    let refusals = [
        post("/auth/token", json!({"email": email, "password": wrong})).await.expect("sent").status(),
        post("/auth/token", json!({"email": format!("x{email}"), "password": wrong})).await.expect("sent").status(),
        post("/auth/token", json!({"email": email, "password": numeric})).await.expect("sent").status(),
        post("/auth/token", json!({"email": email, "password": password, "otp": password}))
            .await
            .expect("sent")
            .status(),
        post(
            "/users",
            json!({"name": "Short", "email": format!("s{email}"), "phoneNumber": "+12125550100", "password": short}),
        )
        .await
        .expect("sent")
        .status(),
        post("/users", json!({"name": "Dup", "email": email, "phoneNumber": "+12125550100", "password": password}))
            .await
            .expect("sent")
            .status(),
    ];
    assert_eq!(refusals.map(|s| s.as_u16()), [401, 401, 422, 422, 400, 409]);
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    let keys = TokenKeys::from_config(&AuthConfig {
        jwt_secret: Some(Secret::new(JWT_SECRET)),
        jwt_key_id: "k1".into(),
        jwt_previous_keys: Vec::new(),
        issuer: "boxoffice".into(),
        audience: "boxoffice-api".into(),
        token_ttl: Duration::from_secs(60),
        bootstrap_admin: None,
        ticket_keys: Vec::new(),
    });
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = |exp: i64, aud: &str| Claims {
        sub: id,
        role: Role::Customer,
        iat: now - 60,
        exp,
        iss: "boxoffice".into(),
        aud: aud.into(),
    };
    let expired = keys.sign(&claims(now - 30, "boxoffice-api")).expect("signed");
    let foreign = keys.sign(&claims(now + 600, "another-api")).expect("signed");
    for bad in [&tampered, &expired, &foreign] {
        let response = http.get(url("/users/me")).bearer_auth(bad).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let response = http
            .get(url(&format!("/users/{id}")))
            .header("authorization", format!("Basic {bad}"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Another account: its owner and admins only (the owner may read its own).
    let other = Uuid::new_v4();
    let forbidden = http.get(url(&format!("/users/{other}"))).bearer_auth(&token).send().await.expect("sent");
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);

    let admin: Value = post("/auth/token", json!({"email": "root@example.com", "password": admin_password}))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let admin_token = admin["accessToken"].as_str().expect("admin token").to_owned();
    let found = http.get(url(&format!("/users/{id}"))).bearer_auth(&admin_token).send().await.expect("sent");
    assert_eq!(found.status(), StatusCode::OK);

    let lines = binary.stop().await;
    crate::helpers::drop_database(&db);
    let text = lines.join("\n");
    assert!(lines.len() > 20, "too little output to mean anything: {text}");
    assert!(text.contains("\"level\":\"TRACE\"") || text.contains("\"level\":\"DEBUG\""), "not verbose: {text}");
    assert!(text.contains("request refused"), "refusals are logged: {text}");
    assert!(text.contains("tokio_postgres"), "dependencies' logs are captured too: {text}");
    let signature = |t: &str| t.rsplit('.').next().unwrap_or_default().to_owned();
    let secrets = [
        ("the password", password.clone()),
        ("a wrong password", wrong),
        ("a too short password", short),
        ("a numeric password", numeric.to_string()),
        ("the admin password", admin_password),
        ("the password hash", hash.clone()),
        ("the password hash's digest", hash.rsplit('$').next().unwrap_or_default().to_owned()),
        ("the JWT secret", JWT_SECRET.to_owned()),
        ("the token", token.clone()),
        ("the token's signature", signature(&token)),
        ("a tampered token", tampered.clone()),
        ("an expired token", expired.clone()),
        ("a foreign token", foreign),
        ("the admin token", admin_token.clone()),
        ("the admin token's signature", signature(&admin_token)),
    ];
    for (what, secret) in &secrets {
        if let Some(line) = lines.iter().find(|line| line.contains(secret.as_str())) {
            panic!("{what} is in the logs: {line}");
        }
    }
}
