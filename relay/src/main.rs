//! rcemit-relay: `bridge` receives RcEmit's xmlrc datagrams and posts each change into its wiki's XMPP room;
//! `poll` reads a wiki's api.php and sends its changes as those datagrams; `watch` prints a room's (or PubSub
//! node's) changes as JSON lines or XML.

use rcemit_relay::catchup;
use rcemit_relay::config::{Config, LogFormat};
use rcemit_relay::metrics::{self, Metrics};
use rcemit_relay::poll::{self, PollOptions, Start};
use rcemit_relay::state::is_api_timestamp;
use rcemit_relay::udp::{self, Shared};
use rcemit_relay::watch_config::{Flags, WatchConfig};
use rcemit_relay::{watch, xmpp};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};

const USAGE: &str = "usage: rcemit-relay bridge --config FILE [--check-config]
       rcemit-relay poll --api URL --to HOST:PORT --state FILE [--interval SECONDS] [--start now|TIMESTAMP]
                         [--wikiid ID] [--user-agent-contact TEXT] [--timeout SECONDS] [--once]
  bridge          receive xmlrc datagrams over UDP and post each change to its wiki's XMPP room
  --config FILE   the TOML configuration (see relay/bridge.example.toml)
  --check-config  check the configuration (and read the password) and exit
  poll            read the wiki's recent changes from api.php, send each as an xmlrc datagram (relay/README.md)
  --api URL       the wiki's api.php
  --to HOST:PORT  where the datagrams go
  --state FILE    the position (JSON), read at start and replaced after each page of changes
  --interval S    seconds between polls (default 10)
  --start         without a state file: now (default; only changes after the newest) or a timestamp
                  YYYY-MM-DDTHH:MM:SSZ (changes from then on)
  --wikiid ID     the datagrams' wikiid (default: api.php's siteinfo)
  --user-agent-contact TEXT  how to reach the operator (an e-mail or URL), put in the User-Agent
  --timeout S     seconds per HTTP request (default 30)
  --once          poll once (to the end of the continuation) and exit
       rcemit-relay watch --config FILE [--room JID | --node SERVICE/NODE] [--since TIME | --after-rcid N |
                          --last N] [--format json|xml] [--history-only]
  watch           print a room's (or PubSub node's) changes, one per line, history first
  --config FILE   the TOML configuration (see relay/watch.example.toml)
  --room JID      the room to join as a visitor      --node S/N     the PubSub service and node
  --since TIME    first the archive from TIME on      --after-rcid N first the archive after rcid N
  --last N        first the node's newest N items     --history-only print the history, then exit
  --format F      json (api.php's formatversion=2 objects, plus wikiid) or xml (the <rc> elements)";

enum Command {
    Bridge { config: PathBuf, check_only: bool },
    Poll(PollOptions),
    Watch { config: PathBuf, flags: Flags },
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("rcemit-relay: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (config, check_only) = match command {
        Command::Bridge { config, check_only } => (config, check_only),
        Command::Poll(opts) => {
            init_logs("info", &LogFormat::Text);
            return run(2, poll_main(opts));
        }
        Command::Watch { config, flags } => return watch_main(&config, flags),
    };
    let config = match Config::load(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rcemit-relay: {e}");
            return ExitCode::from(1);
        }
    };
    if check_only {
        println!(
            "configuration OK: {} wiki(s) ({} with gap repair from api.php), {} UDP address(es), XMPP {} via {}",
            config.wikis.len(),
            config.wikis.iter().filter(|w| w.api_url.is_some()).count(),
            config.listen.len(),
            config.account.jid,
            config.account.server.as_deref().unwrap_or("DNS SRV")
        );
        return ExitCode::SUCCESS;
    }
    init_logs(&config.log_level, &config.log_format);
    run(2, bridge(config))
}

/// Runs a subcommand on a runtime of `threads` threads; its error is logged and makes exit status 1.
fn run(threads: usize, task: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("bridge") => {}
        Some("poll") => return parse_poll_args(it).map(Command::Poll),
        Some("watch") => return parse_watch_args(it),
        Some("-h" | "--help") | None => return Err("a subcommand is needed".into()),
        Some(other) => return Err(format!("unknown subcommand {other:?}")),
    }
    let (mut config, mut check) = (None, false);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" => config = Some(PathBuf::from(it.next().ok_or("--config needs a file")?)),
            "--check-config" => check = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let config = config.ok_or("--config FILE is required")?;
    Ok(Command::Bridge {
        config,
        check_only: check,
    })
}

fn parse_watch_args<'a>(mut it: impl Iterator<Item = &'a String>) -> Result<Command, String> {
    let (mut config, mut flags) = (None, Flags::default());
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        let number = |v: String| {
            v.parse()
                .map_err(|_| format!("{arg} {v:?} is not a number"))
        };
        match arg.as_str() {
            "--config" => config = Some(PathBuf::from(value()?)),
            "--room" => flags.room = Some(value()?),
            "--node" => flags.node = Some(value()?),
            "--format" => flags.format = Some(value()?),
            "--since" => flags.since = Some(value()?),
            "--after-rcid" => flags.after_rcid = Some(number(value()?)?),
            "--last" => flags.last = Some(number(value()?)? as usize),
            "--history-only" => flags.history_only = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let config = config.ok_or("--config FILE is required")?;
    Ok(Command::Watch { config, flags })
}

fn parse_poll_args<'a>(mut it: impl Iterator<Item = &'a String>) -> Result<PollOptions, String> {
    let (mut api, mut to, mut state) = (None, None, None);
    let mut opts = PollOptions {
        api: String::new(),
        to: String::new(),
        state: PathBuf::new(),
        interval: Duration::from_secs(10),
        start: Start::Now,
        wikiid: None,
        contact: None,
        once: false,
        page_limit: rcemit_relay::api::MAX_LIMIT,
        timeout: Duration::from_secs(30),
    };
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--api" => api = Some(value()?),
            "--to" => to = Some(value()?),
            "--state" => state = Some(PathBuf::from(value()?)),
            "--interval" => opts.interval = seconds(arg, &value()?)?,
            "--timeout" => opts.timeout = seconds(arg, &value()?)?,
            "--start" => {
                opts.start = match value()?.as_str() {
                    "now" => Start::Now,
                    t if is_api_timestamp(t) => Start::At(t.to_string()),
                    t => {
                        return Err(format!(
                            "--start {t:?} is neither now nor YYYY-MM-DDTHH:MM:SSZ"
                        ))
                    }
                }
            }
            "--wikiid" => opts.wikiid = Some(value()?).filter(|id| !id.is_empty()),
            "--user-agent-contact" => opts.contact = Some(value()?),
            "--once" => opts.once = true,
            // Undocumented in the usage: tests shrink pages to exercise the continuation.
            "--page-limit" => {
                let v = value()?;
                opts.page_limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=rcemit_relay::api::MAX_LIMIT).contains(n))
                    .ok_or(format!("--page-limit {v:?} is not 1..500"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    opts.api = api.ok_or("--api URL is required")?;
    opts.to = to.ok_or("--to HOST:PORT is required")?;
    opts.state = state.ok_or("--state FILE is required")?;
    Ok(opts)
}

fn seconds(arg: &str, v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86400.0)
        .map(Duration::from_secs_f64)
        .ok_or(format!(
            "{arg} {v:?} is not a number of seconds (0 < S <= 86400)"
        ))
}

fn init_logs(level: &str, format: &LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn watch_main(config: &std::path::Path, flags: Flags) -> ExitCode {
    let config = match WatchConfig::load(config, flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rcemit-relay: {e}");
            return ExitCode::from(1);
        }
    };
    init_logs(&config.log_level, &config.log_format);
    run(1, async {
        let mut sigterm =
            signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
        let mut sigint =
            signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
        let stop = async move {
            tokio::select! {
                _ = sigterm.recv() => {}
                _ = sigint.recv() => {}
            }
        };
        watch::run(config, stop).await
    })
}

/// `poll` until SIGTERM or SIGINT (or once).
async fn poll_main(opts: PollOptions) -> Result<(), String> {
    let mut sigterm =
        signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut task = tokio::spawn(poll::run(opts, stop_rx));
    tokio::select! {
        _ = sigterm.recv() => tracing::info!("SIGTERM: stopping"),
        _ = sigint.recv() => tracing::info!("SIGINT: stopping"),
        done = &mut task => return done.map_err(|e| format!("the poller failed: {e}"))?,
    }
    let _ = stop_tx.send(true);
    task.await
        .map_err(|e| format!("the poller failed: {e}"))??;
    tracing::info!("stopped");
    Ok(())
}

async fn bridge(config: Config) -> Result<(), String> {
    let metrics = Arc::new(Metrics::new());
    let mut sockets = Vec::new();
    for addr in &config.listen {
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|e| format!("cannot bind UDP {addr}: {e}"))?;
        tracing::info!(%addr, "listening for datagrams");
        sockets.push(socket);
    }
    let metrics_task = match config.metrics_listen {
        Some(addr) => {
            let listener = metrics::bind(addr)
                .await
                .map_err(|e| format!("cannot bind metrics {addr}: {e}"))?;
            Some(tokio::spawn(metrics::serve(listener, metrics.clone())))
        }
        None => None,
    };
    let mut sigterm =
        signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
    let shared = Arc::new(Shared::new(config, metrics));
    catchup::restore(&shared)?;
    let receivers: Vec<_> = sockets
        .into_iter()
        .map(|s| tokio::spawn(udp::receive(s, shared.clone())))
        .collect();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let supervisors: Vec<_> = (0..shared.config.wikis.len())
        .map(|room| tokio::spawn(catchup::supervise(shared.clone(), room, done_rx.clone())))
        .collect();
    let mut session = tokio::spawn(xmpp::run(shared.clone(), stop_rx));
    tokio::select! {
        _ = sigterm.recv() => tracing::info!("SIGTERM: stopping"),
        _ = sigint.recv() => tracing::info!("SIGINT: stopping"),
        _ = &mut session => return Err("the XMPP session ended unexpectedly".into()),
    }
    // Stop taking datagrams first, so the drain has an end.
    for r in &receivers {
        r.abort();
    }
    let _ = stop_tx.send(true);
    let _ = session.await;
    // After the drain, so the saved positions include what it published.
    let _ = done_tx.send(true);
    for s in supervisors {
        let _ = s.await;
    }
    if let Some(task) = metrics_task {
        task.abort();
    }
    tracing::info!(metrics = %shared.metrics.render().lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("; "), "stopped");
    Ok(())
}
