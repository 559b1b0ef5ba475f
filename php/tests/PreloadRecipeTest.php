<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit\Tests;

use MediaWiki\Extension\RcEmit\RcEmitLibrary;
use PHPUnit\Framework\TestCase;

/**
 * The production recipe run for real: `php -S` (a SAPI other than cli, so ffi.enable=preload restricts the FFI
 * API) with ffi.preload naming the written preload header and opcache.preload compiling the wrapper.
 *
 * @covers \MediaWiki\Extension\RcEmit\RcEmitLibrary
 * @covers \MediaWiki\Extension\RcEmit\Emitter
 */
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
			$ini['opcache.preload'] = dirname( __DIR__ ) . '/preload.php';
			// PHP refuses to preload as root unless told which user to preload as.
			if ( function_exists( 'posix_geteuid' ) && posix_geteuid() === 0 ) {
				$ini['opcache.preload_user'] = 'nobody';
			}
		}
		return $ini;
	}

	private function request( array $ini, array $query ): array {
		$this->server = TestSupport::startServer( $ini, [ __DIR__ . '/fixtures/emitter.php' ],
			"{$this->dir}/server.log" );
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

	public function testWrapperNotPreloadedIsReportedAsRestricted(): void {
		$result = $this->request( $this->ini( true, false ), [] );
		$this->assertFalse( $result['preloaded'] );
		$this->assertFalse( $result['library'] );
		$this->assertCount( 1, $result['warnings'] );
		$this->assertStringContainsString( 'not compiled by opcache.preload', $result['warnings'][0][1] );
		$this->assertStringContainsString( 'Fix:', $result['warnings'][0][1] );
	}

	public function testScopeNotPreloadedIsReported(): void {
		$result = $this->request( $this->ini( false, true ), [ 'preload' => 1 ] );
		$this->assertTrue( $result['preloaded'] );
		$this->assertFalse( $result['library'] );
		$this->assertCount( 1, $result['warnings'] );
		$this->assertStringContainsString( 'no FFI scope "rcemit" is preloaded', $result['warnings'][0][1] );
	}
}
