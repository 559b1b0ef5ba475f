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

	/**
	 * @param string $libraryPath Absolute path of librcemit.so
	 * @param string $headerPath Path of include/rcemit.h
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
			$this->feeds[$key] = $library->openFeed( $config() );
		} catch ( Throwable $e ) {
			$this->feeds[$key] = null;
			$this->warnOnce( "feed:$key", 'RcEmit feed disabled in this PHP process: {cause}', $e );
		}
		return $this->feeds[$key];
	}

	/**
	 * Logs a failure on the rcemit channel, once per process and key.
	 *
	 * @param string $key
	 * @param string $message PSR-3 message with a {cause} placeholder
	 * @param Throwable $e
	 */
	public function warnOnce( string $key, string $message, Throwable $e ): void {
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
		$this->logger->warning( $message, $context );
	}

	/** @return string|null The cause of the last failure logged (for maintenance output) */
	public function lastWarning(): ?string {
		return $this->lastWarning;
	}
}
