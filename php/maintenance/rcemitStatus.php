<?php
/**
 * Shows the RcEmit library's status and counters; with --feed, sends a recent change to one RcEmit feed.
 *
 *     MW_INSTALL_PATH=/usr/share/mediawiki php php/maintenance/rcemitStatus.php [--feed=KEY [--rcid=N]]
 *
 * This shows the CLI's own PHP process. The web workers' view (load mode, library, counters) is the API module
 * action=rcemitstatus (right rcemit-status, sysops by default). With --preload-header=FILE (a legacy
 * ffi.preload header) it also says when the web would load another library than $wgRcEmitLibraryPath.
 * Exits non-zero when RcEmit is disabled, the feed or the change does not exist, or the libraries differ.
 *
 * @license GPL-2.0-or-later
 */

namespace MediaWiki\Extension\RcEmit\Maintenance;

use DatabaseLogEntry;
use Maintenance;
use MediaWiki\Extension\RcEmit\MediaWikiCompat;
use MediaWiki\Extension\RcEmit\RcEmitFeed;
use MediaWiki\Extension\RcEmit\RcEmitLibrary;
use RecentChange;

$IP = getenv( 'MW_INSTALL_PATH' );
if ( $IP === false ) {
	$IP = is_file( '/usr/share/mediawiki/maintenance/Maintenance.php' )
		? '/usr/share/mediawiki' : __DIR__ . '/../../../..';
}
require_once "$IP/maintenance/Maintenance.php";

class RcEmitStatus extends Maintenance {
	public function __construct() {
		parent::__construct();
		$this->requireExtension( 'RcEmit' );
		$this->addDescription( 'Shows the RcEmit library\'s status and counters, and can send the newest ' .
			'(or a given) recent change to one RcEmit feed as a test event.' );
		$this->addOption( 'feed', 'Key of an RcEmit entry in $wgRCFeeds to send a recent change to', false, true );
		$this->addOption( 'rcid', 'rc_id of the recent change to send with --feed (default: the newest)',
			false, true );
		$this->addOption( 'preload-header', 'A php.ini ffi.preload header (legacy recipe): compare its FFI_LIB ' .
			'with $wgRcEmitLibraryPath', false, true );
		$this->addOption( 'timeout', 'Milliseconds to wait for the queue to drain before the counters ' .
			'are printed (default 2000)', false, true );
	}

	public function execute() {
		if ( $this->hasOption( 'rcid' ) && !$this->hasOption( 'feed' ) ) {
			$this->fatalError( wfMessage( 'rcemit-maint-stats-rcid-needs-feed' )->text() );
		}
		$rcid = $this->getOption( 'rcid' );
		if ( $rcid !== null && !preg_match( '/^[1-9][0-9]*$/', (string)$rcid ) ) {
			$this->fatalError( wfMessage( 'rcemit-maint-stats-norc', $rcid )->text() );
		}
		$mismatch = $this->compareWithPreloadHeader();
		$emitter = RcEmitFeed::emitter();
		$library = $emitter->library();
		if ( !$library ) {
			$this->fatalError( wfMessage( 'rcemit-maint-stats-disabled', $emitter->lastWarning() )->text() );
		}
		$this->output( wfMessage( 'rcemit-maint-stats-library', $library->libraryPath(), $library->version(),
			$library->mode() )->text() . "\n" );

		$key = $this->getOption( 'feed' );
		if ( $key !== null ) {
			$this->sendTo( $key, $library );
		}
		$library->flush( (int)$this->getOption( 'timeout', 2000 ) );
		foreach ( $library->stats() as $name => $value ) {
			$this->output( sprintf( "%-24s %s\n", $name, $value ) );
		}
		$this->output( wfMessage( 'rcemit-maint-stats-web-hint' )->text() . "\n" );
		if ( $mismatch !== null ) {
			$this->fatalError( $mismatch );
		}
	}

	/** @return string|null The mismatch warning, when --preload-header names another library */
	private function compareWithPreloadHeader(): ?string {
		$header = $this->getOption( 'preload-header' );
		if ( $header === null ) {
			return null;
		}
		$head = @file_get_contents( $header, false, null, 0, 4096 );
		if ( $head === false || !preg_match( '/^#define FFI_LIB "([^"]+)"/m', $head, $m ) ) {
			$this->fatalError( "Cannot read FFI_LIB from $header." );
		}
		$repo = dirname( __DIR__, 2 );
		$configured = $this->getConfig()->get( 'RcEmitLibraryPath' ) ?? "$repo/target/release/librcemit.so";
		$same = $m[1] === $configured
			|| ( realpath( $m[1] ) !== false && realpath( $m[1] ) === realpath( $configured ) );
		return $same ? null : wfMessage( 'rcemit-maint-stats-web-mismatch', $header, $m[1], $configured )->text();
	}

	private function sendTo( string $key, RcEmitLibrary $library ): void {
		$feeds = array_filter( $this->getConfig()->get( 'RCFeeds' ), static function ( $params ) {
			return is_array( $params ) && ( $params['class'] ?? null ) === RcEmitFeed::class;
		} );
		if ( !isset( $feeds[$key] ) ) {
			$this->fatalError( wfMessage( 'rcemit-maint-stats-nofeed', $key,
				implode( ', ', array_keys( $feeds ) ) ?: '-' )->text() );
		}
		$rcid = $this->getOption( 'rcid' );
		$dbr = $this->getDB( DB_REPLICA );
		$query = RecentChange::getQueryInfo();
		$row = $dbr->selectRow( $query['tables'], $query['fields'],
			$rcid === null ? [] : [ 'rc_id' => (int)$rcid ], __METHOD__,
			[ 'ORDER BY' => 'rc_id DESC' ], $query['joins'] );
		if ( !$row ) {
			$this->fatalError( wfMessage( 'rcemit-maint-stats-norc', $rcid ?? 'newest' )->text() );
		}
		if ( (int)$row->rc_deleted !== 0 ) {
			// RcEmitFeed refuses suppressed changes without logging anything; say why here.
			$outcome = 'not sent: the change is suppressed (rc_deleted is set), so it is never published';
		} else {
			$rc = RecentChange::newFromRow( $row );
			$feed = new RcEmitFeed( $feeds[$key] );
			$outcome = $feed->notify( $rc, self::actionComment( $rc ) )
				? 'queued' : 'not queued (see the rcemit log channel)';
		}
		$this->output( wfMessage( 'rcemit-maint-stats-sent', $row->rc_id, $key, $outcome )->text() . "\n" );
	}

	/** The IRC action comment core passes for log rows (it is not stored, so it is rebuilt from the log). */
	private static function actionComment( RecentChange $rc ): ?string {
		if ( (int)$rc->getAttribute( 'rc_type' ) !== RC_LOG ) {
			return null;
		}
		$entry = DatabaseLogEntry::newFromId( (int)$rc->getAttribute( 'rc_logid' ),
			MediaWikiCompat::replicaDatabase() );
		return $entry ? MediaWikiCompat::logFormatterFromEntry( $entry )->getIRCActionComment() : null;
	}
}

$maintClass = RcEmitStatus::class;
require_once RUN_MAINTENANCE_IF_MAIN;
