<?php
/**
 * Makes real edits through MediaWiki's PageUpdater, in one process (no HTTP, no boot per edit), so a benchmark
 * wiki gets thousands of recentchanges rows the way an editor's saves make them: revision, page, RecentChange
 * (with its feeds and hooks) and the deferred updates, committed edit by edit.
 *
 * Usage: MW_CONFIG_FILE=DIR/LocalSettings.php php tests/relay/bulkEdits.php --count N [--pages P]
 */

use MediaWiki\MediaWikiServices;
use MediaWiki\Revision\SlotRecord;

require_once ( getenv( 'MW_INSTALL_PATH' ) ?: '/usr/share/mediawiki' ) . '/maintenance/Maintenance.php';

class BulkEdits extends Maintenance {
	public function __construct() {
		parent::__construct();
		$this->addDescription( 'Real edits through PageUpdater, round-robin over a few pages' );
		$this->addOption( 'count', 'How many edits', true, true );
		$this->addOption( 'pages', 'Over how many pages (default 50)', false, true );
	}

	public function execute() {
		$count = (int)$this->getOption( 'count' );
		$pages = max( 1, (int)$this->getOption( 'pages', 50 ) );
		$services = MediaWikiServices::getInstance();
		$user = User::newSystemUser( 'Bulk editor', [ 'steal' => true ] );
		$factory = $services->getWikiPageFactory();
		$lbFactory = $services->getDBLoadBalancerFactory();
		for ( $i = 0; $i < $count; $i++ ) {
			$title = Title::makeTitle( NS_MAIN, 'Bulk page ' . ( $i % $pages ) );
			$updater = $factory->newFromTitle( $title )->newPageUpdater( $user );
			$updater->setContent( SlotRecord::MAIN, new WikitextContent( "Revision $i of a bulk edit." ) );
			$updater->saveRevision( CommentStoreComment::newUnsavedComment( "bulk edit $i" ) );
			if ( !$updater->wasSuccessful() ) {
				$this->fatalError( "edit $i failed: " . $updater->getStatus()->getWikiText() );
			}
			DeferredUpdates::doUpdates();
			$lbFactory->commitPrimaryChanges( __METHOD__ );
			if ( ( $i + 1 ) % 1000 === 0 ) {
				$this->output( ( $i + 1 ) . " edits\n" );
			}
		}
	}
}

$maintClass = BulkEdits::class;
require_once RUN_MAINTENANCE_IF_MAIN;
