<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit\Tests;

use MediaWiki\Extension\RcEmit\Emitter;
use MediaWiki\Extension\RcEmit\RcEmitLibrary;
use PHPUnit\Framework\Attributes\CoversClass;
use PHPUnit\Framework\TestCase;

/**
 * The production recipe run for real: `php -S` (a SAPI other than cli, so ffi.enable=preload restricts the FFI
 * API) with ffi.preload naming the written preload header and opcache.preload compiling the wrapper. The server
 * reads the staged copy (TestSupport::stage()): it preloads, or runs, as `nobody`.
 *
 * @covers \MediaWiki\Extension\RcEmit\RcEmitLibrary
 * @covers \MediaWiki\Extension\RcEmit\Emitter
 *
 * Metadata twice: the attributes for PHPUnit 10+ (trixie's 11.5, which deprecates doc-comment metadata and
 * ignores it where attributes exist), the annotations for PHPUnit 9.6 (bookworm), which ignores attributes.
 */
#[CoversClass( RcEmitLibrary::class )]
#[CoversClass( Emitter::class )]
class PreloadRecipeTest extends TestCase {
	/** @var string */
	private $dir;
	/** @var string */
	private $header;
	/** @var array|null */
	private $server = null;

	protected function setUp(): void {
		$this->dir = TestSupport::tempDir( 'preload' );
		$this->header = "{$this->dir}/rcemit-preload.h";
		file_put_contents( $this->header, RcEmitLibrary::preloadHeader(
			(string)file_get_contents( TestSupport::headerPath() ), TestSupport::libraryPath() ) );
	}

	protected function tearDown(): void {
		if ( $this->server ) {
			TestSupport::stopServer( $this->server );
		}
		TestSupport::removeTree( $this->dir );
	}

	/**
	 * php.ini lines of the recipe (README), minus the ones a test leaves out.
	 */
	private function ini( bool $ffiPreload, bool $opcachePreload ): array {
		$ini = [ 'ffi.enable' => 'preload', 'opcache.enable' => '1', 'opcache.enable_cli' => '1' ];
		if ( $ffiPreload ) {
			$ini['ffi.preload'] = $this->header;
		}
		if ( $opcachePreload ) {
			$ini['opcache.preload'] = TestSupport::phpDir() . '/preload.php';
			// PHP refuses to preload as root unless told which user to preload as.
			if ( function_exists( 'posix_geteuid' ) && posix_geteuid() === 0 ) {
				$ini['opcache.preload_user'] = 'nobody';
			}
		}
		return $ini;
	}

	private function request( array $ini, array $query, array $wrapper = [] ): array {
		$this->server = TestSupport::startServer( $ini, [ TestSupport::phpDir() . '/tests/fixtures/emitter.php' ],
			"{$this->dir}/server.log", null, null, $wrapper );
		$body = TestSupport::get( $this->server, $query + [ 'lib' => TestSupport::libraryPath(),
			'header' => TestSupport::headerPath(), 'uri' => 'udp://127.0.0.1:9' ] );
		$result = json_decode( $body, true );
		$this->assertIsArray( $result, $body . "\n" . file_get_contents( "{$this->dir}/server.log" ) );
		$this->assertSame( 'cli-server', $result['sapi'] );
		$this->assertArrayNotHasKey( 'exception', $result );
		return $result;
	}

	public function testRecipeDeliversThroughThePreloadedScope(): void {
		$listener = new UdpListener();
		$result = $this->request( $this->ini( true, true ),
			[ 'preload' => 1, 'uri' => $listener->uri( "#test\t" ), 'rc_id' => 4242,
				'lib' => '/configured/elsewhere.so' ] );
		$this->assertTrue( $result['preloaded'], 'php/preload.php compiled the wrapper' );
		$this->assertSame( 'scope', $result['mode'] );
		$this->assertSame( TestSupport::libraryPath(), $result['library_path'], 'FFI_LIB of the preload header' );
		$this->assertSame( [], $result['warnings'] );
		$this->assertSame( RcEmitLibrary::RESULT_OK, $result['code'] );
		$got = $listener->receive( 1 );
		$listener->close();
		$this->assertCount( 1, $got );
		$this->assertStringStartsWith( "#test\t {", $got[0] );
		$this->assertSame( 4242, json_decode( substr( $got[0], strlen( "#test\t " ) ), true )['id'] );
	}

	/**
	 * A web SAPI running as an ordinary user (here `nobody`, as www-data under Apache or PHP-FPM) refuses a
	 * library, C header or preload header that this user could replace, directly or through its directory.
	 */
	public function testFilesTheWorkerUserCanWriteAreRefused(): void {
		if ( posix_geteuid() !== 0 || !is_executable( '/usr/bin/setpriv' ) ) {
			$this->markTestSkipped( 'needs root and setpriv to run php -S as nobody' );
		}
		$asNobody = [ '/usr/bin/setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--' ];
		$owned = "{$this->dir}/owned-by-nobody";
		mkdir( $owned, 0755 );
		$files = [ TestSupport::libraryPath() => 'librcemit.so', TestSupport::headerPath() => 'rcemit.h' ];
		foreach ( $files as $from => $to ) {
			copy( $from, "{$this->dir}/$to" );
			copy( $from, "$owned/$to" );
			chmod( "{$this->dir}/$to", 0644 );
			chmod( "$owned/$to", 0644 );
		}
		chown( $owned, 'nobody' );
		$cdef = [ 'ffi.enable' => 'true' ];

		$result = $this->request( $cdef, [ 'lib' => "{$this->dir}/librcemit.so", 'header' => "{$this->dir}/rcemit.h" ],
			$asNobody );
		$this->assertTrue( $result['library'], 'root-owned files, mode 0644 in a 0755 directory: loaded' );
		$this->assertSame( [], $result['warnings'] );
		TestSupport::stopServer( $this->server );

		$result = $this->request( $cdef, [ 'lib' => "$owned/librcemit.so", 'header' => "{$this->dir}/rcemit.h" ],
			$asNobody );
		$this->assertFalse( $result['library'] );
		$this->assertCount( 1, $result['warnings'] );
		$this->assertStringContainsString( "rcemit library $owned/librcemit.so is not safe to load: $owned is " .
			"writable by the PHP process's user nobody", $result['warnings'][0][1] );
		$this->assertStringContainsString( 'Fix:', $result['warnings'][0][1] );
		TestSupport::stopServer( $this->server );

		$result = $this->request( $cdef, [ 'lib' => "{$this->dir}/librcemit.so", 'header' => "$owned/rcemit.h" ],
			$asNobody );
		$this->assertFalse( $result['library'] );
		$this->assertStringContainsString( "rcemit C header $owned/rcemit.h is not safe to load",
			$result['warnings'][0][1] ?? '' );
		TestSupport::stopServer( $this->server );

		// The production recipe with the preload header where the worker user can write: the master would load
		// whatever FFI_LIB it names at the next restart.
		file_put_contents( "$owned/rcemit-preload.h", RcEmitLibrary::preloadHeader(
			(string)file_get_contents( TestSupport::headerPath() ), "{$this->dir}/librcemit.so" ) );
		$this->header = "$owned/rcemit-preload.h";
		$ini = $this->ini( true, true );
		unset( $ini['opcache.preload_user'] );
		$result = $this->request( $ini, [ 'preload' => 1 ], $asNobody );
		$this->assertTrue( $result['preloaded'] );
		$this->assertFalse( $result['library'] );
		$this->assertCount( 1, $result['warnings'] );
		$this->assertStringContainsString( "rcemit preload header (php.ini ffi.preload) $owned/rcemit-preload.h is " .
			"not safe to load: $owned is writable by the PHP process's user nobody", $result['warnings'][0][1] );
	}

	public function testWrapperNotPreloadedIsReportedAsRestricted(): void {
		$result = $this->request( $this->ini( true, false ), [] );
		$this->assertFalse( $result['preloaded'] );
		$this->assertFalse( $result['library'] );
		$this->assertCount( 1, $result['warnings'] );
		$this->assertStringContainsString( 'not compiled by opcache.preload', $result['warnings'][0][1] );
		$this->assertStringContainsString( 'Fix:', $result['warnings'][0][1] );
	}

	/**
	 * The fail-safe recipe (README, issue 15): no ffi.preload, only opcache.preload compiling the wrapper, which
	 * then loads the library itself with FFI::cdef() in the request.
	 */
	public function testWithoutFfiPreloadThePreloadedWrapperLoadsTheLibraryItself(): void {
		$listener = new UdpListener();
		$result = $this->request( $this->ini( false, true ), [ 'preload' => 1, 'uri' => $listener->uri( '' ),
			'rc_id' => 4343 ] );
		$this->assertTrue( $result['preloaded'] );
		$this->assertTrue( $result['library'] );
		$this->assertSame( 'cdef', $result['mode'] );
		$this->assertSame( [], $result['warnings'] );
		$got = $listener->receive( 1 );
		$listener->close();
		$this->assertSame( 4343, json_decode( $got[0] ?? '', true )['id'] ?? null );
	}
}
