<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit\Tests;

use Psr\Log\AbstractLogger;
use RuntimeException;

/**
 * Paths, a loopback UDP listener, child PHP processes and a payload encoder shared by the tests and fixtures.
 */
final class TestSupport {
	/** @var string|null The staged copy (stage()), once made */
	private static $stage = null;

	/** The checkout (or, in a fixture run from the staged copy, that copy). */
	public static function repo(): string {
		return dirname( __DIR__, 2 );
	}

	/** The library built in the checkout: the release build, else the debug build. */
	private static function builtLibrary(): string {
		$repo = self::repo();
		foreach ( [ 'release', 'debug' ] as $profile ) {
			if ( is_file( "$repo/target/$profile/librcemit.so" ) ) {
				return "$repo/target/$profile/librcemit.so";
			}
		}
		throw new RuntimeException( 'librcemit.so is not built: run `cargo build --release` first' );
	}

	/**
	 * A world-readable copy of what unprivileged processes read (scripts/stage.sh: php/, the library, the C
	 * header), made once per PHPUnit run in the temporary directory and removed at its end. The tests run PHP
	 * as `nobody` (php -S under setpriv, and opcache.preload_user when root), which cannot read a checkout kept
	 * in a private (mode 0700) directory; so servers, fixtures, preload.php and the wikis' extension.json are
	 * taken from here, and the tests do not depend on where the checkout lives.
	 */
	public static function stage(): string {
		if ( is_file( self::repo() . '/.rcemit-stage' ) ) {
			return self::repo();
		}
		if ( self::$stage === null ) {
			$dir = self::tempDir( 'stage' );
			$cmd = [ 'bash', self::repo() . '/scripts/stage.sh', "$dir/copy",
				getenv( 'RCEMIT_LIBRARY' ) ?: self::builtLibrary() ];
			$proc = proc_open( $cmd, [ 1 => [ 'pipe', 'w' ], 2 => [ 'pipe', 'w' ] ], $pipes );
			$out = stream_get_contents( $pipes[1] ) . stream_get_contents( $pipes[2] );
			fclose( $pipes[1] );
			fclose( $pipes[2] );
			if ( proc_close( $proc ) !== 0 ) {
				throw new RuntimeException( "scripts/stage.sh failed: $out" );
			}
			if ( getenv( 'RCEMIT_HEADER' ) ) {
				copy( getenv( 'RCEMIT_HEADER' ), "$dir/copy/include/rcemit.h" );
			}
			$pid = getmypid();
			register_shutdown_function( static function () use ( $dir, $pid ) {
				if ( getmypid() === $pid ) {
					self::removeTree( $dir );
				}
			} );
			self::$stage = "$dir/copy";
		}
		return self::$stage;
	}

	/** The staged php/ directory (extension.json, preload.php, src/, maintenance/, tests/fixtures/). */
	public static function phpDir(): string {
		return self::stage() . '/php';
	}

	/** The library under test, staged: $RCEMIT_LIBRARY, else the release build, else the debug build. */
	public static function libraryPath(): string {
		return self::stage() . '/target/release/librcemit.so';
	}

	/** The header of the library under test, staged: $RCEMIT_HEADER, else include/rcemit.h. */
	public static function headerPath(): string {
		return self::stage() . '/include/rcemit.h';
	}

	/** A writable scratch directory, removed by the caller's tearDown via removeTree(). */
	public static function tempDir( string $name ): string {
		$dir = sys_get_temp_dir() . "/rcemit-php-$name-" . getmypid() . '-' . bin2hex( random_bytes( 4 ) );
		mkdir( $dir, 0755, true );
		// The opcache.preload_user child must read what it preloads.
		chmod( $dir, 0755 );
		return $dir;
	}

	public static function removeTree( string $dir ): void {
		if ( !is_dir( $dir ) || strpos( $dir, sys_get_temp_dir() . '/rcemit-php-' ) !== 0 ) {
			return;
		}
		$items = new \RecursiveIteratorIterator(
			new \RecursiveDirectoryIterator( $dir, \FilesystemIterator::SKIP_DOTS ),
			\RecursiveIteratorIterator::CHILD_FIRST
		);
		foreach ( $items as $item ) {
			$item->isDir() && !$item->isLink() ? rmdir( (string)$item ) : unlink( (string)$item );
		}
		rmdir( $dir );
	}

	/**
	 * A payload v3 (docs/payload.md) for an edit, with the given fields overridden.
	 *
	 * @param array $f rc_id, title, user, comment, namespace, ...
	 * @return string
	 */
	public static function payload( array $f = [] ): string {
		$f += [
			'rc_id' => 7, 'rc_type' => 0, 'namespace' => 0, 'page_id' => 3, 'this_oldid' => 12, 'last_oldid' => 11,
			'user_id' => 1, 'old_len' => 10, 'new_len' => 25, 'log_id' => 0, 'patrolled' => 0, 'flags' => 0,
			'timestamp' => '20261121230533', 'title' => 'Test page', 'user' => 'Admin', 'comment' => 'a summary',
		];
		$ints = [ $f['rc_id'], $f['rc_type'], $f['namespace'], $f['page_id'], $f['this_oldid'], $f['last_oldid'],
			$f['user_id'], $f['old_len'], $f['new_len'], $f['log_id'], $f['patrolled'], $f['flags'] ];
		$strings = [ $f['timestamp'], $f['title'], $f['user'], $f['comment'], '', '', '', '', '', '', '', '', '', '' ];
		$out = "RCE\x03" . pack( 'P12', ...$ints );
		foreach ( $strings as $s ) {
			$out .= pack( 'V', strlen( $s ) ) . $s;
		}
		return $out;
	}

	/**
	 * Runs a PHP script in a child process with extra ini settings.
	 *
	 * @param string[] $ini name => value, passed as -d
	 * @param string $script
	 * @param string[] $args
	 * @param bool $noIni Start with -n (no php.ini, hence no shared extensions such as FFI)
	 * @return array{0:int,1:string,2:string} exit code, stdout, stderr
	 */
	public static function runPhp( array $ini, string $script, array $args = [], bool $noIni = false ): array {
		$cmd = [ PHP_BINARY ];
		if ( $noIni ) {
			$cmd[] = '-n';
		}
		foreach ( $ini as $name => $value ) {
			$cmd[] = '-d';
			$cmd[] = "$name=$value";
		}
		$cmd[] = $script;
		array_push( $cmd, ...$args );
		$proc = proc_open( $cmd, [ 1 => [ 'pipe', 'w' ], 2 => [ 'pipe', 'w' ] ], $pipes );
		$out = stream_get_contents( $pipes[1] );
		$err = stream_get_contents( $pipes[2] );
		fclose( $pipes[1] );
		fclose( $pipes[2] );
		return [ proc_close( $proc ), (string)$out, (string)$err ];
	}

	/**
	 * Starts `php -S` on a loopback port with extra ini settings; stop with stopServer().
	 *
	 * @param string[] $ini
	 * @param string[] $args After `-S 127.0.0.1:PORT`: a router script, or `-t DOCROOT`
	 * @param string $log File receiving the server's stdout and stderr
	 * @param int|null $port Default: a free port
	 * @param string[]|null $env Environment of the server (default: inherited)
	 * @param string[] $wrapper Command the server runs under, e.g. setpriv to drop to another user
	 * @return array{proc:resource,port:int,log:string}
	 */
	public static function startServer( array $ini, array $args, string $log, ?int $port = null,
		?array $env = null, array $wrapper = []
	): array {
		$port = $port ?? self::freeTcpPort();
		$cmd = array_merge( $wrapper, [ PHP_BINARY ] );
		foreach ( $ini as $name => $value ) {
			$cmd[] = '-d';
			$cmd[] = "$name=$value";
		}
		array_push( $cmd, '-S', "127.0.0.1:$port", ...$args );
		$proc = proc_open( $cmd, [ 0 => [ 'file', '/dev/null', 'r' ], 1 => [ 'file', $log, 'a' ],
			2 => [ 'file', $log, 'a' ] ], $pipes, null, $env );
		$server = [ 'proc' => $proc, 'port' => $port, 'log' => $log ];
		for ( $i = 0; $i < 100; $i++ ) {
			$conn = @stream_socket_client( "tcp://127.0.0.1:$port", $errno, $errstr, 0.2 );
			if ( $conn ) {
				fclose( $conn );
				return $server;
			}
			if ( !proc_get_status( $proc )['running'] ) {
				break;
			}
			usleep( 50000 );
		}
		self::stopServer( $server );
		throw new RuntimeException( "php -S did not start:\n" . file_get_contents( $log ) );
	}

	/**
	 * @param array $server From startServer()
	 * @param array $query
	 * @param string $path
	 * @param array|null $post Form fields to POST
	 * @return string The response body
	 */
	public static function get( array $server, array $query, string $path = '/', ?array $post = null ): string {
		$url = "http://127.0.0.1:{$server['port']}$path?" . http_build_query( $query );
		$http = [ 'timeout' => 30, 'ignore_errors' => true ];
		if ( $post !== null ) {
			$http += [ 'method' => 'POST', 'header' => 'Content-Type: application/x-www-form-urlencoded',
				'content' => http_build_query( $post ) ];
		}
		$body = @file_get_contents( $url, false, stream_context_create( [ 'http' => $http ] ) );
		if ( $body === false ) {
			throw new RuntimeException( "GET $url failed:\n" . file_get_contents( $server['log'] ) );
		}
		return $body;
	}

	public static function stopServer( array $server ): void {
		// Only the server this test started, by its own process handle.
		proc_terminate( $server['proc'] );
		proc_close( $server['proc'] );
	}

	private static function freeTcpPort(): int {
		$sock = stream_socket_server( 'tcp://127.0.0.1:0' );
		$name = stream_socket_get_name( $sock, false );
		fclose( $sock );
		return (int)substr( $name, strrpos( $name, ':' ) + 1 );
	}
}

/**
 * A UDP socket bound to a free port on 127.0.0.1.
 */
final class UdpListener {
	/** @var resource */
	private $socket;
	/** @var int */
	public $port;

	public function __construct() {
		$this->socket = stream_socket_server( 'udp://127.0.0.1:0', $errno, $errstr, STREAM_SERVER_BIND );
		if ( !$this->socket ) {
			throw new RuntimeException( "cannot bind a UDP socket: $errstr" );
		}
		$name = stream_socket_get_name( $this->socket, false );
		$this->port = (int)substr( $name, strrpos( $name, ':' ) + 1 );
	}

	public function uri( string $prefix = '' ): string {
		return "udp://127.0.0.1:{$this->port}" . ( $prefix === '' ? '' : "/$prefix" );
	}

	/**
	 * Datagrams arriving until $count arrived or $timeout seconds passed without one.
	 *
	 * @param int $count
	 * @param float $timeout
	 * @return string[]
	 */
	public function receive( int $count, float $timeout = 5.0 ): array {
		$got = [];
		while ( count( $got ) < $count ) {
			$read = [ $this->socket ];
			$write = $except = null;
			$sec = (int)$timeout;
			if ( !stream_select( $read, $write, $except, $sec, (int)( ( $timeout - $sec ) * 1e6 ) ) ) {
				break;
			}
			$got[] = stream_socket_recvfrom( $this->socket, 65535 );
		}
		return $got;
	}

	public function close(): void {
		fclose( $this->socket );
	}
}

/**
 * Keeps every log record, with placeholders interpolated.
 */
final class CollectingLogger extends AbstractLogger {
	/** @var array<int,array{0:string,1:string}> [level, message] */
	public $records = [];

	public function log( $level, $message, array $context = [] ): void {
		$this->records[] = [ (string)$level, preg_replace_callback( '/\{(\w+)\}/', static function ( $m ) use (
			$context
		) {
			return isset( $context[$m[1]] ) && is_scalar( $context[$m[1]] ) ? (string)$context[$m[1]] : $m[0];
		}, (string)$message ) ];
	}
}
