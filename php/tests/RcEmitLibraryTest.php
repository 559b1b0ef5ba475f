<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit\Tests;

use MediaWiki\Extension\RcEmit\RcEmitException;
use MediaWiki\Extension\RcEmit\RcEmitLibrary;
use PHPUnit\Framework\Attributes\CoversClass;
use PHPUnit\Framework\TestCase;

/**
 * The FFI wrapper in this (CLI) process: FFI::cdef loading, feeds, emitting, stats, errors.
 *
 * @covers \MediaWiki\Extension\RcEmit\RcEmitLibrary
 *
 * Metadata twice: the attributes for PHPUnit 10+ (trixie's 11.5, which deprecates doc-comment metadata and
 * ignores it where attributes exist), the annotations for PHPUnit 9.6 (bookworm), which ignores attributes.
 */
#[CoversClass( RcEmitLibrary::class )]
class RcEmitLibraryTest extends TestCase {
	private static function library(): RcEmitLibrary {
		return RcEmitLibrary::load( TestSupport::libraryPath(), TestSupport::headerPath() );
	}

	public function testCliLoadsWithCdefAndChecksPayloadVersion(): void {
		$library = self::library();
		$this->assertSame( 'cdef', $library->mode() );
		$this->assertSame( TestSupport::libraryPath(), $library->libraryPath() );
		$this->assertMatchesRegularExpression( '/^\d+\.\d+\.\d+/', $library->version() );
		$this->assertSame( $library, self::library(), 'loaded once per process' );
	}

	public function testEmitDeliversOneDatagramPerEvent(): void {
		$library = self::library();
		$listener = new UdpListener();
		$feed = $library->openFeed( [ 'uri' => $listener->uri(), 'format' => 'json', 'wiki_id' => 'testwiki',
			'canonical_server' => 'http://127.0.0.1', 'server_name' => '127.0.0.1', 'script_path' => '/w' ] );
		$title = "Caf\u{e9} <&> \u{1F600}";
		$this->assertSame( RcEmitLibrary::RESULT_OK,
			$library->emit( $feed, TestSupport::payload( [ 'rc_id' => 41, 'title' => $title ] ) ) );
		$this->assertSame( RcEmitLibrary::RESULT_OK,
			$library->emit( $feed, TestSupport::payload( [ 'rc_id' => 42, 'user' => '192.0.2.1', 'user_id' => 0 ] ) ) );
		$this->assertSame( RcEmitLibrary::RESULT_OK, $library->flush( 2000 ) );
		$got = $listener->receive( 2 );
		$listener->close();
		$this->assertCount( 2, $got );
		$packets = array_map( static function ( $d ) {
			return json_decode( $d, true, 16, JSON_THROW_ON_ERROR );
		}, $got );
		usort( $packets, static function ( $a, $b ) {
			return $a['id'] <=> $b['id'];
		} );
		$this->assertSame( [ 41, 'edit', $title, 'Admin', 'testwiki', '/w' ], [ $packets[0]['id'],
			$packets[0]['type'], $packets[0]['title'], $packets[0]['user'], $packets[0]['wiki'],
			$packets[0]['server_script_path'] ] );
		$this->assertSame( 42, $packets[1]['id'] );
		$this->assertSame( '192.0.2.1', $packets[1]['user'] );
	}

	public function testSameConfigurationCanBeOpenedAgain(): void {
		$library = self::library();
		$config = [ 'uri' => 'udp://127.0.0.1:9', 'format' => 'irc' ];
		$this->assertIsInt( $library->openFeed( $config ) );
		$this->assertIsInt( $library->openFeed( $config ) );
	}

	public function testRejectedConfigurationExplainsItself(): void {
		$library = self::library();
		try {
			$library->openFeed( [ 'uri' => 'tcp://127.0.0.1:9390', 'format' => 'json' ] );
			$this->fail( 'a tcp:// uri must be rejected' );
		} catch ( RcEmitException $e ) {
			$this->assertStringContainsString( 'rejected the feed configuration', $e->getMessage() );
			$this->assertStringContainsString( 'uri', $e->getMessage() );
			$this->assertStringContainsString( 'Fix:', $e->getMessage() );
		}
		try {
			$library->openFeed( [ 'uri' => 'udp://127.0.0.1:9390', 'format' => 'html' ] );
			$this->fail( 'an unknown format must be rejected' );
		} catch ( RcEmitException $e ) {
			$this->assertStringContainsString( 'html', $e->getMessage() );
		}
	}

	public function testMalformedPayloadsAreCountedNotSent(): void {
		$library = self::library();
		$listener = new UdpListener();
		$feed = $library->openFeed( [ 'uri' => $listener->uri(), 'format' => 'json' ] );
		$before = $library->stats()['invalid_payload'];
		$bad = [ '', 'RCE', "RCE\x01" . substr( TestSupport::payload(), 4 ), substr( TestSupport::payload(), 0, -3 ),
			TestSupport::payload() . 'x', TestSupport::payload( [ 'timestamp' => '2026132100000' ] ) ];
		foreach ( $bad as $payload ) {
			$this->assertSame( RcEmitLibrary::RESULT_OK, $library->emit( $feed, $payload ) );
		}
		$this->assertSame( RcEmitLibrary::RESULT_OK, $library->flush( 2000 ) );
		$this->assertSame( $before + count( $bad ), $library->stats()['invalid_payload'] );
		$this->assertSame( [], $listener->receive( 1, 0.3 ) );
		$listener->close();
	}

	public function testStatsAreCountersThatMove(): void {
		$library = self::library();
		$before = $library->stats();
		$this->assertNotEmpty( $before );
		foreach ( $before as $name => $value ) {
			$this->assertIsString( $name );
			$this->assertIsInt( $value );
		}
		$listener = new UdpListener();
		$feed = $library->openFeed( [ 'uri' => $listener->uri(), 'format' => 'json' ] );
		$library->emit( $feed, TestSupport::payload() );
		$library->flush( 2000 );
		$this->assertCount( 1, $listener->receive( 1 ) );
		$listener->close();
		$after = $library->stats();
		$this->assertSame( array_keys( $before ), array_keys( $after ) );
		$this->assertGreaterThan( array_sum( $before ), array_sum( $after ) );
	}

	public function testResultMessages(): void {
		$library = self::library();
		$this->assertNotSame( '', $library->resultMessage( RcEmitLibrary::RESULT_OK ) );
		$this->assertNotSame( '', $library->resultMessage( 1 ) );
	}

	public function testPreloadHeaderStartsWithScopeAndAbsoluteLibrary(): void {
		$text = RcEmitLibrary::preloadHeader( (string)file_get_contents( TestSupport::headerPath() ),
			TestSupport::libraryPath() );
		$lines = explode( "\n", $text );
		$this->assertSame( '#define FFI_SCOPE "rcemit"', $lines[0] );
		$this->assertSame( '#define FFI_LIB "' . TestSupport::libraryPath() . '"', $lines[1] );
		$this->assertStringNotContainsString( '#include', $text );
		$this->expectException( RcEmitException::class );
		RcEmitLibrary::preloadHeader( 'x', 'target/release/librcemit.so' );
	}
}
