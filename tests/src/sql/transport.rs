//! Connections go where the URL says, as the account it names. mysql_async, unless told
//! otherwise, logs in a second time over the server's unix socket after connecting over TCP
//! to a server on this host: as `user@localhost`, another account than the URL's
//! `user@127.0.0.1` (with its own grants and password), outside the TLS settings, and where
//! no such account exists every new connection left an `Access denied` in the server's log.
//! The case makes the `localhost` account exist, so a socket login would succeed and show.

use anyhow::{Context, Result, bail, ensure};
use p8fs_sql_dialect::{DialectKind, SqlExecutor, Statement};

use crate::harness::Ctx;

/// The URL's host (`scheme://user:password@host:port/...`).
fn url_host(url: &str) -> Result<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    ensure!(!host.is_empty(), "no host in the test URL");
    Ok(host)
}

/// The URL with `user:password` in place of its own credentials.
fn with_account(url: &str, user: &str, password: &str) -> Result<String> {
    let (scheme, rest) = url.split_once("://").context("the test URL has no scheme")?;
    let (_, after) = rest.split_once('@').context("the test URL names no account")?;
    Ok(format!("{scheme}://{user}:{password}@{after}"))
}

async fn text(db: &dyn SqlExecutor, sql: &str) -> Result<String> {
    let rows = db.query(&Statement::raw(sql)).await?;
    match rows.first().and_then(|r| r.first()) {
        Some(v) => Ok(v.clone().into_text()?),
        None => bail!("{sql} returned no row"),
    }
}

/// `(USER(), CURRENT_USER())` of a new connection of `url`.
async fn account_of(url: &str) -> Result<(String, String)> {
    let db = p8fs_tidb::TidbProvider::connect(p8fs_tidb::MySqlConfig::from_url(url)?).await?;
    let user = text(&db, "SELECT USER()").await?;
    let current = text(&db, "SELECT CURRENT_USER()").await?;
    db.disconnect().await?;
    Ok((user, current))
}

pub(crate) async fn connections_use_the_transport_and_account_the_url_names(ctx: Ctx) -> Result<()> {
    let url = ctx.env.url().context("no URL")?;
    let host = url_host(url)?;
    let db = ctx.env.sql(&ctx.scratch).await?;
    match db.dialect().kind() {
        DialectKind::Postgres => {
            let client = text(&*db, "SELECT COALESCE(host(inet_client_addr()), 'a unix socket')").await?;
            let expected = if host == "localhost" { "127.0.0.1" } else { host };
            ensure!(client == expected, "the session came from {client}, the URL names {host}");
            Ok(())
        }
        DialectKind::MariaDb | DialectKind::Tidb => {
            // An account of one name for the URL's host and for `localhost`, same password:
            // a login over the socket would succeed, as the `localhost` one.
            let user = format!("p8fs_via{}", std::process::id());
            let password = "p8fs-transport";
            let accounts = [host, "localhost"];
            for h in accounts {
                db.execute(&Statement::raw(format!(
                    "CREATE USER IF NOT EXISTS '{user}'@'{h}' IDENTIFIED BY '{password}'"
                )))
                .await?;
                db.execute(&Statement::raw(format!("GRANT SELECT ON `{}`.* TO '{user}'@'{h}'", database(url)?)))
                    .await?;
            }
            let result = async {
                let as_user = with_account(url, &user, password)?;
                let (session, account) = account_of(&as_user).await?;
                ensure!(
                    session == format!("{user}@{host}") && account == format!("{user}@{host}"),
                    "the URL names {user}@{host}, the session is {session} as account {account}"
                );
                // The probe tells the two apart: asked for the socket, the same URL logs in
                // over it, as the `localhost` account (servers on this host that have one).
                let socket = text(&*db, "SELECT COALESCE(@@socket, '')").await.unwrap_or_default();
                if matches!(host, "127.0.0.1" | "localhost") && !socket.is_empty() {
                    let sep = if as_user.contains('?') { '&' } else { '?' };
                    let (session, _) = account_of(&format!("{as_user}{sep}prefer_socket=true")).await?;
                    ensure!(
                        session == format!("{user}@localhost"),
                        "asked for the socket, the session is {session}: the probe cannot tell the transports apart"
                    );
                }
                Ok(())
            }
            .await;
            for h in accounts {
                db.execute(&Statement::raw(format!("DROP USER IF EXISTS '{user}'@'{h}'"))).await?;
            }
            result
        }
        other => bail!("no SQL server for this case ({other:?})"),
    }
}

/// The database the URL names.
fn database(url: &str) -> Result<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split_once('/').map(|(_, p)| p).unwrap_or_default();
    let name = path.split('?').next().unwrap_or_default();
    ensure!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "the test URL names no plain database"
    );
    Ok(name)
}
