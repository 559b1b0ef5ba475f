<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

use Psr\Log\LoggerInterface;
use Throwable;

/**
 * The process's rcemit state on the extension side: the library, loaded on first use; one feed handle per
 * distinct feed configuration; and the rule that every failure is logged once and then stays quiet.
 *
 * A library that cannot be loaded disables rcemit for the rest of the process (one log line, edits go on).
 * A feed whose configuration the library rejects is disabled alone; the other feeds keep working.
 */
final class Emitter {
	/** @var string */
	private $libraryPath;
	/** @var string */
	private $headerPath;
	/** @var LoggerInterface */
	private $logger;
	/** @var RcEmitLibrary|null */
	private $library = null;
	/** @var bool The library failed to load: rcemit is off for this process. */
	private $disabled = false;
	/** @var array<string,int|null> Feed handle by configuration key; null = rejected, do not retry. */
	private $feeds = [];
	/** @var array<string,true> Keys of failures already logged. */
	private $logged = [];
	/** @var string|null The cause in the last warning logged. */
	private $lastWarning = null;
	/** @var string[] Every cause logged by this process (this request in a web SAPI), oldest first. */
	private $warnings = [];
	/** @var array<string,true> Destination uris of the feeds opened by this process (request). */
	private $destinations = [];
	/** @var bool Whether checkDestinations() is registered to run at the end of the process (request). */
	private $checkRegistered = false;

	/**
	 * @param string $libraryPath Absolute path of librcemit.so
	 * @param string $headerPath Path of include/rcemit-ffi.h (or rcemit.h) of the library's build
	 * @param LoggerInterface $logger The `rcemit` log channel
	 */
	public function __construct( string $libraryPath, string $headerPath, LoggerInterface $logger ) {
		$this->libraryPath = $libraryPath;
		$this->headerPath = $headerPath;
		$this->logger = $logger;
	}

	/** @return RcEmitLibrary|null The library, or null when it cannot be used in this process */
	public function library(): ?RcEmitLibrary {
		if ( $this->library || $this->disabled ) {
			return $this->library;
		}
		try {
			if ( !class_exists( RcEmitLibrary::class ) ) {
				throw new RcEmitException( 'the extension is incomplete: ' . __DIR__ . '/RcEmitLibrary.php is ' .
					'missing (neither opcache.preload nor the autoloader found the class). Fix: reinstall the ' .
					'extension (make install), then reload PHP.' );
			}
			$this->library = RcEmitLibrary::load( $this->libraryPath, $this->headerPath );
		} catch ( Throwable $e ) {
			$this->disabled = true;
			$this->warnOnce( 'load', 'RcEmit is disabled in this PHP process: {cause}', $e );
		}
		return $this->library;
	}

	/**
	 * The handle of the feed with this configuration, opened on first use.
	 *
	 * @param string $key Identifies the configuration (equal keys, equal configurations)
	 * @param callable $config fn(): array, the rcemit_feed_open() configuration; called once per key
	 * @return int|null Null when rcemit or this feed is disabled
	 */
	public function feed( string $key, callable $config ): ?int {
		if ( array_key_exists( $key, $this->feeds ) ) {
			return $this->feeds[$key];
		}
		$library = $this->library();
		if ( !$library ) {
			return null;
		}
		try {
			$params = $config();
			$this->feeds[$key] = $library->openFeed( $params, self::feedLabel( (string)( $params['uri'] ?? '' ) ) );
			$this->destinations[(string)( $params['uri'] ?? '' )] = true;
			if ( !$this->checkRegistered ) {
				$this->checkRegistered = true;
				register_shutdown_function( [ $this, 'checkDestinations' ] );
			}
		} catch ( Throwable $e ) {
			$this->feeds[$key] = null;
			$this->warnOnce( "feed:$key", 'RcEmit feed disabled in this PHP process: {cause}', $e );
		}
		return $this->feeds[$key];
	}

	/**
	 * How an admin finds a feed in LocalSettings.php: its $wgRCFeeds key(s), found by uri when MediaWiki runs,
	 * else the uri.
	 *
	 * @param string $uri
	 * @return string e.g. `$wgRCFeeds['irc-relay']`
	 */
	public static function feedLabel( string $uri ): string {
		$names = [];
		try {
			if ( class_exists( \MediaWiki\MediaWikiServices::class ) ) {
				$feeds = \MediaWiki\MediaWikiServices::getInstance()->getMainConfig()->get( 'RCFeeds' );
				foreach ( is_array( $feeds ) ? $feeds : [] as $name => $params ) {
					if ( is_array( $params ) && ( $params['class'] ?? null ) === RcEmitFeed::class
						&& (string)( $params['uri'] ?? '' ) === $uri
					) {
						$names[] = "\$wgRCFeeds['$name']";
					}
				}
			}
		} catch ( Throwable $e ) {
			// No MediaWiki services (plain PHP use): the uri alone names the feed.
		}
		return $names ? implode( ' / ', $names ) : "the feed for $uri";
	}

	/**
	 * Makes a destination that cannot be resolved or reached visible on the rcemit channel, once per process
	 * and destination. Runs once at the end of each process (in a web SAPI: each request) that opened a feed:
	 * one rcemit_stats_read, nothing more while the failure counters are zero. The sender works
	 * asynchronously, so a failure shows at the end of a later request of the same worker.
	 *
	 * PHP forgets everything between the requests of a web worker, but the library does not: "already
	 * reported" is remembered by the library (rcemit_once).
	 * The library counts failures for the whole process, not per feed: a host name that does not resolve is
	 * confirmed with a lookup here (after the response, once per process and name) and logged naming its feed;
	 * send errors (a receiver not listening) cannot be attributed, so they are logged once per process with
	 * every destination of the process.
	 */
	public function checkDestinations(): void {
		try {
			if ( !$this->library || !$this->destinations ) {
				return;
			}
			if ( PHP_SAPI === 'cli' ) {
				// A maintenance script ends here: let the sender try what it queued (the library's exit
				// handler would wait as long), so that this run's failures are counted before the check.
				$this->library->flush( 500 );
			}
			$stats = $this->library->stats();
			$dns = (int)$stats['dns_failures'] + (int)$stats['unresolved'];
			$send = (int)$stats['send_errors'];
			if ( $dns === 0 && $send === 0 ) {
				return;
			}
			foreach ( array_keys( $this->destinations ) as $uri ) {
				$host = self::hostOf( (string)$uri );
				if ( $dns > 0 && $host !== null && filter_var( $host, FILTER_VALIDATE_IP ) === false
					&& $this->library->once( "rcemit-reported-dns:$uri" ) && !self::resolves( $host )
				) {
					$this->warnOnce( "dns:$uri", 'RcEmit cannot deliver to {feed}: {cause}', new RcEmitException(
						sprintf( 'the host name %s of %s does not resolve (dns_failures=%d, unresolved=%d events so ' .
						'far in this PHP process; logged once per process). Fix: correct the uri in ' .
						'LocalSettings.php ' .
						'or the DNS entry; rcemit retries the lookup every few seconds.',
						$host, $uri, $stats['dns_failures'], $stats['unresolved'] ) ), [ 'feed' => self::feedLabel(
						(string)$uri ) ] );
				}
			}
			if ( $send > 0 && $this->library->once( 'rcemit-reported-send' ) ) {
				$named = [];
				foreach ( array_keys( $this->destinations ) as $uri ) {
					$named[] = self::feedLabel( (string)$uri ) . ' (' . rtrim( (string)$uri ) . ')';
				}
				$this->warnOnce( 'send', 'RcEmit cannot deliver to every destination: {cause}', new RcEmitException(
					sprintf( 'sending datagrams failed %d times so far in this PHP process (send_errors: typically ' .
					'a receiver that does not listen on its port, or no route to it). The library counts send ' .
					'errors for all feeds together; this process sends to %s. Logged once per process. Fix: start ' .
					'the receiver, or correct its uri in LocalSettings.php.', $send, implode( ', ', $named ) ) ) );
			}
		} catch ( Throwable $e ) {
			// A status check must never disturb the request it runs after.
		}
	}

	private static function hostOf( string $uri ): ?string {
		if ( !preg_match( '~^udp://(\[[^\]]+\]|[^:/]+)~i', $uri, $m ) ) {
			return null;
		}
		return trim( $m[1], '[]' );
	}

	private static function resolves( string $host ): bool {
		return gethostbynamel( $host ) !== false || @dns_get_record( $host, DNS_AAAA );
	}

	/**
	 * Logs a failure on the rcemit channel, once per process and key.
	 *
	 * @param string $key
	 * @param string $message PSR-3 message with a {cause} placeholder
	 * @param Throwable $e
	 */
	public function warnOnce( string $key, string $message, Throwable $e, array $extra = [] ): void {
		if ( isset( $this->logged[$key] ) ) {
			return;
		}
		$this->logged[$key] = true;
		if ( $e instanceof RcEmitException ) {
			// An expected failure: its message says it all, a backtrace would only bury it.
			$cause = $e->getMessage();
			$context = [ 'cause' => $cause ];
		} else {
			$cause = get_class( $e ) . ': ' . $e->getMessage() . ' at ' . $e->getFile() . ':' . $e->getLine();
			$context = [ 'cause' => $cause, 'exception' => $e ];
		}
		$this->lastWarning = $cause;
		$this->warnings[] = strtr( $message, [ '{cause}' => $cause ] + array_combine(
			array_map( static function ( $k ) {
				return '{' . $k . '}';
			}, array_keys( $extra ) ), array_values( $extra ) ) );
		$this->logger->warning( $message, $context + $extra );
		self::fallbackToErrorLog( end( $this->warnings ) );
	}

	/**
	 * MediaWiki drops a log line silently when the channel's file cannot be written, e.g. a rcemit.log that a
	 * root CLI run created before the web user (www-data) had to write to it. Then the line also goes to PHP's
	 * error log (Apache's or PHP-FPM's), so no warning is lost.
	 *
	 * @param string $line
	 */
	private static function fallbackToErrorLog( string $line ): void {
		try {
			$dest = $GLOBALS['wgDebugLogGroups']['rcemit'] ?? null;
			if ( is_array( $dest ) ) {
				$dest = $dest['destination'] ?? null;
			}
			if ( !is_string( $dest ) || $dest === '' || strpos( $dest, '://' ) !== false ) {
				return;
			}
			$writable = file_exists( $dest ) ? is_writable( $dest ) : is_writable( dirname( $dest ) );
			if ( !$writable ) {
				$user = function_exists( 'posix_geteuid' )
					? ( posix_getpwuid( posix_geteuid() ) ?: [ 'name' => 'uid ' . posix_geteuid() ] )['name'] : '?';
				error_log( "$line [RcEmit: the rcemit log $dest is not writable by $user, so this line went to " .
					"PHP's error log; make it writable by the web server's user]" );
			}
		} catch ( Throwable $e ) {
			// Logging must never break the request.
		}
	}

	/** @return string|null The cause of the last failure logged (for maintenance output) */
	public function lastWarning(): ?string {
		return $this->lastWarning;
	}

	/** @return string[] Every warning this process (request) logged, as logged, oldest first */
	public function warnings(): array {
		return $this->warnings;
	}

	/** @return bool Whether the library failed to load, so RcEmit is off in this process */
	public function disabled(): bool {
		return $this->disabled;
	}
}
