<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit;

use FFI;
use Throwable;

// Bound when compiled: strlen() of the per-change path becomes an opcode.
use function strlen;

/**
 * The rcemit library (librcemit.so) seen through PHP FFI: loaded once per process, lazily.
 *
 * Usable from plain PHP, without MediaWiki:
 *
 *     require 'php/src/RcEmitException.php';
 *     require 'php/src/RcEmitLibrary.php';
 *     $lib = RcEmitLibrary::load( '/opt/rcemit/target/release/librcemit.so', '/opt/rcemit/include/rcemit.h' );
 *     $feed = $lib->openFeed( [ 'uri' => 'udp://127.0.0.1:9390', 'format' => 'json', 'wiki_id' => 'mywiki' ] );
 *     $code = $lib->emit( $feed, $payloadV1 );   // RcEmitLibrary::RESULT_OK, or a code for resultMessage()
 *     $lib->flush( 1000 );
 *     print_r( $lib->stats() );
 *
 * How the library is reached depends on `ffi.enable`:
 * - `ffi.enable=preload` outside the CLI (PHP-FPM, mod_php, `php -S`): the FFI API may only be called from code
 *   compiled by `opcache.preload`. php/preload.php compiles this class, which then loads the header and the
 *   library with FFI::cdef() on first use in each request. Nothing of rcemit is loaded at PHP's startup, so a
 *   missing, unreadable or wrong library or header can never stop PHP from starting: the load fails in the
 *   request, as an RcEmitException, and the extension logs it and stays off.
 * - Legacy recipe: php.ini's `ffi.preload` names a header (writePreloadHeader()) whose `FFI_SCOPE "rcemit"`
 *   this class opens with FFI::scope(). PHP then refuses to start when that header or its FFI_LIB is missing,
 *   so README no longer recommends it; it keeps working for setups that have it.
 * - CLI, or `ffi.enable=true`: the scope is used when ffi.preload defined it, otherwise FFI::cdef().
 *
 * Every failure is an RcEmitException whose message names the cause and the fix. This class only depends on
 * PHP itself, so that opcache.preload can compile it before any autoloader exists.
 */
final class RcEmitLibrary {
	/** The payload version the PHP side builds (see src/payload.rs); the library must read the same. */
	public const PAYLOAD_VERSION = 3;
	/** rcemit_result: success. Every other code is explained by resultMessage(). */
	public const RESULT_OK = 7100;
	/** rcemit_result: the output buffer was too small (nothing written). */
	private const RESULT_BUFFER_TOO_SMALL = 7106;
	/** The FFI_SCOPE name the preload header declares. */
	public const SCOPE = 'rcemit';

	/** @var self|null The one library of this process. */
	private static $instance = null;

	/** @var FFI */
	private $ffi;
	/** @var string How the library was reached: "scope" or "cdef". */
	private $mode;
	/** @var string The library in use, see libraryPath(). */
	private $libraryPath;

	private function __construct( FFI $ffi, string $mode, string $libraryPath ) {
		$this->ffi = $ffi;
		$this->mode = $mode;
		$this->libraryPath = $libraryPath;
	}

	/**
	 * Returns the process's library, loading it on first use.
	 *
	 * @param string $libraryPath Absolute path of librcemit.so (used by FFI::cdef; under the preload recipe the
	 *  header's FFI_LIB decides)
	 * @param string $headerPath include/rcemit.h of the same build (used by FFI::cdef)
	 * @return self
	 * @throws RcEmitException naming the cause and the fix
	 */
	public static function load( string $libraryPath, string $headerPath ): self {
		if ( self::$instance ) {
			return self::$instance;
		}
		$ffi = self::open( $libraryPath, $headerPath, $mode, $loaded );
		$lib = new self( $ffi, $mode, $loaded );
		$version = $lib->ffi->rcemit_payload_version();
		if ( $version !== self::PAYLOAD_VERSION ) {
			throw new RcEmitException( sprintf(
				'rcemit library %s (version %s) reads payload version %d but this extension builds version %d. ' .
				'Fix: build the library from the same rcemit checkout as the extension (cargo build --release).',
				$libraryPath, $lib->version(), $version, self::PAYLOAD_VERSION
			) );
		}
		self::$instance = $lib;
		return $lib;
	}

	/**
	 * @param string $libraryPath
	 * @param string $headerPath
	 * @param string|null &$mode Set to "scope" or "cdef"
	 * @param string|null &$loaded Set to the library in use (in scope mode: FFI_LIB of the preload header)
	 * @return FFI
	 */
	private static function open( string $libraryPath, string $headerPath, ?string &$mode, ?string &$loaded
	): FFI {
		if ( !extension_loaded( 'FFI' ) ) {
			throw new RcEmitException(
				'PHP\'s FFI extension is not loaded, so the rcemit library cannot be called. ' .
				'Fix: enable it (extension=ffi; on Debian it is part of php-cli/php-fpm, check `php -m | grep FFI`).'
			);
		}
		$enable = strtolower( trim( (string)ini_get( 'ffi.enable' ) ) );
		if ( in_array( $enable, [ '', '0', 'false', 'off', 'no' ], true ) ) {
			throw new RcEmitException(
				'PHP FFI is disabled (ffi.enable=0). Fix: set ffi.enable=preload in php.ini together with ' .
				'ffi.preload and opcache.preload as the RcEmit README shows (or ffi.enable=true).'
			);
		}
		$restricted = $enable === 'preload' && PHP_SAPI !== 'cli';
		if ( trim( (string)ini_get( 'ffi.preload' ) ) !== '' ) {
			try {
				$ffi = FFI::scope( self::SCOPE );
			} catch ( Throwable $e ) {
				if ( $restricted && strpos( $e->getMessage(), 'restricted' ) !== false ) {
					throw new RcEmitException( self::restrictedMessage( $e ) );
				}
				// No "rcemit" scope among the ffi.preload headers: load the library with FFI::cdef() below.
			}
			if ( isset( $ffi ) ) {
				// Loaded by the master at startup; refusing it now still stops this process from using code
				// that the next restart would load (as root) from a file others can replace.
				$preload = self::preloadedHeader();
				if ( $preload ) {
					self::assertNotWritable( 'preload header (php.ini ffi.preload)', $preload[0],
						'write the header to a directory only root can write (writePreloadHeader.php --out) and ' .
						'point ffi.preload at it' );
					self::assertNotWritable( 'library (FFI_LIB of the preload header)', $preload[1],
						'install the library where only root can write and rewrite the preload header' );
				}
				$mode = 'scope';
				$loaded = $preload[1] ?? $libraryPath;
				return $ffi;
			}
		}
		if ( $restricted ) {
			// FFI::cdef() is restricted: it only works when this class was compiled by opcache.preload. An empty
			// one (no declarations, no library: nothing is loaded) asks first, so that the message says "not
			// preloaded" rather than complaining about a file. (Not FFI::type(): PHP 8.3+ deprecates calling it
			// statically.)
			try {
				FFI::cdef();
			} catch ( Throwable $e ) {
				throw new RcEmitException( self::restrictedMessage( $e ) );
			}
		}
		self::assertAbsolute( 'C header', $headerPath, '$wgRcEmitHeaderPath', 'include/rcemit-ffi.h' );
		if ( !is_readable( $headerPath ) ) {
			throw new RcEmitException( sprintf(
				'The rcemit C header %s is missing or unreadable. Fix: point $wgRcEmitHeaderPath at the header ' .
				'of the library\'s build (make install: /usr/lib/rcemit/current/rcemit.h; a checkout: ' .
				'include/rcemit-ffi.h).',
				$headerPath
			) );
		}
		self::assertAbsolute( 'library', $libraryPath, '$wgRcEmitLibraryPath', 'librcemit.so' );
		if ( !is_file( $libraryPath ) ) {
			throw new RcEmitException( sprintf(
				'The rcemit library %s does not exist. Fix: build and install it (`cargo build --release && ' .
				'make install` in the rcemit checkout), or set $wgRcEmitLibraryPath to where librcemit.so is.',
				$libraryPath
			) );
		}
		$safe = [];
		self::assertNotWritable( 'library', $libraryPath,
			'install the library where only root can write and set $wgRcEmitLibraryPath', $safe );
		self::assertNotWritable( 'C header', $headerPath,
			'install the header where only root can write and set $wgRcEmitHeaderPath', $safe );
		try {
			$ffi = FFI::cdef( (string)file_get_contents( $headerPath ), $libraryPath );
		} catch ( Throwable $e ) {
			throw new RcEmitException( sprintf(
				'PHP FFI could not load the rcemit library %s with header %s: %s. Fix: rebuild the library ' .
				'(cargo build --release) and use the include/rcemit.h of the same checkout; the file must be a ' .
				'shared object for this machine, readable by the PHP process.',
				$libraryPath, $headerPath, $e->getMessage()
			) );
		}
		$mode = 'cdef';
		$loaded = $libraryPath;
		return $ffi;
	}

	private static function restrictedMessage( Throwable $e ): string {
		return 'PHP FFI is restricted (ffi.enable=preload) and the RcEmit wrapper class was not compiled by ' .
			'opcache.preload. Fix: in php.ini of this SAPI set opcache.enable=1 and ' .
			'opcache.preload=<RcEmit>/preload.php (plus opcache.preload_user=www-data when PHP starts as root), ' .
			'then restart PHP; or set ffi.enable=true. (' . $e->getMessage() . ')';
	}

	/**
	 * The header php.ini's `ffi.preload` should name: `FFI_SCOPE` and the absolute `FFI_LIB` as its very first
	 * lines, then the library's declarations.
	 *
	 * @param string $header Text of include/rcemit.h
	 * @param string $libraryPath Absolute path of librcemit.so
	 * @return string
	 */
	public static function preloadHeader( string $header, string $libraryPath ): string {
		if ( $libraryPath === '' || $libraryPath[0] !== '/' || strpbrk( $libraryPath, "\"\\\n" ) !== false ) {
			throw new RcEmitException( "FFI_LIB must be an absolute path without quotes or backslashes: $libraryPath" );
		}
		return '#define FFI_SCOPE "' . self::SCOPE . "\"\n#define FFI_LIB \"$libraryPath\"\n" .
			$header;
	}

	/** @return string "scope" (the legacy ffi.preload recipe) or "cdef" (loaded by FFI::cdef in this process) */
	public function mode(): string {
		return $this->mode;
	}

	/**
	 * The ffi.preload header that declares this scope and its FFI_LIB (ffi.preload is a PATH_SEPARATOR list of
	 * files or globs), so that status output names the library actually in use and both can be checked.
	 *
	 * @return array{0:string,1:string}|null [header file, FFI_LIB]
	 */
	private static function preloadedHeader(): ?array {
		foreach ( explode( PATH_SEPARATOR, (string)ini_get( 'ffi.preload' ) ) as $pattern ) {
			foreach ( glob( trim( $pattern ) ) ?: [] as $file ) {
				$head = (string)@file_get_contents( $file, false, null, 0, 4096 );
				if ( strpos( $head, '#define FFI_SCOPE "' . self::SCOPE . '"' ) !== false
					&& preg_match( '/^#define FFI_LIB "([^"]+)"/m', $head, $m )
				) {
					return [ $file, $m[1] ];
				}
			}
		}
		return null;
	}

	/**
	 * Refuses a file PHP loads code or declarations from when someone other than its deployer could replace
	 * it: the file, or any directory above it (as given and after resolving symlinks), is
	 * - writable by every user (a sticky directory such as /tmp excepted: others cannot replace its entries), or
	 * - outside the CLI, writable by the PHP process's own user, unless that user is root. A web worker
	 *   (www-data) must not be able to swap the code it runs, and under the preload recipe the master loads
	 *   it as root at the next restart. The CLI (maintenance scripts, run by the admin who deployed the files)
	 *   and root (who can write anything) get the world-writable test only: an own-user test would refuse
	 *   every file the admin owns.
	 * Costs a few stat() calls once per load (per request in a web SAPI, where PHP keeps no state between
	 * requests).
	 *
	 * @param string $what What the file is, for the message
	 * @param string $path Absolute path
	 * @param string $fix The alternative to fixing the permissions
	 */
	/**
	 * A relative path would resolve against the working directory, which differs between SAPIs and scripts.
	 * @throws RcEmitException
	 */
	private static function assertAbsolute( string $what, string $path, string $setting, string $file ): void {
		if ( $path === '' || $path[0] !== '/' ) {
			throw new RcEmitException( sprintf(
				'The rcemit %s path "%s" is not absolute. Fix: set %s to the absolute path of %s.',
				$what, $path, $setting, $file
			) );
		}
	}

	private static function assertNotWritable( string $what, string $path, string $fix, array &$safe = [] ): void {
		$ownUser = PHP_SAPI !== 'cli' && !( function_exists( 'posix_geteuid' ) && posix_geteuid() === 0 );
		$real = realpath( $path );
		foreach ( array_unique( [ $path, $real === false ? $path : $real ] ) as $start ) {
			for ( $node = $start; ; $node = dirname( $node ) ) {
				// A directory found safe a moment ago (the library's and the header's share most of theirs)
				// is not stat()ed again: this runs once per request in a web SAPI.
				$why = isset( $safe[$node] ) ? null : self::writableBy( $node, $ownUser );
				$safe[$node] = true;
				if ( $why !== null ) {
					throw new RcEmitException( sprintf(
						'The rcemit %s %s is not safe to load: %s %s, and whoever can write there can replace ' .
						'the code PHP runs. Fix: make %s writable only by root or the account that deploys the ' .
						'wiki, not the web server (e.g. chown root: %s && chmod go-w %s), or %s.',
						$what, $path, $node === $path ? 'it' : $node, $why, $node, escapeshellarg( $node ),
						escapeshellarg( $node ), $fix
					) );
				}
				if ( $node === '/' || $node === '.' ) {
					break;
				}
			}
		}
	}

	/** @return string|null Why $node is writable by someone it must not be ("is writable by ..."), or null */
	private static function writableBy( string $node, bool $ownUser ): ?string {
		$stat = @stat( $node );
		if ( $stat === false ) {
			return null;
		}
		$mode = $stat['mode'];
		$stickyDir = ( $mode & 0170000 ) === 0040000 && ( $mode & 01000 );
		if ( $stickyDir ) {
			return null;
		}
		if ( $mode & 0002 ) {
			return sprintf( 'is writable by every user (mode %04o)', $mode & 07777 );
		}
		if ( $ownUser && is_writable( $node ) ) {
			$user = function_exists( 'posix_geteuid' )
				? ( posix_getpwuid( posix_geteuid() ) ?: [ 'name' => 'uid ' . posix_geteuid() ] )['name'] : '';
			return trim( "is writable by the PHP process's user $user" );
		}
		return null;
	}

	/** @return string The library in use: FFI_LIB of the preload header in scope mode, else the path given */
	public function libraryPath(): string {
		return $this->libraryPath;
	}

	/** @return string The library's version string */
	public function version(): string {
		// PHP FFI hands a `const char *` result over as a PHP string already.
		$version = $this->ffi->rcemit_version();
		return is_string( $version ) ? $version : FFI::string( $version );
	}

	/**
	 * Opens a feed (once per process and distinct configuration: handles are never closed).
	 *
	 * @param array $config See rcemit_feed_open() in include/rcemit.h: uri, format, canonical_server, ...
	 * @param string $label How the admin knows the feed, e.g. `$wgRCFeeds['irc-relay']`, for the message
	 * @return int Feed handle for emit()
	 * @throws RcEmitException naming the feed and the option when the configuration is rejected
	 */
	public function openFeed( array $config, string $label = '' ): int {
		$json = json_encode( $config, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE );
		$handle = $this->ffi->new( 'uint32_t' );
		$code = $this->ffi->rcemit_feed_open( $json, strlen( $json ), FFI::addr( $handle ) );
		if ( $code !== self::RESULT_OK ) {
			throw new RcEmitException( self::feedConfigMessage(
				$label !== '' ? $label : 'the feed for ' . ( $config['uri'] ?? '(no uri)' ), $this->lastError(),
				$this->resultMessage( $code ) ) );
		}
		return $handle->cdata;
	}

	/**
	 * One short line for a rejected feed configuration: the feed, the $wgRCFeeds option (or the wiki setting)
	 * the library's key comes from, and the library's reason.
	 */
	private static function feedConfigMessage( string $label, string $error, string $result ): string {
		// The library's keys and where an admin sets each (see RcEmitFeed::libraryConfig()).
		$options = [
			'uri' => "option 'uri'", 'format' => "option 'format'", 'max_datagram' => "option 'max_datagram'",
			'xmlrc_properties' => "option 'properties'", 'channel' => "option 'channel'",
			'irc_interwiki_prefix' => "option 'add_interwiki_prefix'",
			'canonical_server' => '$wgCanonicalServer', 'server_name' => '$wgServerName',
			'script_path' => '$wgScriptPath', 'script' => '$wgScript', 'article_path' => '$wgArticlePath',
			'wiki_id' => 'the wiki id ($wgDBname)', 'use_rc_patrol' => '$wgUseRCPatrol',
			'use_np_patrol' => '$wgUseNPPatrol',
		];
		if ( preg_match( '/^feed config key "([^"]+)": (.*)$/s', $error, $m ) ) {
			$where = $options[$m[1]] ?? "setting '{$m[1]}'";
			return sprintf( 'rcemit rejected the feed configuration of %s, %s: %s. Fix: correct it in ' .
				'LocalSettings.php; the other feeds keep working.', $label, $where, $m[2] );
		}
		return sprintf( 'rcemit rejected the feed configuration of %s: %s. Fix: correct that $wgRCFeeds entry; the ' .
			'other feeds keep working.', $label, $error !== '' ? $error : $result );
	}

	/**
	 * Hands one payload to the feed's background sender and wakes it. Never blocks; one FFI call.
	 *
	 * @param int $feed Handle from openFeed()
	 * @param string $payload Payload v3 (see docs/payload.md)
	 * @return int RESULT_OK, or the code saying why the event was dropped (the library counts it)
	 */
	public function emit( int $feed, string $payload ): int {
		return $this->ffi->rcemit_feed_emit( $feed, $payload, strlen( $payload ) );
	}

	/**
	 * Like emit(), without waking the sender (no system call): the event leaves at the next wake(), emit()
	 * or flush() of the process, or within a second.
	 *
	 * @param int $feed Handle from openFeed()
	 * @param string $payload Payload v3 (see docs/payload.md)
	 * @return int RESULT_OK, or the code saying why the event was dropped (the library counts it)
	 */
	public function queue( int $feed, string $payload ): int {
		return $this->ffi->rcemit_feed_queue( $feed, $payload, strlen( $payload ) );
	}

	/** Wakes the sender so that what queue() queued leaves now; cheap when it is awake. */
	public function wake(): void {
		$this->ffi->rcemit_wake();
	}

	/**
	 * Whether this process meets `$key` for the first time: the library remembers it, so this holds across
	 * the requests of a web worker, which forget everything else ("log once per worker process").
	 *
	 * @param string $key
	 * @return bool
	 */
	public function once( string $key ): bool {
		$first = $this->ffi->new( 'uint8_t' );
		return $this->ffi->rcemit_once( $key, strlen( $key ), FFI::addr( $first ) ) === self::RESULT_OK
			&& $first->cdata === 1;
	}

	/**
	 * Waits until the queue is empty and sent, or the timeout passed.
	 *
	 * @param int $timeoutMs
	 * @return int RESULT_OK, or the code saying why not everything was sent
	 */
	public function flush( int $timeoutMs ): int {
		return $this->ffi->rcemit_flush( $timeoutMs );
	}

	/** @return array<string,int> The process-wide counters of rcemit_stats, by field name */
	public function stats(): array {
		$stats = $this->ffi->new( 'rcemit_stats' );
		$code = $this->ffi->rcemit_stats_read( FFI::addr( $stats ), FFI::sizeof( $stats ) );
		if ( $code !== self::RESULT_OK ) {
			throw new RcEmitException( 'rcemit_stats_read failed: ' . $this->resultMessage( $code ) );
		}
		$out = [];
		foreach ( FFI::typeof( $stats )->getStructFieldNames() as $name ) {
			$out[$name] = $stats->$name;
		}
		return $out;
	}

	/** @return string The library's description of a result code */
	public function resultMessage( int $code ): string {
		return $this->readString( function ( $buf, int $len, $written ) use ( $code ) {
			return $this->ffi->rcemit_result_message( $code, $buf, $len, $written );
		} ) ?? "unknown result code $code";
	}

	/** @return string The last error the library recorded on this thread, or "" */
	public function lastError(): string {
		return $this->readString( function ( $buf, int $len, $written ) {
			return $this->ffi->rcemit_last_error( $buf, $len, $written );
		} ) ?? '';
	}

	/**
	 * @param callable $call fn( buf, len, written_out ): int
	 * @return string|null
	 */
	private function readString( callable $call ): ?string {
		foreach ( [ 1024, 65536 ] as $len ) {
			$buf = $this->ffi->new( "uint8_t[$len]" );
			$written = $this->ffi->new( 'size_t' );
			$code = $call( $buf, $len, FFI::addr( $written ) );
			if ( $code === self::RESULT_OK ) {
				return FFI::string( $buf, min( $written->cdata, $len ) );
			}
			if ( $code !== self::RESULT_BUFFER_TOO_SMALL ) {
				break;
			}
		}
		return null;
	}
}
