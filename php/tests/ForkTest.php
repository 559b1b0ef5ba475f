<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit\Tests;

use MediaWiki\Extension\RcEmit\RcEmitLibrary;
use PHPUnit\Framework\Attributes\CoversClass;
use PHPUnit\Framework\TestCase;

/**
 * A process that used the library and then forked (as PHP-FPM and Apache workers are): the child starts its
 * own sender and delivers its events; the parent keeps working.
 *
 * @covers \MediaWiki\Extension\RcEmit\RcEmitLibrary
 *
 * Metadata twice: the attributes for PHPUnit 10+ (trixie's 11.5, which deprecates doc-comment metadata and
 * ignores it where attributes exist), the annotations for PHPUnit 9.6 (bookworm), which ignores attributes.
 */
#[CoversClass( RcEmitLibrary::class )]
class ForkTest extends TestCase {
	public function testChildDeliversItsEvents(): void {
		$listener = new UdpListener();
		[ $exit, $out, $err ] = TestSupport::runPhp( [], __DIR__ . '/fixtures/fork.php', [ json_encode( [
			'lib' => TestSupport::libraryPath(), 'header' => TestSupport::headerPath(), 'uri' => $listener->uri(),
		] ) ] );
		$this->assertSame( 0, $exit, $out . $err );
		$codes = json_decode( $out, true );
		$this->assertSame( [ 'parent_before' => 7100, 'child_exit' => 0, 'parent_after' => 7100,
			'parent_flush' => 7100 ], $codes );
		$ids = array_map( static function ( $d ) {
			return json_decode( $d, true )['id'];
		}, $listener->receive( 3 ) );
		$listener->close();
		sort( $ids );
		$this->assertSame( [ 1, 2, 3 ], $ids );
	}
}
