<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit\Tests;

use MediaWiki\Extension\RcEmit\Emitter;
use MediaWiki\Extension\RcEmit\RcEmitException;
use MediaWiki\Extension\RcEmit\RcEmitLibrary;
use PHPUnit\Framework\Attributes\CoversClass;
use PHPUnit\Framework\TestCase;

/**
 * What an admin reads (issue 15): a rejected feed in one short line naming the entry and the option, and a
 * destination that cannot be resolved or reached logged once per process and destination. The web servers'
 * side of the same is tests/admin/admin_test.py (make test-admin).
 *
 * @covers \MediaWiki\Extension\RcEmit\Emitter
 * @covers \MediaWiki\Extension\RcEmit\RcEmitLibrary
 *
 * Metadata twice, as the other tests: attributes for PHPUnit 10+ (trixie), annotations for PHPUnit 9.6.
 */
#[CoversClass( Emitter::class )]
#[CoversClass( RcEmitLibrary::class )]
class AdminPathTest extends TestCase {
	private static function library(): RcEmitLibrary {
		return RcEmitLibrary::load( TestSupport::libraryPath(), TestSupport::headerPath() );
	}

	public function testRejectedFeedIsOneShortLineNamingEntryAndOption(): void {
		$cases = [
			[ [ 'uri' => 'udp://nohost' ], "option 'uri'", 'expected host:port' ],
			[ [ 'uri' => 'udp://127.0.0.1:9', 'xmlrc_properties' => 'user|bogus' ], "option 'properties'",
				'bogus' ],
			[ [ 'uri' => 'udp://127.0.0.1:9', 'max_datagram' => 5 ], "option 'max_datagram'", '64' ],
			[ [ 'uri' => 'udp://127.0.0.1:9', 'canonical_server' => 42 ], '$wgCanonicalServer', '' ],
		];
		foreach ( $cases as [ $config, $option, $reason ] ) {
			try {
				self::library()->openFeed( $config + [ 'wiki_id' => 'w' ], "\$wgRCFeeds['irc-relay']" );
				$this->fail( 'rejected: ' . json_encode( $config ) );
			} catch ( RcEmitException $e ) {
				$message = $e->getMessage();
				$this->assertStringContainsString( "\$wgRCFeeds['irc-relay'], $option", $message );
				$this->assertStringContainsString( $reason, $message );
				$this->assertStringContainsString( 'Fix:', $message );
				$this->assertStringNotContainsString( '{"', $message, 'no configuration JSON' );
				$this->assertStringNotContainsString( 'rcemit_last_error', $message );
				$this->assertLessThan( 260, strlen( $message ), $message );
				$this->assertStringNotContainsString( "\n", $message );
			}
		}
	}

	/** @return array{0:Emitter,1:CollectingLogger} */
	private static function emitter(): array {
		$logger = new CollectingLogger();
		return [ new Emitter( TestSupport::libraryPath(), TestSupport::headerPath(), $logger ), $logger ];
	}

	private static function emitTo( Emitter $emitter, string $uri, int $times ): void {
		$handle = $emitter->feed( $uri, static function () use ( $uri ) {
			return [ 'uri' => $uri, 'format' => 'json', 'wiki_id' => 'adminwiki' ];
		} );
		for ( $i = 1; $i <= $times; $i++ ) {
			$emitter->library()->emit( $handle, TestSupport::payload( [ 'rc_id' => $i ] ) );
			$emitter->library()->flush( 3000 );
		}
	}

	public function testUnresolvableHostIsLoggedOncePerProcessAndDestination(): void {
		$uri = 'udp://rcemit-admin-' . bin2hex( random_bytes( 4 ) ) . '.invalid:9390';
		[ $emitter, $logger ] = self::emitter();
		self::emitTo( $emitter, $uri, 1 );
		$emitter->checkDestinations();
		$lines = array_column( $logger->records, 1 );
		$this->assertCount( 1, $lines, implode( "\n", $lines ) );
		$this->assertStringContainsString( "RcEmit cannot deliver to the feed for $uri", $lines[0] );
		$this->assertStringContainsString( 'does not resolve', $lines[0] );
		$emitter->checkDestinations();
		$this->assertCount( 1, $logger->records, 'once per Emitter' );

		// A new Emitter is what the next request of the same web worker gets: PHP forgot, the library did not.
		[ $next, $nextLogger ] = self::emitter();
		self::emitTo( $next, $uri, 1 );
		$next->checkDestinations();
		$this->assertSame( [], $nextLogger->records, 'once per process' );
	}

	public function testUnreachableDestinationIsLoggedOnce(): void {
		$listener = new UdpListener();
		$uri = $listener->uri();
		$listener->close();
		[ $emitter, $logger ] = self::emitter();
		// The ICMP "port unreachable" of one datagram fails the next send.
		self::emitTo( $emitter, $uri, 3 );
		$this->assertGreaterThan( 0, $emitter->library()->stats()['send_errors'] );
		$emitter->checkDestinations();
		$lines = array_values( array_filter( array_column( $logger->records, 1 ), static function ( $l ) use ( $uri ) {
			return strpos( $l, 'sending datagrams failed' ) !== false && strpos( $l, $uri ) !== false;
		} ) );
		$this->assertCount( 1, $lines, json_encode( $logger->records ) );
		[ $next, $nextLogger ] = self::emitter();
		self::emitTo( $next, $uri, 1 );
		$next->checkDestinations();
		$this->assertSame( [], $nextLogger->records );
	}
}
