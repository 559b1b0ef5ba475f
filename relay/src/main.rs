//! rcemit-relay: `bridge` receives RcEmit's xmlrc datagrams and posts each change into its wiki's XMPP room.
//! (`poll` and `watch`, DESIGN.md §10, are to come as further subcommands.)

use rcemit_relay::config::{Config, LogFormat};
use rcemit_relay::metrics::{self, Metrics};
use rcemit_relay::udp::{self, Shared};
use rcemit_relay::xmpp;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};

const USAGE: &str = "usage: rcemit-relay bridge --config FILE [--check-config]
  bridge          receive xmlrc datagrams over UDP and post each change to its wiki's XMPP room
  --config FILE   the TOML configuration (see relay/bridge.example.toml)
  --check-config  check the configuration (and read the password) and exit";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, check_only) = match parse_args(&args) {
        Ok(parsed) => parsed,
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
            config.jid,
            config.server.as_deref().unwrap_or("DNS SRV")
        );
        return ExitCode::SUCCESS;
    }
    init_logs(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(bridge(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}

fn parse_args(args: &[String]) -> Result<(PathBuf, bool), String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("bridge") => {}
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
    Ok((config.ok_or("--config FILE is required")?, check))
}

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
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
