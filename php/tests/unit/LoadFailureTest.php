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
 * Every way the library can be unusable, each in a fresh PHP process: one warning on the rcemit channel naming
 * the cause and the fix, nothing thrown, and silence afterwards.
 *
 * @covers \MediaWiki\Extension\RcEmit\Emitter
 * @covers \MediaWiki\Extension\RcEmit\RcEmitLibrary
 *
 * Metadata twice: the attributes for PHPUnit 10+ (trixie's 11.5, which deprecates doc-comment metadata and
 * ignores it where attributes exist), the annotations for PHPUnit 9.6 (bookworm), which ignores attributes.
 */
#[CoversClass( Emitter::class )]
#[CoversClass( RcEmitLibrary::class )]
class LoadFailureTest extends TestCase {
	private static function runFixture( array $params, array $ini = [], bool $noIni = false ): array {
		$params += [ 'lib' => TestSupport::libraryPath(), 'header' => TestSupport::headerPath(),
			'uri' => 'udp://127.0.0.1:9' ];
		[ $exit, $out, $err ] = TestSupport::runPhp( $ini, dirname( __DIR__ ) . '/fixtures/emitter.php',
			[ json_encode( $params ) ], $noIni );
		$result = json_decode( $out, true );
		if ( $exit !== 0 || !is_array( $result ) ) {
			throw new \RuntimeException( "fixture failed (exit $exit):\n$out\n$err" );
		}
		return $result;
	}

	private function assertOneWarning( array $result, string ...$needles ): void {
		$this->assertArrayNotHasKey( 'exception', $result );
		$this->assertCount( 1, $result['warnings'], json_encode( $result['warnings'] ) );
		[ $level, $message ] = $result['warnings'][0];
		$this->assertSame( 'warning', $level );
		$this->assertStringContainsString( 'Fix:', $message );
		foreach ( $needles as $needle ) {
			$this->assertStringContainsString( $needle, $message );
		}
	}

	public function testWorkingSetupLogsNothing(): void {
		$result = self::runFixture( [] );
		$this->assertTrue( $result['library'] );
		$this->assertSame( 'cdef', $result['mode'] );
		$this->assertSame( 7100, $result['code'] );
		$this->assertSame( [], $result['warnings'] );
	}

	public function testMissingLibrary(): void {
		$result = self::runFixture( [ 'lib' => '/nonexistent/librcemit.so' ] );
		$this->assertFalse( $result['library'] );
		$this->assertOneWarning( $result, '/nonexistent/librcemit.so does not exist', 'cargo build --release' );
	}

	public function testRelativeLibraryPath(): void {
		$result = self::runFixture( [ 'lib' => 'target/release/librcemit.so' ] );
		$this->assertOneWarning( $result, 'not absolute', '$wgRcEmitLibraryPath' );
	}

	public function testRelativeHeaderPath(): void {
		$result = self::runFixture( [ 'header' => 'include/rcemit.h' ] );
		$this->assertFalse( $result['library'] );
		$this->assertOneWarning( $result, 'header path "include/rcemit.h" is not absolute', '$wgRcEmitHeaderPath' );
	}

	/**
	 * The CLI refuses files anyone may replace (world-writable file or directory above it; a sticky directory
	 * such as /tmp is fine). Writable by the process's own user is allowed here: see PreloadRecipeTest.
	 */
	public function testWorldWritableLibraryOrHeaderIsRefused(): void {
		$dir = TestSupport::tempDir( 'writable' );
		try {
			$lib = "$dir/librcemit.so";
			$header = "$dir/rcemit.h";
			copy( TestSupport::libraryPath(), $lib );
			copy( TestSupport::headerPath(), $header );
			chmod( $lib, 0755 );
			chmod( $header, 0644 );
			$params = [ 'lib' => $lib, 'header' => $header ];

			chmod( $dir, 0777 );
			$result = self::runFixture( $params );
			$this->assertFalse( $result['library'] );
			$this->assertOneWarning( $result, "rcemit library $lib is not safe to load: $dir is writable by every " .
				'user (mode 0777)', 'chmod go-w', '$wgRcEmitLibraryPath' );

			chmod( $dir, 01777 );
			$this->assertSame( [], self::runFixture( $params )['warnings'], 'a sticky directory is fine' );

			chmod( $dir, 0755 );
			chmod( $header, 0666 );
			$result = self::runFixture( $params );
			$this->assertFalse( $result['library'] );
			$this->assertOneWarning( $result, "rcemit C header $header is not safe to load: it is writable by every " .
				'user (mode 0666)', '$wgRcEmitHeaderPath' );

			chmod( $header, 0644 );
			$result = self::runFixture( $params );
			$this->assertTrue( $result['library'] );
			$this->assertSame( [], $result['warnings'], 'writable by its owner (this CLI user) only: loaded' );
		} finally {
			TestSupport::removeTree( $dir );
		}
	}

	public function testFileThatIsNotALibrary(): void {
		$result = self::runFixture( [ 'lib' => __FILE__ ] );
		$this->assertOneWarning( $result, 'could not load the rcemit library', __FILE__ );
	}

	public function testMissingHeader(): void {
		$result = self::runFixture( [ 'header' => '/nonexistent/rcemit.h' ] );
		$this->assertOneWarning( $result, '/nonexistent/rcemit.h', '$wgRcEmitHeaderPath' );
	}

	public function testLibraryOfAnotherPayloadVersion(): void {
		$dir = TestSupport::tempDir( 'version' );
		try {
			$lib = "$dir/librcemit.so";
			$cmd = sprintf( 'cc -shared -fPIC -Wall -Werror -DRCEMIT_HEADER=%s -o %s %s 2>&1',
				escapeshellarg( '"' . TestSupport::headerPath() . '"' ), escapeshellarg( $lib ),
				escapeshellarg( dirname( __DIR__ ) . '/fixtures/wrong-version.c' ) );
			exec( $cmd, $output, $exit );
			$this->assertSame( 0, $exit, implode( "\n", $output ) );
			$result = self::runFixture( [ 'lib' => $lib ] );
			$this->assertFalse( $result['library'] );
			$this->assertOneWarning( $result, "$lib (version 99.0.0) reads payload version 99",
				'this extension builds version 3', 'same rcemit checkout' );
		} finally {
			TestSupport::removeTree( $dir );
		}
	}

	public function testFfiDisabled(): void {
		$result = self::runFixture( [], [ 'ffi.enable' => '0' ] );
		$this->assertOneWarning( $result, 'ffi.enable=0' );
	}

	public function testFfiExtensionAbsent(): void {
		// -n: no php.ini, so the shared FFI extension is not loaded.
		$result = self::runFixture( [], [], true );
		$this->assertOneWarning( $result, 'FFI extension is not loaded' );
	}

	public function testRejectedFeedDisablesOnlyThatFeed(): void {
		$result = self::runFixture( [ 'uri' => 'udp://127.0.0.1' ] );
		$this->assertTrue( $result['library'] );
		$this->assertNull( $result['handle'] );
		$this->assertOneWarning( $result, 'rejected the feed configuration', 'udp://127.0.0.1' );
	}
}
