//! rcemit-relay: `bridge` receives RcEmit's xmlrc datagrams and posts each change into its wiki's XMPP room;
//! `watch` prints a room's (or PubSub node's) changes as JSON lines or XML. (`poll`, DESIGN.md §10, is to
//! come.)

use rcemit_relay::config::{Config, LogFormat};
use rcemit_relay::metrics::{self, Metrics};
use rcemit_relay::udp::{self, Shared};
use rcemit_relay::watch_config::{Flags, WatchConfig};
use rcemit_relay::{watch, xmpp};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};

const USAGE: &str = "usage: rcemit-relay bridge --config FILE [--check-config]
       rcemit-relay watch --config FILE [--room JID | --node SERVICE/NODE] [--since TIME | --after-rcid N |
                          --last N] [--format json|xml] [--history-only]
  bridge          receive xmlrc datagrams over UDP and post each change to its wiki's XMPP room
  watch           print a room's (or PubSub node's) changes, one per line, history first
  --config FILE   the TOML configuration (see relay/bridge.example.toml, relay/watch.example.toml)
  --check-config  check the configuration (and read the password) and exit
  --room JID      the room to join as a visitor      --node S/N     the PubSub service and node
  --since TIME    first the archive from TIME on      --after-rcid N first the archive after rcid N
  --last N        first the node's newest N items     --history-only print the history, then exit
  --format F      json (api.php's formatversion=2 objects, plus wikiid) or xml (the <rc> elements)";

enum Command {
    Bridge { config: PathBuf, check: bool },
    Watch { config: PathBuf, flags: Flags },
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, check_only) = match parse_args(&args) {
        Ok(Command::Bridge { config, check }) => (config, check),
        Ok(Command::Watch { config, flags }) => return watch_main(&config, flags),
        Err(e) => {
            eprintln!("rcemit-relay: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
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
            "configuration OK: {} wiki(s), {} UDP address(es), XMPP {} via {}",
            config.wikis.len(),
            config.listen.len(),
            config.account.jid,
            config.account.server.as_deref().unwrap_or("DNS SRV")
        );
        return ExitCode::SUCCESS;
    }
    init_logs(config.log_format, &config.log_level);
    let Some(runtime) = runtime(2) else {
        return ExitCode::from(1);
    };
    match runtime.block_on(bridge(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    let watch = match it.next().map(String::as_str) {
        Some("bridge") => false,
        Some("watch") => true,
        Some("-h" | "--help") | None => return Err("a subcommand is needed".into()),
        Some(other) => return Err(format!("unknown subcommand {other:?}")),
    };
    let (mut config, mut check, mut flags) = (None, false, Flags::default());
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
        match (arg.as_str(), watch) {
            ("--config", _) => config = Some(PathBuf::from(value()?)),
            ("--check-config", false) => check = true,
            ("--room", true) => flags.room = Some(value()?),
            ("--node", true) => flags.node = Some(value()?),
            ("--format", true) => flags.format = Some(value()?),
            ("--since", true) => flags.since = Some(value()?),
            ("--after-rcid", true) => flags.after_rcid = Some(number(value()?)?),
            ("--last", true) => flags.last = Some(number(value()?)? as usize),
            ("--history-only", true) => flags.history_only = true,
            (other, _) => return Err(format!("unknown argument {other:?}")),
        }
    }
    let config = config.ok_or("--config FILE is required")?;
    Ok(if watch {
        Command::Watch { config, flags }
    } else {
        Command::Bridge { config, check }
    })
}

fn runtime(threads: usize) -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .inspect_err(|e| tracing::error!(error = %e, "cannot start the runtime"))
        .ok()
}

fn watch_main(config: &std::path::Path, flags: Flags) -> ExitCode {
    let config = match WatchConfig::load(config, flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rcemit-relay: {e}");
            return ExitCode::from(1);
        }
    };
    init_logs(config.log_format, &config.log_level);
    let Some(runtime) = runtime(1) else {
        return ExitCode::from(1);
    };
    let result = runtime.block_on(async {
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
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}

fn init_logs(format: LogFormat, level: &str) {
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
    let receivers: Vec<_> = sockets
        .into_iter()
        .map(|s| tokio::spawn(udp::receive(s, shared.clone())))
        .collect();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
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
    if let Some(task) = metrics_task {
        task.abort();
    }
    tracing::info!(metrics = %shared.metrics.render().lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("; "), "stopped");
    Ok(())
}
