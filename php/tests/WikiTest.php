<?php
/**
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit\Tests;

use MediaWiki\Extension\RcEmit\Emitter;
use MediaWiki\Extension\RcEmit\RcEmitFeed;
use PHPUnit\Framework\Attributes\CoversClass;
use PHPUnit\Framework\Attributes\Group;
use PHPUnit\Framework\TestCase;

/**
 * The extension in a real MediaWiki (1.39 on the host, 1.43 in the trixie chroot; a throwaway SQLite wiki from
 * scripts/mkwiki.sh): real edits, beside core's own JSON feed as the oracle; a broken setup never costs an edit;
 * the maintenance scripts. The wiki loads the staged copy of the extension (TestSupport::stage()), which the
 * preload user `nobody` can read wherever the checkout lives.
 *
 * @group wiki
 * @covers \MediaWiki\Extension\RcEmit\RcEmitFeed
 * @covers \MediaWiki\Extension\RcEmit\Emitter
 *
 * Metadata twice: the attributes for PHPUnit 10+ (trixie's 11.5, which deprecates doc-comment metadata and
 * ignores it where attributes exist), the annotations for PHPUnit 9.6 (bookworm), which ignores attributes.
 */
#[CoversClass( RcEmitFeed::class )]
#[CoversClass( Emitter::class )]
#[Group( 'wiki' )]
class WikiTest extends TestCase {
	/** @var string */
	private $dir;
	/** @var UdpListener[] By feed key */
	private $listeners = [];
	/** @var array|null */
	private $server = null;

	protected function setUp(): void {
		$this->dir = TestSupport::tempDir( 'wiki' );
		[ $exit, $out, $err ] = self::command( [ 'bash', TestSupport::repo() . '/scripts/mkwiki.sh', $this->dir ] );
		$this->assertSame( 0, $exit, "mkwiki.sh failed: $out$err" );
		$keys = [ 'rcemit-json', 'rcemit-dropin', 'rcemit-irc', 'rcemit-irc-iw', 'core-json', 'core-json-channel',
			'core-irc-iw' ];
		foreach ( $keys as $key ) {
			$this->listeners[$key] = new UdpListener();
		}
		$extension = var_export( TestSupport::phpDir() . '/extension.json', true );
		$library = var_export( TestSupport::libraryPath(), true );
		$header = var_export( TestSupport::headerPath(), true );
		$port = array_map( static function ( UdpListener $l ) {
			return $l->port;
		}, $this->listeners );
		file_put_contents( "{$this->dir}/extra.php", <<<PHP
<?php
wfLoadExtension( 'RcEmit', $extension );
\$wgRcEmitLibraryPath = getenv( 'RCEMIT_TEST_LIBRARY' ) ?: $library;
\$wgRcEmitHeaderPath = $header;
\$wgRCFeeds['rcemit-json'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:{$port['rcemit-json']}', 'format' => 'json', 'omit_bots' => true ];
\$wgRCFeeds['rcemit-dropin'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:{$port['rcemit-dropin']}', 'formatter' => JSONRCFeedFormatter::class,
	'channel' => '#wiki' ];
\$wgRCFeeds['rcemit-irc'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => "udp://127.0.0.1:{$port['rcemit-irc']}/#test\\t", 'format' => 'irc' ];
\$wgRCFeeds['rcemit-irc-iw'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => "udp://127.0.0.1:{$port['rcemit-irc-iw']}/#test\t",
	'formatter' => IRCColourfulRCFeedFormatter::class, 'add_interwiki_prefix' => true ];
\$wgRCFeeds['core-json'] = [ 'uri' => 'udp://127.0.0.1:{$port['core-json']}',
	'formatter' => JSONRCFeedFormatter::class ];
\$wgRCFeeds['core-json-channel'] = [ 'uri' => 'udp://127.0.0.1:{$port['core-json-channel']}',
	'formatter' => JSONRCFeedFormatter::class, 'channel' => '#wiki' ];
\$wgRCFeeds['core-irc-iw'] = [ 'uri' => "udp://127.0.0.1:{$port['core-irc-iw']}/#test\t",
	'formatter' => IRCColourfulRCFeedFormatter::class, 'add_interwiki_prefix' => true ];
\$wgLocalInterwikis = [ 'testwiki' ];

PHP
		);
	}

	protected function tearDown(): void {
		if ( $this->server ) {
			TestSupport::stopServer( $this->server );
		}
		foreach ( $this->listeners as $listener ) {
			$listener->close();
		}
		TestSupport::removeTree( $this->dir );
	}

	/**
	 * @param string[] $cmd
	 * @param string $stdin
	 * @param array $env Added to the inherited environment
	 * @return array{0:int,1:string,2:string}
	 */
	private static function command( array $cmd, string $stdin = '', array $env = [] ): array {
		$proc = proc_open( $cmd, [ 0 => [ 'pipe', 'r' ], 1 => [ 'pipe', 'w' ], 2 => [ 'pipe', 'w' ] ], $pipes,
			null, $env ? $env + getenv() : null );
		fwrite( $pipes[0], $stdin );
		fclose( $pipes[0] );
		$out = stream_get_contents( $pipes[1] );
		$err = stream_get_contents( $pipes[2] );
		fclose( $pipes[1] );
		fclose( $pipes[2] );
		return [ proc_close( $proc ), (string)$out, (string)$err ];
	}

	private function edit( string $title, string $text, array $flags = [], array $env = [] ): void {
		[ $exit, $out, $err ] = self::command( array_merge( [ "{$this->dir}/mw", 'edit.php', '--user', 'Admin',
			'--summary', "summary of $title" ], $flags, [ $title ] ), $text, $env );
		$this->assertSame( 0, $exit, "edit.php failed: $out$err" );
	}

	private function log(): string {
		return is_file( "{$this->dir}/rcemit.log" ) ? (string)file_get_contents( "{$this->dir}/rcemit.log" ) : '';
	}

	/** @return array[] JSON packets received on a listener, ordered by id */
	private function packets( string $key, int $count ): array {
		$packets = array_map( static function ( $d ) {
			return json_decode( $d, true, 32, JSON_THROW_ON_ERROR );
		}, $this->listeners[$key]->receive( $count ) );
		usort( $packets, static function ( $a, $b ) {
			return $a['id'] <=> $b['id'];
		} );
		return $packets;
	}

	public function testEditsArePublishedLikeCoresJsonFeed(): void {
		$this->edit( 'Rc emit page', "first\n" );
		$this->edit( 'Rc emit page', "second, shorter\n", [ '--minor' ] );
		$this->edit( 'Café & page', "bot text\n", [ '--bot' ] );

		$core = $this->packets( 'core-json', 3 );
		$this->assertCount( 3, $core, 'core feed (the oracle) delivered' );
		$this->assertSame( $this->packets( 'core-json-channel', 3 ), $this->packets( 'rcemit-dropin', 3 ),
			'class changed to RcEmitFeed, formatter and channel kept: same packets as core' );
		$notBots = array_values( array_filter( $core, static function ( $p ) {
			return !$p['bot'];
		} ) );
		$this->assertSame( $notBots, $this->packets( 'rcemit-json', 3 ), 'format json equals core, omit_bots' );
		$irc = $this->listeners['rcemit-irc']->receive( 3 );
		$this->assertCount( 3, $irc );
		foreach ( $irc as $line ) {
			$this->assertStringStartsWith( "#test\t \x0314[[\x0307", $line );
		}
		$coreIrc = $this->listeners['core-irc-iw']->receive( 3 );
		$this->assertCount( 3, $coreIrc );
		$this->assertStringStartsWith( "#test\t \x0314[[\x0303testwiki:\x0307", $coreIrc[0] );
		$rcemitIrc = $this->listeners['rcemit-irc-iw']->receive( 3 );
		sort( $coreIrc );
		sort( $rcemitIrc );
		$this->assertSame( $coreIrc, $rcemitIrc, 'IRC drop-in with add_interwiki_prefix: byte-identical to core' );
		$this->assertSame( '', $this->log(), 'nothing logged on the rcemit channel' );
	}

	public function testPayloadIsBuiltOncePerChange(): void {
		$this->edit( 'Once page', "text\n" );
		[ $exit, $out, $err ] = self::command( [ "{$this->dir}/mw", 'protect.php', '--user', 'Admin', 'Once page' ] );
		$this->assertSame( 0, $exit, $out . $err );
		$listener = new UdpListener();
		[ $exit, $out, $err ] = self::command( [ PHP_BINARY, __DIR__ . '/fixtures/payload-once.php',
			(string)$listener->port ], '', [ 'MW_CONFIG_FILE' => "{$this->dir}/LocalSettings.php" ] );
		$this->assertSame( 0, $exit, $out . $err );
		$this->assertSame( [
			'edit, four feeds' => [ 1, [ true, true, true, true ] ],
			// $wgRCFeeds has no xmlrc entry, so the irc feed's payload lacks the API's log params: built again.
			'log, irc then xmlrc' => [ 2, [ true, true ] ],
			'log, xmlrc then irc' => [ 1, [ true, true ] ],
		], json_decode( $out, true ), $out . $err );
		$got = $listener->receive( 8 );
		$listener->close();
		$this->assertCount( 8, $got );
		$this->assertSame( 2, count( preg_grep( '/^<rc type="log"[^>]* logtype="protect"[^>]*><logparams /', $got ) ),
			'xmlrc log rows carry the API log params' );
		$this->assertSame( '', $this->log() );
	}

	public function testUnusableEntriesAreLoggedOnceAndTheOthersWork(): void {
		file_put_contents( "{$this->dir}/extra.php", <<<'PHP'
$wgRCFeeds['bad-format'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:9', 'format' => 'html' ];
$wgRCFeeds['bad-formatter'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:9', 'formatter' => 'MyFormatter' ];
$wgRCFeeds['bad-uri'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1', 'format' => 'json' ];
$wgRCFeeds['bad-property'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:9', 'properties' => [ 'user', 'bogus' ] ];

PHP
			, FILE_APPEND );
		[ $exit, $out, $err ] = self::command( [ "{$this->dir}/mw", 'eval.php' ],
			'foreach ( [ "One", "Two" ] as $t ) { $p = MediaWiki\\MediaWikiServices::getInstance()' .
			'->getWikiPageFactory()->newFromTitle( Title::newFromText( "Batch $t" ) );' .
			' $u = $p->newPageUpdater( User::newFromName( "Admin" ) );' .
			' $u->setContent( "main", new WikitextContent( $t ) );' .
			' $u->saveRevision( CommentStoreComment::newUnsavedComment( $t ) ); }' . "\n" );
		$this->assertSame( 0, $exit, $out . $err );
		$this->assertCount( 2, $this->packets( 'rcemit-json', 2 ), 'the good feeds publish both edits' );
		$this->assertCount( 2, $this->packets( 'core-json', 2 ) );
		$log = $this->log();
		$this->assertSame( 4, substr_count( $log, 'RcEmit feed disabled in this PHP process' ), $log );
		$this->assertSame( 4, substr_count( $log, "\n" ), 'one line each, no backtrace' );
		$causes = [ 'format "html"', 'formatter MyFormatter', 'expected host:port', 'unknown xmlrc property "bogus"' ];
		foreach ( $causes as $needle ) {
			$this->assertSame( 1, substr_count( $log, $needle ), "$needle in $log" );
		}
	}

	/**
	 * A change suppressed at creation (rc_deleted != 0, T403757) never leaves as a datagram: core's
	 * notifyRCFeeds() skips it, and RcEmitFeed refuses it even when called directly, where core's own feed
	 * class would send it.
	 */
	public function testSuppressedAtCreationIsNeverPublished(): void {
		[ $exit, $out, $err ] = self::command( [ PHP_BINARY, __DIR__ . '/fixtures/suppressed.php' ], '',
			[ 'MW_CONFIG_FILE' => "{$this->dir}/LocalSettings.php" ] );
		$this->assertSame( 0, $exit, $out . $err );
		$result = json_decode( $out, true );
		$suppressed = $result['suppressed']['rc_id'] ?? null;
		$this->assertIsInt( $suppressed, $out . $err );
		$this->assertSame( 9, $result['suppressed']['rc_deleted'], 'LogPage::SUPPRESSED_ACTION in recentchanges' );
		$this->assertSame( [ 'rcemit-json' => false, 'rcemit-dropin' => false, 'rcemit-irc' => false,
			'rcemit-irc-iw' => false, 'core-json' => true, 'core-json-channel' => true, 'core-irc-iw' => true ],
			$result['direct'], 'called directly: RcEmitFeed refuses, core\'s feed class sends' );

		$ids = function ( string $key ): array {
			$ids = array_map( static function ( string $d ) {
				return (int)( json_decode( $d, true )['id'] ?? 0 );
			}, $this->listeners[$key]->receive( 3, 1.0 ) );
			sort( $ids );
			return $ids;
		};
		$this->assertSame( [ $suppressed, $result['control'] ], $ids( 'core-json' ),
			'core: the control block through notifyRCFeeds(), the suppressed one only from the direct call' );
		$this->assertSame( [ $result['control'] ], $ids( 'rcemit-json' ) );
		$this->assertSame( [ $result['control'] ], $ids( 'rcemit-dropin' ) );
		foreach ( [ 'rcemit-irc', 'rcemit-irc-iw' ] as $key ) {
			$lines = $this->listeners[$key]->receive( 2, 1.0 );
			$this->assertCount( 1, $lines, $key );
			$this->assertStringContainsString( '192.0.2.8', $lines[0] );
		}
		$this->assertSame( '', $this->log() );
	}

	/**
	 * On a private wiki RcEmit warns and stays off unless $wgRcEmitAllowPrivateWiki is true; the check runs once
	 * per process, not per change.
	 */
	public function testPrivateWikiPublishesOnlyWhenAllowed(): void {
		file_put_contents( "{$this->dir}/extra.php", "\$wgGroupPermissions['*']['read'] = false;\n", FILE_APPEND );
		$twoEdits = 'foreach ( [ "One", "Two" ] as $t ) { $p = MediaWiki\\MediaWikiServices::getInstance()' .
			'->getWikiPageFactory()->newFromTitle( Title::newFromText( "Private $t" ) );' .
			' $u = $p->newPageUpdater( User::newFromName( "Admin" ) );' .
			' $u->setContent( "main", new WikitextContent( $t ) );' .
			' $u->saveRevision( CommentStoreComment::newUnsavedComment( $t ) ); }' . "\n";
		[ $exit, $out, $err ] = self::command( [ "{$this->dir}/mw", 'eval.php' ], $twoEdits );
		$this->assertSame( 0, $exit, $out . $err );
		$this->assertCount( 2, $this->packets( 'core-json', 2 ), 'both edits saved' );
		$this->assertSame( [], $this->listeners['rcemit-json']->receive( 1, 0.5 ) );
		$this->assertSame( [], $this->listeners['rcemit-irc']->receive( 1, 0.1 ) );
		$log = $this->log();
		$this->assertSame( 1, substr_count( $log, "\n" ), "one warning for two changes and four feeds: $log" );
		$this->assertStringContainsString( 'RcEmit is disabled in this PHP process: this wiki is private', $log );
		$this->assertStringContainsString( 'Fix: if everyone who can receive the datagrams may read the wiki, set ' .
			'$wgRcEmitAllowPrivateWiki = true', $log );

		file_put_contents( "{$this->dir}/extra.php", "\$wgRcEmitAllowPrivateWiki = true;\n", FILE_APPEND );
		$this->edit( 'Private allowed', "text\n" );
		$this->assertSame( 'Private allowed', $this->packets( 'rcemit-json', 1 )[0]['title'] ?? null );
		$this->assertSame( $log, $this->log(), 'allowed: nothing more logged' );
	}

	public function testMissingLibraryWarnsOnceAndEditsSucceed(): void {
		$env = [ 'RCEMIT_TEST_LIBRARY' => '/nonexistent/librcemit.so' ];
		$this->edit( 'Broken setup page', "one\n", [], $env );
		$this->assertCount( 1, $this->packets( 'core-json', 1 ), 'the edit was saved and core published it' );
		$this->assertSame( [], $this->listeners['rcemit-json']->receive( 1, 0.5 ) );
		$log = $this->log();
		$this->assertSame( 1, substr_count( $log, 'RcEmit is disabled in this PHP process' ), $log );
		$this->assertStringContainsString( '/nonexistent/librcemit.so does not exist', $log );
		$this->assertStringContainsString( 'Fix:', $log );
		[ $exit, $out ] = self::command( [ "{$this->dir}/mw", 'getText.php', 'Broken setup page' ] );
		$this->assertSame( [ 0, 'one' ], [ $exit, trim( $out ) ] );
	}

	/**
	 * php -S serving the wiki; anonymous edits through api.php (token "+\" for anonymous users).
	 */
	private function apiEdit( array $ini, string $title, string $text ): array {
		$this->server = TestSupport::startServer( $ini, [ '-t', '/usr/share/mediawiki' ],
			"{$this->dir}/server.log", (int)file_get_contents( "{$this->dir}/port" ),
			[ 'MW_CONFIG_FILE' => "{$this->dir}/LocalSettings.php" ] + getenv() );
		$body = TestSupport::get( $this->server, [], '/api.php',
			[ 'action' => 'edit', 'title' => $title, 'text' => $text, 'token' => '+\\', 'format' => 'json' ] );
		$response = json_decode( $body, true );
		$this->assertSame( 'Success', $response['edit']['result'] ?? null,
			$body . file_get_contents( "{$this->dir}/server.log" ) );
		return $response;
	}

	public function testProductionRecipeWebEdit(): void {
		$header = "{$this->dir}/rcemit-preload.h";
		[ $exit, $out, $err ] = self::command( [ PHP_BINARY, TestSupport::phpDir() . '/maintenance/writePreloadHeader.php',
			"--out=$header" ], '', [ 'MW_CONFIG_FILE' => "{$this->dir}/LocalSettings.php" ] );
		$this->assertSame( 0, $exit, $out . $err );
		$this->assertStringContainsString( "ffi.preload=$header", $out );
		$ini = [ 'ffi.enable' => 'preload', 'ffi.preload' => $header, 'opcache.enable' => '1',
			'opcache.enable_cli' => '1', 'opcache.preload' => TestSupport::phpDir() . '/preload.php' ];
		if ( posix_geteuid() === 0 ) {
			$ini['opcache.preload_user'] = 'nobody';
		}
		$response = $this->apiEdit( $ini, 'Web page', 'from the web' );
		$core = $this->packets( 'core-json', 1 );
		$this->assertCount( 1, $core );
		$this->assertSame( $response['edit']['newrevid'], $core[0]['revision']['new'] );
		$this->assertSame( $core, $this->packets( 'rcemit-json', 1 ) );
		$this->assertSame( '', $this->log() );
	}

	public function testRestrictedFfiWarnsOnceAndWebEditsSucceed(): void {
		// php -S with Debian's defaults: ffi.enable=preload, nothing preloaded.
		$this->apiEdit( [], 'Restricted page', 'still saved' );
		$this->assertCount( 1, $this->packets( 'core-json', 1 ) );
		$this->assertSame( [], $this->listeners['rcemit-json']->receive( 1, 0.5 ) );
		$log = $this->log();
		$this->assertSame( 1, substr_count( $log, 'RcEmit is disabled in this PHP process' ), $log );
		$this->assertStringContainsString( 'not compiled by opcache.preload', $log );
	}

	public function testStatusScriptSendsTheNewestChange(): void {
		$this->edit( 'Status page', "text\n" );
		$this->assertCount( 1, $this->packets( 'rcemit-json', 1 ) );
		[ $exit, $out, $err ] = self::command( [ PHP_BINARY, TestSupport::phpDir() . '/maintenance/rcemitStatus.php',
			'--feed=rcemit-json' ], '', [ 'MW_CONFIG_FILE' => "{$this->dir}/LocalSettings.php" ] );
		$this->assertSame( 0, $exit, $out . $err );
		$this->assertStringContainsString( 'Library: ' . TestSupport::libraryPath(), $out );
		$this->assertMatchesRegularExpression( '/Sent recent change \d+ to feed "rcemit-json": queued/', $out );
		$resent = $this->packets( 'rcemit-json', 1 );
		$this->assertSame( 'Status page', $resent[0]['title'] ?? null );
		[ $exit, $out, $err ] = self::command( [ PHP_BINARY, TestSupport::phpDir() . '/maintenance/rcemitStatus.php',
			'--feed=core-json' ], '', [ 'MW_CONFIG_FILE' => "{$this->dir}/LocalSettings.php" ] );
		$this->assertNotSame( 0, $exit );
		$this->assertStringContainsString( 'RcEmit entries: rcemit-json, rcemit-dropin, rcemit-irc, rcemit-irc-iw',
			$out . $err );
	}
	/**
	 * Hook handlers that change URLs (IRCLineURL for the irc line and, since 1.41, notify_url; GetCanonicalURL
	 * for title_url) are honoured as core honours them; a formatter named by its global or MediaWiki\RCFeed\
	 * class name, or given as an object, is a drop-in.
	 */
	public function testUrlHooksAndFormatterSpellingsMatchCore(): void {
		$keys = [ 'hook-core-json', 'hook-core-irc', 'hook-rcemit-irc', 'hook-rcemit-json-ns',
			'hook-rcemit-json-obj' ];
		foreach ( $keys as $key ) {
			$this->listeners[$key] = new UdpListener();
		}
		$port = array_map( static function ( UdpListener $l ) {
			return $l->port;
		}, $this->listeners );
		file_put_contents( "{$this->dir}/extra.php", <<<PHP
\$wgHooks['IRCLineURL'][] = static function ( &\$url, &\$query, \$rc ) {
	\$url = 'https://mirror.example/w/index.php';
	\$query .= '&hooked=1';
};
\$wgHooks['GetCanonicalURL'][] = static function ( \$title, &\$url, \$query ) {
	\$url .= '?hooked=1';
};
\$wgRCFeeds['hook-core-json'] = [ 'uri' => 'udp://127.0.0.1:{$port['hook-core-json']}',
	'formatter' => JSONRCFeedFormatter::class ];
\$wgRCFeeds['hook-core-irc'] = [ 'uri' => 'udp://127.0.0.1:{$port['hook-core-irc']}',
	'formatter' => IRCColourfulRCFeedFormatter::class ];
\$wgRCFeeds['hook-rcemit-irc'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:{$port['hook-rcemit-irc']}', 'format' => 'irc' ];
\$wgRCFeeds['hook-rcemit-json-ns'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:{$port['hook-rcemit-json-ns']}',
	'formatter' => 'MediaWiki\\\\RCFeed\\\\JSONRCFeedFormatter' ];
\$wgRCFeeds['hook-rcemit-json-obj'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:{$port['hook-rcemit-json-obj']}', 'formatter' => new JSONRCFeedFormatter() ];

PHP
			, FILE_APPEND );
		$this->edit( 'Hooked page', "one\n" );
		$this->edit( 'Hooked page', "two\n" );
		$core = $this->packets( 'hook-core-json', 2 );
		$this->assertCount( 2, $core );
		$this->assertSame( $core, $this->packets( 'hook-rcemit-json-ns', 2 ), 'namespaced formatter name' );
		$this->assertSame( $core, $this->packets( 'hook-rcemit-json-obj', 2 ), 'formatter object' );
		$coreIrc = $this->listeners['hook-core-irc']->receive( 2 );
		$this->assertCount( 2, $coreIrc );
		$this->assertStringContainsString( 'https://mirror.example/w/index.php?oldid=', $coreIrc[0] );
		$this->assertSame( $coreIrc, $this->listeners['hook-rcemit-irc']->receive( 2 ), 'irc line with the hook' );
		$this->assertSame( '', $this->log(), 'nothing logged on the rcemit channel' );
	}

	/**
	 * An optional part MediaWiki fails to compute (here parsedcomment: a FormatAutocomments handler throws) is
	 * left out of the datagram, counted in part_failures and logged once per process; the edits succeed.
	 */
	public function testFailingOptionalPartIsCountedAndLoggedOnce(): void {
		$this->listeners['xmlrc-all'] = new UdpListener();
		$port = $this->listeners['xmlrc-all']->port;
		file_put_contents( "{$this->dir}/extra.php", <<<PHP
\$wgHooks['FormatAutocomments'][] = static function () {
	throw new RuntimeException( 'autocomment formatter broke' );
};
\$wgRCFeeds['xmlrc-all'] = [ 'class' => MediaWiki\Extension\RcEmit\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:$port', 'properties' => 'title|comment|parsedcomment|ids' ];

PHP
			, FILE_APPEND );
		[ $exit, $out, $err ] = self::command( [ "{$this->dir}/mw", 'eval.php' ],
			'foreach ( [ "One", "Two" ] as $t ) { $p = MediaWiki\\MediaWikiServices::getInstance()' .
			'->getWikiPageFactory()->newFromTitle( Title::newFromText( "Part $t" ) );' .
			' $u = $p->newPageUpdater( User::newFromName( "Admin" ) );' .
			' $u->setContent( "main", new WikitextContent( $t ) );' .
			' $u->saveRevision( CommentStoreComment::newUnsavedComment( "/* Section */ $t" ) ); }' .
			' $lib = MediaWiki\\Extension\\RcEmit\\RcEmitFeed::emitter()->library(); $lib->flush( 2000 );' .
			' echo "part_failures=", $lib->stats()["part_failures"], "\n";' . "\n" );
		$this->assertSame( 0, $exit, $out . $err );
		$this->assertStringContainsString( 'part_failures=2', $out );
		$got = $this->listeners['xmlrc-all']->receive( 2 );
		$this->assertCount( 2, $got );
		foreach ( $got as $element ) {
			$this->assertStringContainsString( 'comment="/* Section */', $element );
			$this->assertStringNotContainsString( 'parsedcomment=', $element );
		}
		$log = $this->log();
		$this->assertSame( 1, substr_count( $log, 'without their parsedcomment' ), $log );
		$this->assertStringContainsString( 'autocomment formatter broke', $log );
	}
}
